"use strict";
// Replays the recorded Apache + mod_wsgi scenarios (test/fixtures/conformance) against an
// in-process nodewsgi server, with the comparison rules of shared/conformance/against.py.
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const FIXTURES = path.join(__dirname, "..", "fixtures", "conformance");

const JS_DUMP = (name) => `"use strict";
const NAME = ${JSON.stringify(name)};
function dump(environ, start_response, callable) {
  const input = environ["wsgi.input"];
  const body = input.read();
  const out = {};
  for (const [k, v] of Object.entries(environ)) {
    if (typeof v === "string" || typeof v === "boolean" || typeof v === "number") out[k] = v;
  }
  out["wsgi.input.length"] = body.length;
  out["@script"] = NAME;
  out["@callable"] = callable;
  const data = Buffer.from(JSON.stringify(out));
  start_response("200 OK", [["Content-Type", "application/x-environ+json"], ["Content-Length", String(data.length)]]);
  return [data];
}
exports.application = (e, s) => dump(e, s, "application");
exports.app = (e, s) => dump(e, s, "app");
exports.handle_request = (e, s) => dump(e, s, "handle_request");
`;

const BASE = ({ srv, root, port }) => `ServerName localhost
Listen 127.0.0.1:${port}
PidFile "${srv}/server.pid"
ErrorLog "${srv}/error.log"
DocumentRoot "${root}/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "${root}/htdocs">
    Require all granted
</Directory>
`;

// environ keys whose values depend on the server's software, clock or sockets (against.py)
const VOLATILE = new Set(["REMOTE_PORT", "SERVER_SOFTWARE", "SERVER_SIGNATURE", "SERVER_ADMIN", "SERVER_ADDR",
  "CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "UNIQUE_ID",
  "mod_wsgi.request_id", "mod_wsgi.request_start", "mod_wsgi.script_start", "mod_wsgi.thread_id",
  "mod_wsgi.thread_requests", "mod_wsgi.total_requests", "mod_wsgi.listener_host",
  "mod_wsgi.listener_port", "mod_wsgi.enable_sendfile", "mod_wsgi.ignore_activity",
  "mod_wsgi.script_reloading", "mod_wsgi.connection_id", "mod_wsgi.queue_start",
  "mod_wsgi.daemon_connects", "mod_wsgi.daemon_restarts", "mod_wsgi.daemon_start",
  "mod_wsgi.version", "wsgi.version", "apache.version"]);

function expectedScenarios() {
  const dir = path.join(FIXTURES, "expected");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
}

/** Build the scenario's file tree and configuration text; returns {root, srv, configText}. */
/** Whether a scenario can be laid out here: `owners` needs root (chown). */
/** A scenario with `owners` (files to chown) or `needs_root` (user= of a daemon group) replays only as root. */
function canPrepare(exp) {
  return (exp.owners === undefined && !exp.needs_root) || (typeof process.getuid === "function" && process.getuid() === 0);
}

/** A scenario's `modes` (path -> octal string) and `owners` (path -> "user", ":group" or "user:group"), as refrun.py applies them. */
function applyOwners(root, exp) {
  for (const [rel, mode] of Object.entries(exp.modes ?? {})) fs.chmodSync(path.join(root, rel), parseInt(mode, 8));
  for (const [rel, spec] of Object.entries(exp.owners ?? {})) {
    const [user, group] = spec.split(":");
    fs.chownSync(path.join(root, rel), user ? idFrom("/etc/passwd", user) : -1, group ? idFrom("/etc/group", group) : -1);
  }
}

function idFrom(file, name) {
  const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.split(":")[0] === name);
  if (!line) throw new Error(`no ${name} in ${file}`);
  return Number(line.split(":")[2]);
}

function prepare(exp, port = 0) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `nodewsgi-conf-${exp.name}-`));
  // Reachable by a daemon process running as another user (user=), as refrun.py makes it.
  fs.chmodSync(work, 0o755);
  const root = path.join(work, "site");
  const srv = path.join(work, "server");
  fs.mkdirSync(srv, { recursive: true });
  fs.mkdirSync(path.join(root, "htdocs"), { recursive: true });
  for (const [rel, spec] of Object.entries(exp.files)) {
    const p = path.join(root, rel);
    if (spec === "dir") {
      fs.mkdirSync(p, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    // `hook:NAME`: a hook script (WSGIAuthUserScript, ...), the JavaScript twin of the Python one httpd ran;
    // `app:NAME`: an application of its own, likewise (apps/NAME.js).
    const twin = (dir, name) => fs.readFileSync(path.join(FIXTURES, dir, `${name}.js`), "utf8");
    const content = spec.startsWith("dump:") ? JS_DUMP(spec.slice(5)) : spec.startsWith("hook:") ? twin("hooks", spec.slice(5)) : spec.startsWith("app:") ? twin("apps", spec.slice(4)) : spec.slice(5);
    fs.writeFileSync(p, content);
  }
  applyOwners(root, exp);
  const configText = BASE({ srv, root, port }) + exp.config.split("@ROOT@").join(root) + "\n";
  const configFile = path.join(srv, "server.conf");
  fs.writeFileSync(configFile, configText);
  return { work, root, srv, configFile };
}

function rawRequest(req) {
  const method = req.method ?? "GET";
  const headers = req.headers ?? [["Host", "example.test"]];
  const body = Buffer.from(req.body ?? "", "latin1");
  const lines = [`${method} ${req.target} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  let payload;
  if (req.chunked) {
    lines.push("Transfer-Encoding: chunked");
    payload = body.length
      ? Buffer.concat([Buffer.from(body.length.toString(16) + "\r\n"), body, Buffer.from("\r\n0\r\n\r\n")])
      : Buffer.from("0\r\n\r\n");
  } else {
    if (body.length || method === "POST" || method === "PUT") lines.push(`Content-Length: ${body.length}`);
    payload = body;
  }
  lines.push("Connection: close");
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), payload]);
}

/**
 * Send raw bytes and collect the answer until the server closes. A HEAD answer is complete at
 * the end of its header block (uWS keeps the connection open after a HEAD response even when
 * the client asked to close; see docs/front-ends.md).
 */
// The bound only stops a broken run: every recorded request asks the server to close (a HEAD
// ends at its head), so the wait ends with the answer however loaded the machine is.
function send(port, data, timeoutMs = 30_000) {
  const head = data.subarray(0, 5).toString("latin1") === "HEAD ";
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on("data", (c) => {
      chunks.push(c);
      if (head && Buffer.concat(chunks).includes("\r\n\r\n")) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function parseResponse(raw) {
  const sep = raw.indexOf("\r\n\r\n");
  if (sep < 0) return { status: 0, headers: {}, body: Buffer.alloc(0) };
  const lines = raw.subarray(0, sep).toString("latin1").split("\r\n");
  const status = Number(lines[0].split(" ")[1]) || 0;
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    // Repeated Set-Cookie and Vary lines are kept, one per line (refrun.py's parse_response).
    headers[k] = k in headers && (k === "set-cookie" || k === "vary") ? `${headers[k]}\n${v}` : v;
  }
  let body = raw.subarray(sep + 4);
  if ((headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") {
    const out = [];
    let rest = body;
    for (;;) {
      const nl = rest.indexOf("\r\n");
      if (nl < 0) break;
      const n = parseInt(rest.subarray(0, nl).toString().split(";")[0] || "0", 16);
      if (!n) break;
      out.push(rest.subarray(nl + 2, nl + 2 + n));
      rest = rest.subarray(nl + 2 + n + 2);
    }
    body = Buffer.concat(out);
  }
  return { status, headers, body };
}

function normalise(obj, root, port) {
  if (typeof obj === "string") return obj.split(root).join("@ROOT@").split(String(port)).join("@PORT@");
  if (obj && typeof obj === "object") {
    const out = {};
    for (const [k, v] of Object.entries(obj)) out[normalise(k, root, port)] = normalise(v, root, port);
    return out;
  }
  return obj;
}

/** The differences between a recorded result and ours (against.py's `compare`). */
/** What refrun.py records of every response (KEEP_HEADERS); anything else a scenario asked for (keep_headers) is compared exactly. */
const RECORDED_ALWAYS = new Set(["content-type", "location", "allow", "content-length", "content-range", "www-authenticate", "vary", "set-cookie"]);

function compare(exp, got) {
  const diffs = [];
  if (exp.status !== got.status) return [`status ${got.status} != ${exp.status}`];
  for (const [h, v] of Object.entries(exp.headers ?? {})) {
    // Headers a scenario asked to record (keep_headers, content negotiation's): exactly, and null for absent.
    if (!RECORDED_ALWAYS.has(h)) {
      if ((got.headers[h] ?? null) !== v) diffs.push(`header ${h}: ${got.headers[h]} != ${v}`);
      continue;
    }
    if (v === null) {
      if (got.headers[h] !== undefined) diffs.push(`header ${h}: ${got.headers[h]} sent, httpd sends none`);
      continue;
    }
    if (h === "content-type" && v.startsWith("application/x-environ+json")) continue;
    if (h === "content-type" && (got.headers[h] ?? "").split(";")[0] !== v.split(";")[0]) diffs.push(`header ${h}: ${got.headers[h]} != ${v}`);
    // Headers the recorder keeps beyond against.py's (refrun.py KEEP_HEADERS): exact values.
    if (h === "content-range" && got.headers[h] !== v) diffs.push(`header ${h}: ${got.headers[h]} != ${v}`);
    // A Digest challenge's nonce is made with the server's secret: only its shape can agree.
    const nonceless = (x) => (x ?? "").replace(/nonce="[A-Za-z0-9+/]{11}=[0-9a-f]{40}"/, 'nonce="<nonce>"');
    if (h === "www-authenticate" && nonceless(got.headers[h]) !== nonceless(v)) diffs.push(`header ${h}: ${got.headers[h]} != ${v}`);
    // Apache builds Allow from a hash table: the set of methods is stable, their order is not.
    const methods = (x) => (x ?? "").split(",").map((m) => m.trim()).filter(Boolean).sort().join(",");
    if (h === "allow" && methods(got.headers[h]) !== methods(v)) diffs.push(`header allow: ${got.headers[h]} != ${v}`);
    // Vary as a set of names; Set-Cookie exactly, but for the clock in `expires=`.
    const names = (x) => (x ?? "").split(/[\n,]/).map((m) => m.trim().toLowerCase()).filter(Boolean).sort().join(",");
    if (h === "vary" && names(got.headers[h]) !== names(v)) diffs.push(`header vary: ${got.headers[h]} != ${v}`);
    const clockless = (x) => (x ?? "").replace(/expires=[^;\n]*/g, "expires=*");
    if (h === "set-cookie" && clockless(got.headers[h]) !== clockless(v)) diffs.push(`header set-cookie: ${got.headers[h]} != ${v}`);
    if (h === "location") {
      const tail = v.split("://").slice(-1)[0].split("/").slice(1).join("/");
      if (!(got.headers[h] ?? "").endsWith(tail)) diffs.push(`header location: ${got.headers[h]} != ${v}`);
    }
  }
  if (exp.environ) {
    const g = got.environ;
    if (!g) return [...diffs, "no environ (application not reached)"];
    for (const [k, v] of Object.entries(exp.environ)) {
      if (VOLATILE.has(k)) continue;
      if (!(k in g)) diffs.push(`missing ${k} (expected ${JSON.stringify(v)})`);
      else if (g[k] !== v) diffs.push(`${k}: ${JSON.stringify(g[k])} != ${JSON.stringify(v)}`);
    }
    for (const k of Object.keys(g)) if (k.startsWith("HTTP_") && !(k in exp.environ)) diffs.push(`extra ${k}=${JSON.stringify(g[k])}`);
  } else if (exp.body !== undefined && got.body !== exp.body) {
    diffs.push(`body ${JSON.stringify((got.body ?? "").slice(0, 40))} != ${JSON.stringify(exp.body.slice(0, 40))}`);
  }
  // Error bodies, recorded only for scenarios that ask for them (record_error_body).
  if (exp.error_body !== undefined && got.errorBody !== exp.error_body) {
    diffs.push(`error body ${JSON.stringify((got.errorBody ?? "").slice(0, 60))} != ${JSON.stringify(exp.error_body.slice(0, 60))}`);
  }
  return diffs;
}

/** Send one recorded request and reduce the answer the way against.py does. */
async function replay(port, root, req) {
  const { status, headers, body } = parseResponse(await send(port, rawRequest(req)));
  const got = { status, headers };
  if (req.method === "HEAD") return got;
  if ((headers["content-type"] ?? "").startsWith("application/x-environ+json") && status === 200) {
    try {
      got.environ = normalise(JSON.parse(body.toString("utf8")), root, port);
    } catch {
      got.environ = null;
    }
  } else if (status < 300) {
    got.body = body.toString("latin1");
  } else {
    got.errorBody = normalise(body.toString("latin1"), root, port);
  }
  return got;
}

module.exports = { JS_DUMP, FIXTURES, expectedScenarios, canPrepare, prepare, replay, compare, rawRequest, send, parseResponse };
