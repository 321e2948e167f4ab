"use strict";
/**
 * Starting and stopping the servers under test, each in its own process (its own process group,
 * so a daemon group's children go with it), pinned to the server core when pinning is possible.
 * A server that cannot start yields a `DidNotStart` with the reason, never a failed run.
 */
const fs = require("node:fs");
const net = require("node:net");
const http = require("node:http");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { nodewsgiConfig, apacheConfig } = require("./configs");

const ROOT = path.resolve(__dirname, "..", "..");

class DidNotStart extends Error {}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP request; resolves { status, body } or rejects on a socket error. */
function request(port, p, { method = "GET", body, headers = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Keeps the last `limit` characters of a stream: enough for a reason, never a full pipe. */
function tail(stream, limit = 4000) {
  const t = { text: "" };
  stream.on("data", (d) => {
    t.text = (t.text + d).slice(-limit);
  });
  return t;
}

function lastLines(text, n = 3) {
  return text
    .trim()
    .split("\n")
    .filter((l) => l.trim())
    .slice(-n)
    .join(" | ")
    .slice(0, 400);
}

/**
 * Spawns argv, waits until `probePath` answers with any HTTP status (or the process exits, or
 * `startTimeoutMs` passes), and returns a handle { pid, port, output(), stop() }.
 */
async function launch({ argv, env, port, probePath = "/", startTimeoutMs, cwd = ROOT, logFile }) {
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: stop() takes the daemon children too
  });
  const out = tail(child.stdout);
  const err = tail(child.stderr);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = code ?? signal;
      resolve();
    });
    child.on("error", (e) => {
      exited = e.message;
      resolve();
    });
  });
  const reason = () => {
    let text = lastLines(err.text) || lastLines(out.text);
    if (!text && logFile) {
      try {
        text = lastLines(fs.readFileSync(logFile, "utf8"));
      } catch {
        // no log written
      }
    }
    return text;
  };
  const handle = {
    pid: child.pid,
    port,
    output: () => out.text + err.text,
    /** The last lines of the server's own error log, for a "wrong response" explanation. */
    logTail() {
      try {
        // The last entry without its "[date] [module:level] [pid N] [client ...]" prefix.
        return logFile ? lastLines(fs.readFileSync(logFile, "utf8"), 1).replace(/^(\[[^\]]*\]\s*)+/, "") : "";
      } catch {
        return "";
      }
    },
    async stop() {
      if (exited === null) {
        try {
          process.kill(child.pid, "SIGTERM");
        } catch {
          // already gone
        }
        await Promise.race([exitPromise, sleep(8000)]);
      }
      try {
        process.kill(-child.pid, "SIGKILL"); // whatever is left of the group we started
      } catch {
        // group empty
      }
    },
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== null) throw new DidNotStart(`exited (${exited}): ${reason() || "no output"}`);
    try {
      await request(port, probePath, { timeoutMs: 1000 });
      return handle;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new DidNotStart(`no answer on 127.0.0.1:${port} within ${startTimeoutMs / 1000} s: ${reason() || "no output"}`);
    }
    await sleep(100);
  }
}

/**
 * Starts the server a row needs.
 * @param {object} spec  see the SERVERS table in bench/plan.js
 * @param {object} ctx   { runDir, appDir, staticDir, pin: string[], startTimeoutMs, apache }
 */
async function startServer(spec, ctx) {
  const port = await freePort();
  const dir = path.join(ctx.runDir, spec.id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });

  if (spec.kind === "script") {
    if (spec.requires) {
      try {
        require.resolve(spec.requires, { paths: [ROOT] });
      } catch {
        throw new DidNotStart(`${spec.requires} is not installed (npm install --save-dev ${spec.requires})`);
      }
    }
    const argv = [...ctx.pin, process.execPath, path.join(ROOT, "bench", "servers", spec.script), String(port), ...(spec.args ?? [])];
    return launch({ argv, port, startTimeoutMs: ctx.startTimeoutMs });
  }

  if (spec.kind === "nodewsgi") {
    const conf = path.join(dir, "nodewsgi.conf");
    fs.writeFileSync(
      conf,
      nodewsgiConfig({
        port,
        appDir: ctx.appDir,
        logDir: dir,
        mode: spec.mode,
        daemonOptions: spec.daemonOptions,
        aliases: spec.aliases,
        rewriteRules: spec.rewriteRules,
        rewriteFront: spec.rewriteFront,
        payload: spec.payload ? { staticDir: ctx.staticDir } : undefined,
      }),
    );
    // A spec may widen the server's CPUs (a group using the second core); only when pinning at all.
    const pin = spec.cpus && ctx.pin.length ? ["taskset", "-c", spec.cpus] : ctx.pin;
    const argv = [...pin, process.execPath, path.join(ROOT, "bin", "nodewsgi.js"), "serve", "-f", conf];
    const h = await launch({
      argv,
      env: { NODEWSGI_ENGINE: spec.engine },
      port,
      startTimeoutMs: ctx.startTimeoutMs * (spec.aliases >= 1000 ? 2 : 1),
      logFile: path.join(dir, "error_log"),
    });
    // The server says which engine it really runs: a native request may have fallen back to js.
    const m = /engine (\w+)/.exec(h.output());
    h.engine = m ? m[1] : undefined;
    if (h.engine && h.engine !== spec.engine) h.note = `asked for engine ${spec.engine}, server runs ${h.engine}`;
    return h;
  }

  if (spec.kind === "apache") {
    if (!ctx.apache) throw new DidNotStart("Apache httpd + mod_wsgi not installed (apt-get install -y apache2 libapache2-mod-wsgi-py3)");
    const conf = path.join(dir, "httpd.conf");
    fs.writeFileSync(
      conf,
      apacheConfig({
        port,
        runDir: dir,
        appDir: ctx.appDir,
        modulesDir: ctx.apache.modulesDir,
        mode: spec.mode,
        daemonOptions: spec.daemonOptions,
        user: process.getuid && process.getuid() === 0 ? ctx.apache.user : undefined,
      }),
    );
    const argv = [...ctx.pin, ctx.apache.binary, "-f", conf, "-DFOREGROUND"];
    return launch({ argv, port, startTimeoutMs: ctx.startTimeoutMs, logFile: path.join(dir, "error_log") });
  }

  throw new Error(`unknown server kind ${spec.kind}`);
}

/** Apache httpd + mod_wsgi as Debian installs them, or null. */
function detectApache() {
  const binary = ["/usr/sbin/apache2", "/usr/sbin/httpd"].find((p) => fs.existsSync(p));
  const modulesDir = ["/usr/lib/apache2/modules", "/usr/lib64/httpd/modules"].find((d) =>
    ["mod_wsgi.so", "mod_mpm_event.so", "mod_authz_core.so"].every((m) => fs.existsSync(path.join(d, m))),
  );
  if (!binary || !modulesDir) return null;
  let user = "www-data";
  try {
    if (!fs.readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("www-data:"))) user = "nobody";
  } catch {
    user = "nobody";
  }
  return { binary, modulesDir, user };
}

module.exports = { DidNotStart, startServer, detectApache, freePort, request, sleep, ROOT };
