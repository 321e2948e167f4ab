"use strict";
// Raw-byte HTTP/1.1 over net sockets, for robustness tests: write exactly the bytes given and
// report what came back and whether (and how quickly) the server closed the connection.
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../../dist/config");
const { Server } = require("../../dist/server");
const { jsEngine } = require("../../dist/engine/js-engine");
const { FileErrorLog } = require("../../dist/log/error-log");

const HELLO = `"use strict";
exports.application = (environ, start_response) => {
  const body = Buffer.from("Hello World!");
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

// Reads the whole body, answers with its length and the app-visible request facts.
const ECHO = `"use strict";
globalThis.__robustnessCalls = globalThis.__robustnessCalls || [];
exports.application = (environ, start_response) => {
  const body = environ["wsgi.input"].read();
  globalThis.__robustnessCalls.push(environ.REQUEST_METHOD + " " + environ.REQUEST_URI);
  const out = Buffer.from(JSON.stringify({
    method: environ.REQUEST_METHOD,
    uri: environ.REQUEST_URI,
    path: environ.PATH_INFO,
    protocol: environ.SERVER_PROTOCOL,
    host: environ.HTTP_HOST,
    length: body.length,
    body: body.toString("latin1"),
    trailer: environ.HTTP_X_TRAILER,
    fold: environ.HTTP_X_FOLD,
  }));
  start_response("200 OK", [["Content-Type", "application/json"], ["Content-Length", String(out.length)]]);
  return [out];
};
`;

// Answers after a delay given in the query string (ms), to make the response asynchronous.
const SLOW = `"use strict";
exports.application = async (environ, start_response) => {
  const ms = Number(environ.QUERY_STRING) || 0;
  await new Promise((r) => setTimeout(r, ms));
  const body = Buffer.from("slow " + ms);
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

// Answers with request facts that may carry bytes beyond ASCII (as UTF-8 JSON), under a
// status reason and a header value beyond ASCII.
const BYTES = `"use strict";
exports.application = (environ, start_response) => {
  const out = Buffer.from(JSON.stringify({ path: environ.PATH_INFO, query: environ.QUERY_STRING, mid: environ.HTTP_X_MID, end: environ.HTTP_X_END }));
  start_response("200 \\u00c7a va", [["Content-Type", "application/json"], ["X-Latin", "caf\\u00e9"], ["Content-Length", String(out.length)]]);
  return [out];
};
`;

const BIG_SIZE = 32 * 1024 * 1024;

/** A site with /app (hello), /echo (body echo), /slow (async), /bytes (non-ASCII) and /big.bin (32 MiB static). */
function makeSite() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-robust-"));
  const htdocs = path.join(work, "htdocs");
  const apps = path.join(work, "apps");
  fs.mkdirSync(htdocs);
  fs.mkdirSync(apps);
  fs.writeFileSync(path.join(htdocs, "index.html"), "<h1>it works</h1>\n");
  fs.writeFileSync(path.join(htdocs, "big.bin"), Buffer.alloc(BIG_SIZE, 97));
  fs.writeFileSync(path.join(apps, "hello.wsgi"), HELLO);
  fs.writeFileSync(path.join(apps, "echo.wsgi"), ECHO);
  fs.writeFileSync(path.join(apps, "slow.wsgi"), SLOW);
  fs.writeFileSync(path.join(apps, "bytes.wsgi"), BYTES);
  const configFile = path.join(work, "server.conf");
  fs.writeFileSync(
    configFile,
    `ServerName localhost
Listen 127.0.0.1:0
PidFile "${work}/server.pid"
ErrorLog "${work}/error.log"
DocumentRoot "${htdocs}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "${htdocs}">
    Require all granted
</Directory>
<Directory "${apps}">
    Require all granted
</Directory>
WSGIApplicationGroup %{GLOBAL}
WSGIChunkedRequest On
WSGIScriptAlias /app "${apps}/hello.wsgi"
WSGIScriptAlias /echo "${apps}/echo.wsgi"
WSGIScriptAlias /slow "${apps}/slow.wsgi"
WSGIScriptAlias /bytes "${apps}/bytes.wsgi"
WSGIScriptAlias /limited "${apps}/echo.wsgi"
<Location /limited>
    LimitRequestBody 20
</Location>
`,
  );
  return { work, configFile };
}

/** Where an application can run, as mountedSite mounts it: [URL prefix, description]. */
const MOUNTS = [["/g", "in the front-end thread"], ["/w", "in a worker thread"], ["/d", "in a daemon process"]];

/**
 * A site in a new temporary directory `work`: `build({ work, htdocs })` returns the files to
 * write (paths relative to `work`) and the configuration that follows the common head
 * (ServerName localhost, Listen 127.0.0.1:0, ErrorLog in `work`, DocumentRoot `htdocs`).
 */
function writeSite(prefix, build) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const htdocs = path.join(work, "htdocs");
  fs.mkdirSync(htdocs);
  const { files = {}, config = "" } = build({ work, htdocs });
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
    fs.writeFileSync(path.join(work, rel), content);
  }
  const configFile = path.join(work, "server.conf");
  fs.writeFileSync(configFile, `ServerName localhost\nListen 127.0.0.1:0\nErrorLog "${work}/error.log"\nDocumentRoot "${htdocs}"\n${config}`);
  return { work, configFile, htdocs };
}

/**
 * A site serving one application (`app`, the script's source) from each of MOUNTS: %{GLOBAL},
 * a worker-thread group and a daemon process group. `directives` go before the aliases.
 */
function mountedSite(app, { directives = "" } = {}) {
  return writeSite("nodewsgi-mounted-", ({ work }) => ({
    files: { "app.js": app },
    config: `${directives}
<Directory "${work}">
    Require all granted
</Directory>
WSGIScriptAlias /g "${work}/app.js" application-group=%{GLOBAL}
WSGIScriptAlias /w "${work}/app.js" application-group=workers
WSGIDaemonProcess mounted threads=4
WSGIScriptAlias /d "${work}/app.js" process-group=mounted application-group=%{GLOBAL}
`,
  }));
}

/**
 * One GET to each of MOUNTS, so the worker thread and the daemon process are up and the script
 * loaded in each: tests then time responses, not start-ups. Every mount must answer 200.
 */
async function warmUp(port) {
  for (const [mount] of MOUNTS) {
    const r = await exchange(port, `GET ${mount}/ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, { timeoutMs: 10_000 });
    const status = parseResponses(r.raw)[0]?.status;
    if (status !== 200) throw new Error(`${mount} did not warm up: ${status} ${JSON.stringify(r.raw.toString("latin1"))}`);
  }
}

async function startServer(frontEnd, site = makeSite()) {
  const config = loadConfig(site.configFile);
  const server = await Server.start(config, {
    engine: jsEngine,
    frontEnd,
    errorLog: new FileErrorLog(config.errorLog ?? 2, "debug"),
    notice: () => {},
  });
  return { server, port: server.addresses[0].port, site };
}

/**
 * Connect, write `data` (a Buffer/string, or an array written one after another), and collect
 * everything until the server closes or `timeoutMs` passes. Resolves
 * `{ raw, closed, ms }`: `closed` is true when the server ended the connection. The default
 * bound is generous, for exchanges the server ends: it only stops a broken run. A test that
 * expects the connection left open passes its own, short `timeoutMs` (or `until`). Once
 * `until(bytes)` holds, the exchange ends after `lingerMs` more (0 by default) unless the server
 * closes first: how a test sees that a connection stays open after a complete answer.
 */
function exchange(port, data, { timeoutMs = 30_000, until, lingerMs = 0 } = {}) {
  const parts = Array.isArray(data) ? data : [data];
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks = [];
    let done = false;
    const s = net.connect(port, "127.0.0.1", () => {
      for (const p of parts) s.write(typeof p === "string" ? Buffer.from(p, "latin1") : p);
    });
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ raw: Buffer.concat(chunks), closed, ms: Date.now() - started });
    };
    let timer = setTimeout(() => finish(false), timeoutMs);
    let lingering = false;
    s.on("data", (c) => {
      chunks.push(c);
      if (lingering || !until || !until(Buffer.concat(chunks))) return;
      if (lingerMs <= 0) return finish(false);
      lingering = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), lingerMs);
    });
    s.on("error", () => finish(true));
    s.on("end", () => finish(true));
    s.on("close", () => finish(true));
  });
}

/**
 * Split a byte stream into the responses in it (Content-Length or chunked framing); `methods`
 * names the requests' methods in order, so that HEAD responses are read as heads only.
 */
function parseResponses(raw, methods = []) {
  const out = [];
  let rest = raw;
  while (rest.length > 0) {
    const headOnly = methods[out.length] === "HEAD";
    const sep = rest.indexOf("\r\n\r\n");
    if (sep < 0) break;
    const lines = rest.subarray(0, sep).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let body;
    // Whether the whole response is in `raw` (for a body that runs to the close: never known).
    let complete = false;
    rest = rest.subarray(sep + 4);
    const status = Number(m[1]);
    if (headOnly || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      complete = true;
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      body = rest.subarray(0, n);
      complete = rest.length >= n;
      rest = rest.subarray(n);
    } else if ((headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") {
      const parts = [];
      for (;;) {
        const nl = rest.indexOf("\r\n");
        if (nl < 0) break;
        const n = parseInt(rest.subarray(0, nl).toString("latin1"), 16);
        rest = rest.subarray(nl + 2);
        if (!n) {
          const end = rest.indexOf("\r\n");
          complete = end >= 0;
          rest = end < 0 ? Buffer.alloc(0) : rest.subarray(end + 2);
          break;
        }
        parts.push(rest.subarray(0, n));
        rest = rest.subarray(n + 2);
      }
      body = Buffer.concat(parts);
    } else {
      body = rest;
      rest = Buffer.alloc(0);
    }
    out.push({ status, headers, body, complete });
  }
  return out;
}

/** Send `requests` on one connection, each once the previous response is complete; the parsed responses. */
function inTurn(port, requests) {
  const methods = requests.map((r) => String(r).split(" ", 1)[0]);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let next = 0;
    const s = net.connect(port, "127.0.0.1", () => s.write(requests[next++]));
    // Ends with the last complete answer; the bound only stops a broken run (generous, for a
    // loaded machine).
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer within 30 s: ${JSON.stringify(buf.toString("latin1"))}`));
    }, 30_000);
    s.on("error", reject);
    s.on("data", (c) => {
      buf = Buffer.concat([buf, c]);
      const rs = parseResponses(buf, methods);
      if (rs.length < next || !rs[next - 1].complete) return;
      if (next < requests.length) {
        s.write(requests[next++]);
        return;
      }
      clearTimeout(timer);
      s.destroy();
      resolve(rs);
    });
  });
}

module.exports = { makeSite, writeSite, mountedSite, MOUNTS, warmUp, startServer, exchange, inTurn, parseResponses, BIG_SIZE };
