#!/usr/bin/env node
"use strict";
/**
 * `npm run bench [-- options]`: every server in its own process pinned to one core, the load
 * generator on the other, warm-up, then alternating rounds (A B C … then … C B A) so drift
 * cancels; median req/s, p50/p99 latency, server CPU µs per request from /proc; writes
 * bench/RESULTS.md (or results-quick.md for --quick). Rows that cannot run say why and the run
 * carries on.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");
const { spawnSync } = require("node:child_process");
const { parseArgs } = require("node:util");

const plan = require("./plan");
const { startServer, detectApache, request, sleep, DidNotStart, ROOT } = require("./lib/servers");
const { hasCommand, wrkVersion, measure } = require("./lib/load");
const { treeCpuSeconds, cpuCounters, cpuShares } = require("./lib/proc");
const { median } = require("./lib/stats");
const { renderReport } = require("./lib/report");

/** bench/LIMITS.md (the hand-written analysis the report carries), or null. */
function readLimits() {
  try {
    return fs.readFileSync(path.join(__dirname, "LIMITS.md"), "utf8");
  } catch {
    return null;
  }
}
const { uploadCheck } = require("./lib/upload");

const USAGE = `Usage: npm run bench -- [options]
  --quick              2 s rounds, 2 rounds, 1 s warm-up, a subset of rows (about a minute)
  --rows LIST          only rows whose id contains one of the comma-separated words (the streamed
                       uploads are upload, upload-worker and upload-daemon1: "upload" runs all three)
  --tool wrk|autocannon  force the load generator (default: wrk when installed)
  --duration S         seconds per measurement round (default 5, quick 2)
  --rounds N           alternating rounds (default 3, quick 2)
  --warmup S           warm-up seconds per row (default 2, quick 1)
  --connections N      concurrent connections (default 100)
  --upload-mib N       size of the streamed upload (default 1024, quick 128; 0 skips it)
  --no-pin             do not use taskset
  --no-micro           skip bench/engine-micro.js and bench/groups-handoff.js
  --out FILE           where the report goes (default bench/RESULTS.md, quick bench/results-quick.md)
`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      rows: { type: "string" },
      tool: { type: "string" },
      duration: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "upload-mib": { type: "string" },
      "no-pin": { type: "boolean" },
      "no-micro": { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = !!values.quick;
  const num = (v, d) => (v === undefined ? d : Number(v));
  return {
    quick,
    rowFilter: values.rows ? values.rows.split(",").map((s) => s.trim()).filter(Boolean) : null,
    tool: values.tool,
    durationS: num(values.duration, quick ? 2 : 5),
    rounds: num(values.rounds, quick ? 2 : 3),
    warmupS: num(values.warmup, quick ? 1 : 2),
    connections: num(values.connections, 100),
    uploadMiB: num(values["upload-mib"], quick ? 128 : 1024),
    pin: !values["no-pin"],
    micro: !values["no-micro"] && !quick,
    out: path.resolve(values.out ?? path.join(__dirname, quick ? "results-quick.md" : "RESULTS.md")),
  };
}

/** A round in which other processes took more of the server's core than this is repeated once. */
const FOREIGN_RETRY = 0.2;

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

/** The checkout's commit, "+dirty" when src/ or dist/ differ from it (dist/ is what actually ran). */
function gitRevision() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.status !== 0) return "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src", "native", "bin"], { cwd: ROOT, encoding: "utf8" });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? " + uncommitted changes in src/native/bin" : ""}`;
}

/** Read before the runner pins itself, which would make availableParallelism() say 1. */
function machine(nproc) {
  const cpu = os.cpus()[0]?.model ?? "unknown";
  const kernel = `${os.type()} ${os.release()}`;
  return { nproc, cpu, node: process.version, kernel };
}

/** The run's scratch tree: the apps, a 64 KiB static file; readable by Apache's www-data. */
function prepareRunDir() {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-bench-"));
  fs.chmodSync(runDir, 0o755);
  const appDir = path.join(runDir, "apps");
  const staticDir = path.join(runDir, "static");
  fs.mkdirSync(appDir, { mode: 0o755 });
  fs.mkdirSync(staticDir, { mode: 0o755 });
  for (const f of ["hello.js", "discard.js", "hello.wsgi"]) fs.copyFileSync(path.join(__dirname, "apps", f), path.join(appDir, f));
  fs.writeFileSync(path.join(staticDir, "64k.bin"), crypto.randomBytes(64 * 1024));
  return { runDir, appDir, staticDir };
}

/** An error page's <title>, or the start of a body: enough to say what came back. */
function bodyGist(body) {
  const text = body.toString("latin1");
  const title = /<title>([^<]*)<\/title>/i.exec(text);
  return JSON.stringify(title ? title[1].trim() : text.slice(0, 80).replace(/\s+/g, " "));
}

/** The one request each row sends, checked once before measuring: a wrong answer is no row. */
async function verify(row, port) {
  const r = row.request;
  const headers = {};
  let body;
  if (r.bodyBytes) {
    body = Buffer.alloc(r.bodyBytes, "a");
    headers["content-type"] = "application/octet-stream";
  }
  if (r.padHeaderBytes) headers["x-bench-pad"] = "p".repeat(r.padHeaderBytes);
  let res;
  try {
    res = await request(port, r.path, { method: r.method ?? "GET", body, headers });
  } catch (err) {
    // A 413 may legitimately close the connection before the client finished sending.
    return `request failed: ${err.message}`;
  }
  const e = row.expect;
  if (res.status !== e.status) return `expected status ${e.status}, got ${res.status} ${bodyGist(res.body)}`;
  if (e.body !== undefined && res.body.toString() !== e.body) return `expected body ${JSON.stringify(e.body)}, got ${JSON.stringify(res.body.toString().slice(0, 80))}`;
  if (e.bodyBytes !== undefined && res.body.length !== e.bodyBytes) return `expected ${e.bodyBytes} body bytes, got ${res.body.length}`;
  return null;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function measureRow(row, server, ctx, durationS) {
  const url = `http://127.0.0.1:${server.port}${row.request.path}`;
  const cpu0 = treeCpuSeconds(server.pid);
  const sys0 = cpuCounters();
  const t0 = process.hrtime.bigint();
  const m = await measure({ tool: ctx.tool, url, connections: ctx.connections, durationS, request: row.request, pin: ctx.loadPin, tmpDir: ctx.runDir });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuS = treeCpuSeconds(server.pid) - cpu0;
  const core = cpuShares(sys0, cpuCounters(), "cpu0");
  if (!isAlive(server.pid)) throw new Error(`server exited during the round: ${server.output().trim().split("\n").slice(-2).join(" | ")}`);
  const cpuShare = cpuS / wallS;
  // Time CPU 0 spent on anything but the (pinned) server: other processes on a shared machine.
  const foreignShare = ctx.pin.length && Number.isFinite(core.busy) ? Math.max(0, core.busy - cpuShare) + core.steal : NaN;
  return { ...m, cpuUsPerReq: m.requests ? (cpuS * 1e6) / m.requests : NaN, cpuShare, foreignShare };
}

async function runSet(setName, rows, ctx, results) {
  if (!rows.length) return;
  log(`\n== set ${setName}: ${rows.length} row(s)`);
  const servers = new Map();
  const serverIds = [...new Set(rows.map((r) => r.server))];
  try {
    for (const id of serverIds) {
      const spec = plan.SERVERS[id];
      try {
        const h = await startServer(spec, ctx);
        servers.set(id, h);
        log(`   started ${id} (pid ${h.pid}, port ${h.port})${h.note ? `: ${h.note}` : ""}`);
      } catch (err) {
        const why = err instanceof DidNotStart ? `did not start: ${err.message}` : `did not start: ${err.stack}`;
        servers.set(id, { error: why });
        log(`   ${id}: ${why}`);
      }
    }
    const live = [];
    for (const row of rows) {
      const res = { row, rounds: [], notes: [] };
      results.push(res);
      const h = servers.get(row.server);
      if (h.error) {
        res.skipped = h.error;
        continue;
      }
      if (h.note) res.notes.push(h.note);
      const bad = await verify(row, h.port);
      if (bad) {
        const logTail = h.logTail();
        res.skipped = `wrong response: ${bad}${logTail ? ` (server error log: ${logTail})` : ""}`;
        log(`   ${row.id}: ${res.skipped}`);
        continue;
      }
      live.push(res);
    }
    for (const res of live) {
      try {
        await measureRow(res.row, servers.get(res.row.server), ctx, ctx.warmupS);
      } catch (err) {
        res.skipped = `failed during warm-up: ${err.message}`;
      }
    }
    for (let round = 0; round < ctx.rounds; round++) {
      const order = round % 2 === 0 ? live : [...live].reverse();
      for (const res of order) {
        if (res.skipped) continue;
        try {
          let m = await measureRow(res.row, servers.get(res.row.server), ctx, ctx.durationS);
          if (m.foreignShare > FOREIGN_RETRY && ctx.retryBudget > 0) {
            ctx.retryBudget--;
            log(`   round ${round + 1} ${res.row.id}: other processes took ${Math.round(m.foreignShare * 100)}% of the server core; repeating the round once`);
            res.repeated = (res.repeated ?? 0) + 1;
            await sleep(1000);
            m = await measureRow(res.row, servers.get(res.row.server), ctx, ctx.durationS);
          }
          res.rounds[round] = m;
          log(`   round ${round + 1} ${res.row.id.padEnd(22)} ${Math.round(m.rps).toString().padStart(7)} req/s  p50 ${fmtUs(m.p50us)}  p99 ${fmtUs(m.p99us)}  cpu ${m.cpuUsPerReq.toFixed(1)} µs/req (${Math.round(m.cpuShare * 100)}% of a core)${m.non2xx ? `  non-2xx ${m.non2xx}` : ""}${m.errors ? `  errors ${m.errors}` : ""}${m.foreignShare > 0.05 ? `  other load on CPU 0 ${Math.round(m.foreignShare * 100)}%` : ""}`);
        } catch (err) {
          res.skipped = `failed in round ${round + 1}: ${err.message}`;
          log(`   ${res.row.id}: ${res.skipped}`);
        }
        await sleep(200);
      }
    }
  } finally {
    for (const h of servers.values()) if (h.stop) await h.stop();
  }
}

function fmtUs(us) {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`;
}

function summarize(res) {
  const r = res.rounds.filter(Boolean);
  const out = {
    rps: median(r.map((m) => m.rps)),
    p50us: median(r.map((m) => m.p50us)),
    p99us: median(r.map((m) => m.p99us)),
    cpuUsPerReq: median(r.map((m) => m.cpuUsPerReq)),
    cpuShare: median(r.map((m) => m.cpuShare)),
    non2xx: r.reduce((s, m) => s + m.non2xx, 0),
    errors: r.reduce((s, m) => s + m.errors, 0),
    requests: r.reduce((s, m) => s + m.requests, 0),
    foreignShare: median(r.map((m) => m.foreignShare)),
    roundsRps: res.rounds.map((m) => (m ? m.rps : NaN)),
  };
  if (out.foreignShare > 0.1) res.notes.push(`other processes used ${Math.round(out.foreignShare * 100)}% of the server core (median): the machine was busy`);
  if (res.repeated) res.notes.push(`${res.repeated} round(s) repeated because the machine was busy`);
  const expectErrorStatus = res.row.expect.status >= 400;
  if (!expectErrorStatus && out.non2xx) res.notes.push(`${out.non2xx} of ${out.requests} responses were not 2xx/3xx`);
  if (expectErrorStatus && out.requests && out.non2xx < out.requests) res.notes.push(`only ${out.non2xx} of ${out.requests} responses had the expected error status`);
  if (out.errors) res.notes.push(`${out.errors} socket errors/timeouts`);
  return out;
}

function runMicro(file, timeoutS) {
  const p = path.join(__dirname, file);
  if (!fs.existsSync(p)) return { file, skipped: "not present yet" };
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [p], { cwd: ROOT, encoding: "utf8", timeout: timeoutS * 1000, maxBuffer: 16 * 1024 * 1024 });
  const text = `${r.stdout ?? ""}${r.stderr ? `\n${r.stderr}` : ""}`.trim();
  const status = r.error ? `did not finish: ${r.error.message}` : r.status === 0 ? "ok" : `exited ${r.status ?? r.signal}`;
  return { file, status, seconds: (Date.now() - t0) / 1000, output: text.length > 6000 ? `…${text.slice(-6000)}` : text };
}

async function main() {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const nproc = os.availableParallelism?.() ?? os.cpus().length;
  const canPin = opts.pin && nproc >= 2 && hasCommand("taskset");
  const tool = opts.tool ?? (hasCommand("wrk") ? "wrk" : "autocannon");
  if (tool !== "wrk" && tool !== "autocannon") throw new Error(`--tool must be wrk or autocannon, not ${tool}`);
  if (tool === "wrk" && !hasCommand("wrk")) throw new Error("--tool wrk: wrk is not installed (apt-get install -y wrk)");
  const apache = detectApache();
  const dirs = prepareRunDir();
  if (canPin) {
    // The runner itself (mostly idle; it drives the upload) stays off the server's core.
    spawnSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  }
  const ctx = {
    ...dirs,
    tool,
    connections: opts.connections,
    durationS: opts.durationS,
    rounds: opts.rounds,
    warmupS: opts.warmupS,
    pin: canPin ? ["taskset", "-c", "0"] : [],
    loadPin: canPin ? ["taskset", "-c", "1"] : [],
    startTimeoutMs: 15000,
    apache,
    // Repeats of busy rounds, bounded so a busy machine cannot stretch the run much.
    retryBudget: opts.quick ? 3 : 12,
  };
  const notices = [];
  if (!canPin) notices.push(opts.pin ? "taskset unavailable or fewer than 2 CPUs: server and load generator are not pinned" : "--no-pin: server and load generator are not pinned");
  if (tool === "autocannon") notices.push(hasCommand("wrk") ? "--tool autocannon: load from autocannon (a Node process) although wrk is installed" : "wrk is not installed (apt-get install -y wrk): load from autocannon, a Node process that needs as much CPU as a fast server");
  if (!apache) notices.push("Apache httpd + mod_wsgi not installed: the Apache rows are skipped (apt-get install -y apache2 libapache2-mod-wsgi-py3)");

  let rows = plan.ROWS;
  if (opts.quick && !opts.rowFilter) rows = rows.filter((r) => plan.QUICK_ROWS.has(r.id));
  if (opts.rowFilter) rows = rows.filter((r) => opts.rowFilter.some((w) => r.id.includes(w)));

  log(`nodewsgi bench: ${tool}, ${opts.connections} connections, warm-up ${opts.warmupS} s, ${opts.rounds} rounds of ${opts.durationS} s, ${canPin ? "server on CPU 0, load on CPU 1" : "unpinned"}`);
  for (const n of notices) log(`notice: ${n}`);

  const results = [];
  const cleanup = () => {
    fs.rmSync(dirs.runDir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    for (const set of plan.SETS) await runSet(set, rows.filter((r) => r.set === set), ctx, results);

    // Uploads are picked by id as rows are ("upload" runs all three).
    const wantUpload = (u) => opts.uploadMiB > 0 && (!opts.rowFilter || opts.rowFilter.some((w) => u.id.includes(w)));
    const uploadLine = (u) =>
      u.skipped ??
      `RSS growth ${(u.growthBytes / 2 ** 20).toFixed(1)} MiB${u.processes.length > 1 ? ` (${u.processes.map((p) => `${p.role} ${p.pid}: ${(p.growthBytes / 2 ** 20).toFixed(1)}`).join(", ")})` : ""}, ${u.mibPerS.toFixed(0)} MiB/s, status ${u.status}`;
    let upload = null;
    if (wantUpload(plan.UPLOAD)) {
      log(`\n== streamed upload: ${opts.uploadMiB} MiB to an app that discards it`);
      upload = await uploadCheck(plan.SERVERS[plan.UPLOAD.server], plan.UPLOAD.path, opts.uploadMiB, ctx);
      log(`   ${uploadLine(upload)}`);
    }
    const groupUploads = [];
    for (const g of plan.GROUP_UPLOADS) {
      if (!wantUpload(g)) continue;
      log(`\n== streamed upload to a ${g.label}: ${opts.uploadMiB} MiB to an app that discards it`);
      const u = { ...(await uploadCheck(plan.SERVERS[g.server], g.path, opts.uploadMiB, ctx)), id: g.id, label: g.label };
      groupUploads.push(u);
      log(`   ${uploadLine(u)}`);
    }

    const micro = [];
    if (opts.micro && !opts.rowFilter) {
      for (const f of ["engine-micro.js", "groups-handoff.js"]) {
        log(`\n== micro-benchmark ${f}`);
        const m = runMicro(f, 90);
        micro.push(m);
        log(`   ${m.skipped ?? `${m.status} in ${m.seconds.toFixed(1)} s`}`);
      }
    }

    for (const res of results) res.summary = summarize(res);
    const report = renderReport({
      opts,
      argv: process.argv.slice(2),
      machine: machine(nproc),
      revision: gitRevision(),
      tool,
      toolVersion: tool === "wrk" ? wrkVersion() : `autocannon ${require("autocannon/package.json").version}`,
      apacheVersion: apache ? (spawnSync(apache.binary, ["-v"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "") : null,
      pinned: canPin,
      notices,
      results,
      upload,
      groupUploads,
      micro,
      limits: readLimits(),
      seconds: (Date.now() - started) / 1000,
      date: new Date(),
    });
    fs.writeFileSync(opts.out, report);
    log(`\nwrote ${path.relative(process.cwd(), opts.out)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    process.stdout.write(report.split("\n## Targets")[1] ? `\n## Targets${report.split("\n## Targets")[1].split("\n## ")[0]}` : "");
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
