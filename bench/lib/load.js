"use strict";
/**
 * Load generators. Both run as their own process (pinned with taskset when the runner can), so
 * neither steals the server's core, and both report the same shape:
 *   { requests, durationS, rps, p50us, p99us, non2xx, errors }
 * wrk is a C client and much lighter than autocannon (a Node process); it is preferred when
 * installed. autocannon is driven through its JS API in bench/lib/autocannon-child.js.
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawn, spawnSync } = require("node:child_process");

function hasCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

function wrkVersion() {
  const r = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  return (r.stdout + r.stderr).split("\n")[0].trim();
}

function luaString(s) {
  return JSON.stringify(s); // a JSON string of ASCII is a valid Lua string literal
}

/**
 * The Lua script for one request shape; `done` prints one JSON line with the exact counts and
 * percentiles (µs), so nothing depends on wrk's human-readable, unit-scaled summary.
 * @param {{method?: string, bodyBytes?: number, headers?: Record<string,string>, padHeaderBytes?: number}} req
 */
function wrkScript(req) {
  const lines = [];
  if (req.method && req.method !== "GET") lines.push(`wrk.method = ${luaString(req.method)}`);
  if (req.bodyBytes) {
    lines.push(`wrk.body = string.rep("a", ${req.bodyBytes})`);
    lines.push(`wrk.headers["Content-Type"] = "application/octet-stream"`);
  }
  for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (req.padHeaderBytes) lines.push(`wrk.headers["X-Bench-Pad"] = string.rep("p", ${req.padHeaderBytes})`);
  if (req.distinctPaths) {
    // Each request a different URL-path (the base plus a letter suffix), cycling through more
    // paths than the map phase's route cache holds: every request is routed from scratch.
    lines.push(
      "local letters, n = \"abcdefghijklmnopqrstuvwxyz\", 0",
      "local function suffix(k) local s = \"\" repeat local d = k % 26; s = s .. letters:sub(d + 1, d + 1); k = math.floor(k / 26) until k == 0 return s end",
      `request = function() n = (n + 1) % ${req.distinctPaths}; return wrk.format(nil, ${luaString(req.path)} .. suffix(n)) end`,
    );
  }
  lines.push(
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    '  io.write(string.format(\'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p99":%.1f}\\n\',',
    "    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,",
    "    latency:percentile(50), latency:percentile(99)))",
    "end",
  );
  return `${lines.join("\n")}\n`;
}

/** Parses wrk's stdout (with our `done` hook) into the common result shape. */
function parseWrkOutput(stdout) {
  const line = stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (!line) throw new Error(`wrk printed no summary: ${stdout.trim().slice(-300)}`);
  const j = JSON.parse(line.slice(8));
  const durationS = j.duration_us / 1e6;
  return {
    requests: j.requests,
    durationS,
    rps: j.requests / durationS,
    p50us: j.p50,
    p99us: j.p99,
    // wrk counts every response outside 2xx/3xx as a status error.
    non2xx: j.status,
    errors: j.connect + j.read + j.write + j.timeout,
  };
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args.join(" ").slice(0, 120)} exited ${code ?? signal}: ${(err || out).trim().slice(-300)}`));
    });
  });
}

/**
 * One measurement.
 * @param {object} o
 * @param {"wrk"|"autocannon"} o.tool
 * @param {string} o.url
 * @param {number} o.connections
 * @param {number} o.durationS
 * @param {object} o.request     { method, bodyBytes, padHeaderBytes }
 * @param {string[]} o.pin       command prefix, e.g. ["taskset", "-c", "1"] or []
 * @param {string} o.tmpDir      where wrk's Lua script is written
 */
async function measure(o) {
  const timeoutMs = (o.durationS + 30) * 1000;
  if (o.tool === "wrk") {
    const script = path.join(o.tmpDir, `wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`);
    fs.writeFileSync(script, wrkScript(o.request));
    try {
      const argv = [...o.pin, "wrk", "-t1", `-c${o.connections}`, `-d${o.durationS}s`, "--timeout", "10s", "-s", script, o.url];
      return parseWrkOutput(await run(argv[0], argv.slice(1), timeoutMs));
    } finally {
      fs.rmSync(script, { force: true });
    }
  }
  const spec = JSON.stringify({ url: o.url, connections: o.connections, durationS: o.durationS, request: o.request });
  const argv = [...o.pin, process.execPath, path.join(__dirname, "autocannon-child.js"), spec];
  const out = await run(argv[0], argv.slice(1), timeoutMs);
  return JSON.parse(out.trim().split("\n").pop());
}

module.exports = { hasCommand, wrkVersion, wrkScript, parseWrkOutput, measure };
