"use strict";
// Access and error logs through a real server on a real socket: common/combined/json lines,
// env= and expr= conditions, per-vhost logs, the request id shared by environ, access log and error
// log, and application output (wsgi.errors, console.*) from %{GLOBAL}, a worker-thread
// group and a daemon process group landing in the error log with pid/tid/process group.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { ApacheErrorLog } = require("../dist/log/apache-error-log");
const { get, request } = require("./helpers/http");

const APP = `"use strict";
const { threadId } = require("node:worker_threads");
exports.application = (environ, start_response) => {
  const id = environ["mod_wsgi.request_id"];
  environ["wsgi.errors"].write("errors line " + id + "\\n");
  if (environ.QUERY_STRING === "console") {
    console.log("console.log line " + id);
    console.error("console.error line " + id);
    process.stdout.write("stdout line " + id + "\\n");
  }
  const body = Buffer.from(JSON.stringify({ id, pid: process.pid, threadId }));
  start_response("200 OK", [["Content-Type", "application/json"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

async function start(configText, frontEnd = "node") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-logs-"));
  fs.mkdirSync(path.join(dir, "htdocs"));
  fs.writeFileSync(path.join(dir, "htdocs", "file.txt"), "0123456789");
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(
    conf,
    `ServerName localhost\nListen 127.0.0.1:0\nErrorLog ${dir}/error.log\nDocumentRoot ${dir}/htdocs\n` +
      `${configText.split("@DIR@").join(dir)}\n<Directory ${dir}>\n    Require all granted\n</Directory>\n`,
  );
  const config = loadConfig(conf);
  const errorLog = new ApacheErrorLog(config.errorLog, { level: "info" });
  const server = await Server.start(config, { engine: jsEngine, frontEnd, errorLog, notice: () => {} });
  return { server, dir, errorLog, port: server.addresses[0].port, read: (f) => fs.readFileSync(path.join(dir, f), "utf8") };
}

// Generous: the wait ends with its condition; the bound only stops a broken run.
async function waitFor(fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) return fn();
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CLF = /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] /;

for (const frontEnd of ["node", "uws"]) describe(`access log over a real server (${frontEnd} front end)`, () => {
  let s;
  const results = {};
  before(async () => {
    s = await start(`LogFormat "%h %>s %b %L %{X-Tag}i %{ctype}n" mine
SetEnv tagged yes
Header note Content-Type ctype
CustomLog @DIR@/common.log common
CustomLog @DIR@/combined.log combined
CustomLog @DIR@/access.json json
CustomLog @DIR@/mine.log mine
CustomLog @DIR@/only-app.log "%U" env=SCRIPT_NAME
CustomLog @DIR@/not-app.log "%U" env=!SCRIPT_NAME
CustomLog @DIR@/expr-status.log "%s %U" "expr=%{REQUEST_STATUS} -ge 400"
CustomLog @DIR@/expr-req.log "%s %U" "expr=%{QUERY_STRING} =~ /y=/ || resp('Content-Length') == '10' || %{REQUEST_FILENAME} =~ /missing$/"
SetEnvIf Request_URI "\\.txt$" is_text=1
CustomLog @DIR@/envif.log "%U %{is_text}e %{tagged}e"
WSGIScriptAlias /app @DIR@/app.js application-group=%{GLOBAL}`, frontEnd);
    results.file = await get(s.port, "/file.txt", { Referer: "http://ref/", "User-Agent": "t-agent", "X-Tag": ["t1", "t2"] });
    results.missing = await get(s.port, "/missing");
    results.app = await get(s.port, "/app/x?y=1", { "User-Agent": 'quote"agent' });
    results.head = (await request(s.port, "/file.txt", { method: "HEAD" })).status;
    await s.server.stop(2000);
    s.errorLog.close();
  });

  it("common: Debian's %h %l %u %t \"%r\" %>s %O, one line per request in order", () => {
    const lines = s.read("common.log").trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0], CLF);
    assert.match(lines[0], /"GET \/file\.txt HTTP\/1\.1" 200 \d+$/);
    const sent = Number(lines[0].split(" ").pop());
    assert.ok(sent > 10 + 50, `%O counts headers and body: ${sent}`);
    assert.match(lines[1], /"GET \/missing HTTP\/1\.1" 404 \d+$/);
    assert.match(lines[2], /"GET \/app\/x\?y=1 HTTP\/1\.1" 200 \d+$/);
    assert.match(lines[3], /"HEAD \/file\.txt HTTP\/1\.1" 200 \d+$/);
  });

  it("combined: referer and user agent, escaped", () => {
    const lines = s.read("combined.log").trimEnd().split("\n");
    assert.match(lines[0], /" 200 \d+ "http:\/\/ref\/" "t-agent"$/);
    assert.match(lines[1], /" 404 \d+ "-" "-"$/);
    assert.match(lines[2], /" 200 \d+ "-" "quote\\"agent"$/);
  });

  it("json: one object per line with status, bytes, duration and the request id", () => {
    const objs = s.read("access.json").trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(objs.length, 4);
    assert.deepEqual(objs.map((o) => o.status), [200, 404, 200, 200]);
    assert.equal(objs[0].bytes, 10);
    assert.equal(objs[3].bytes, 0, "HEAD sends no body");
    assert.equal(objs[0].referer, "http://ref/");
    assert.equal(objs[0].user_agent, "t-agent");
    assert.equal(objs[2].path, "/app/x");
    assert.equal(objs[2].query, "y=1");
    assert.equal(objs[2].request_id, JSON.parse(results.app.body).id, "the environ's mod_wsgi.request_id is the access log's");
    for (const o of objs) {
      assert.equal(typeof o.duration_us, "number");
      assert.ok(o.duration_us >= 0);
      assert.match(o.request_id, /^[A-Za-z0-9+/]{11}$/);
      assert.equal(o.aborted, false);
    }
    assert.equal(new Set(objs.map((o) => o.request_id)).size, 4);
  });

  it("a LogFormat nickname, %b, %L, %{..}i (repeated fields joined) and %{..}n (Header note)", () => {
    const lines = s.read("mine.log").trimEnd().split("\n");
    assert.match(lines[0], /^127\.0\.0\.1 200 10 [A-Za-z0-9+/]{11} t1, t2 text\/plain$/);
    // The server's own 404 page is left alone by onsuccess rules: no note.
    assert.match(lines[1], /^127\.0\.0\.1 404 \d+ [A-Za-z0-9+/]{11} - -$/);
    assert.match(lines[3], /^127\.0\.0\.1 200 - [A-Za-z0-9+/]{11} - text\/plain$/);
  });

  it("%{VAR}e of a static file sees SetEnvIf's variables as well as SetEnv's", () => {
    assert.equal(s.read("envif.log"), "/file.txt 1 yes\n/missing - yes\n/app/x - yes\n/file.txt 1 yes\n");
  });

  it("expr= conditions, evaluated when the request is logged (checked against Apache 2.4.71)", () => {
    assert.equal(s.read("expr-status.log"), "404 /missing\n");
    assert.equal(s.read("expr-req.log"), "200 /file.txt\n404 /missing\n200 /app/x\n200 /file.txt\n");
  });

  it("env= and env=! conditions", () => {
    assert.equal(s.read("only-app.log"), "/app/x\n");
    assert.equal(s.read("not-app.log"), "/file.txt\n/missing\n/file.txt\n");
  });

  it("the request id in the access log is on the request's error log lines", () => {
    const id = JSON.parse(results.app.body).id;
    const err = s.read("error.log");
    assert.match(err, new RegExp(`\\[wsgi:error\\] \\[pid ${process.pid}\\] \\[client 127\\.0\\.0\\.1:\\d+\\] \\[R:${id.replace(/[+/]/g, "\\$&")}\\] errors line ${id.replace(/[+/]/g, "\\$&")}\\n`));
  });
});

describe("access log: configuration errors and virtual hosts", () => {
  it("an unknown directive or a malformed expr= condition is a config error with file and line", async () => {
    await assert.rejects(start("CustomLog @DIR@/a.log \"%h %Z\""), { code: "E_LOG_FORMAT", message: /site\.conf:\d+: CustomLog: .*%Z/ });
    await assert.rejects(start("CustomLog @DIR@/a.log common \"expr=%{NOPE} == 200\""), { message: /site\.conf:\d+: CustomLog: Variable 'NOPE' does not exist/ });
    await assert.rejects(start("CustomLog @DIR@/a.log common expr="), { message: /site\.conf:\d+: CustomLog: missing condition/ });
  });

  it("a virtual host with its own CustomLog logs there; others log to the main server's", async () => {
    const s = await start(`CustomLog @DIR@/main.log "%v %U"
<VirtualHost *>
  ServerName one.test
  DocumentRoot @DIR@/htdocs
  CustomLog @DIR@/one.log "%v %V %U"
</VirtualHost>
<VirtualHost *>
  ServerName two.test
  DocumentRoot @DIR@/htdocs
</VirtualHost>`);
    await get(s.port, "/file.txt", { Host: "one.test" });
    await get(s.port, "/file.txt?2", { Host: "two.test" });
    await s.server.stop(2000);
    s.errorLog.close();
    assert.equal(s.read("one.log"), "one.test one.test /file.txt\n");
    assert.equal(s.read("main.log"), "two.test /file.txt\n");
  });

  it("without CustomLog no request is wrapped", async () => {
    const s = await start("");
    assert.equal(s.server.accessLog, null);
    await s.server.stop(500);
    s.errorLog.close();
  });
});

describe("application output in the error log", () => {
  let s;
  before(async () => {
    s = await start(`WSGIDaemonProcess dgroup processes=1 threads=2
WSGIScriptAlias /global @DIR@/app.js application-group=%{GLOBAL}
WSGIScriptAlias /worker @DIR@/app.js
WSGIScriptAlias /daemon @DIR@/app.js process-group=dgroup application-group=%{GLOBAL}
WSGIScriptAlias /daemon-worker @DIR@/app.js process-group=dgroup`);
  });
  after(async () => {
    await s?.server.stop(2000);
    s?.errorLog.close();
  });

  const esc = (t) => t.replace(/[+/]/g, "\\$&");

  it("worker-thread group: wsgi.errors with client and id, console and stdout with the thread id", async () => {
    const r = JSON.parse((await get(s.port, "/worker?console")).body);
    assert.notEqual(r.threadId, 0);
    const tag = `\\[pid ${process.pid}:tid ${r.threadId}\\]`;
    const err = await waitFor(() => {
      const t = s.read("error.log");
      return t.includes(`stdout line ${r.id}`) && t;
    });
    assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} \\[client 127\\.0\\.0\\.1:\\d+\\] \\[R:${esc(r.id)}\\] errors line ${esc(r.id)}\\n`));
    assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} console\\.log line ${esc(r.id)}\\n`));
    assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} console\\.error line ${esc(r.id)}\\n`));
    assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} stdout line ${esc(r.id)}\\n`));
  });

  for (const [where, url] of [["main thread", "/daemon?console"], ["worker thread", "/daemon-worker?console"]]) {
    it(`daemon group (${where}): lines carry the child's pid and the process group`, async () => {
      const r = JSON.parse((await get(s.port, url)).body);
      assert.notEqual(r.pid, process.pid);
      const tag = `\\[pid ${r.pid}${r.threadId ? `:tid ${r.threadId}` : ""}\\] \\[process dgroup\\]`;
      const err = await waitFor(() => {
        const t = s.read("error.log");
        return t.includes(`stdout line ${r.id}`) && t.includes(`errors line ${r.id}`) && t;
      });
      assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} \\[client 127\\.0\\.0\\.1:\\d+\\] \\[R:${esc(r.id)}\\] errors line ${esc(r.id)}\\n`));
      assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} console\\.log line ${esc(r.id)}\\n`));
      assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} console\\.error line ${esc(r.id)}\\n`));
      assert.match(err, new RegExp(`\\[wsgi:error\\] ${tag} stdout line ${esc(r.id)}\\n`));
    });
  }

  it("%{GLOBAL} in the front-end thread: wsgi.errors in the error log; console is left alone by Server", async () => {
    const r = JSON.parse((await get(s.port, "/global")).body);
    assert.equal(r.threadId, 0);
    assert.match(s.read("error.log"), new RegExp(`\\[wsgi:error\\] \\[pid ${process.pid}\\] \\[client 127\\.0\\.0\\.1:\\d+\\] \\[R:${esc(r.id)}\\] errors line`));
  });
});

describe("access log: %v without ServerName", () => {
  it("is the name the map phase reports (SERVER_NAME under UseCanonicalName On, group names), not another default", () => {
    const { parseConfigText } = require("../dist/config");
    const { AccessLog } = require("../dist/log/access-log");
    const { configuredName } = require("../dist/map/host");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-logs-"));
    const config = parseConfigText(`CustomLog ${dir}/a.log "%v %p"\n<VirtualHost *:80>\n  DocumentRoot ${dir}\n</VirtualHost>\n`, path.join(dir, "site.conf"));
    const log = new AccessLog(config);
    for (const host of [config.main, config.virtualHosts[0]]) {
      assert.equal(log.canonical(host).name, configuredName(config, host).name);
      assert.equal(log.canonical(host).name, "localhost");
    }
    return log.close();
  });
});

// %f is r->filename, set by the map phase whatever the answer; %L is r->log_id, which exists
// only once mod_wsgi put it in the environ or an error log line about the request was written.
// Recorded against Apache 2.4.71.
for (const frontEnd of ["node", "uws"]) describe(`access log: %f and %L as httpd sets them (${frontEnd} front end)`, () => {
  let s;
  let appId;
  before(async () => {
    s = await start(`CustomLog @DIR@/fl.log "%U %>s %f %L"
WSGIScriptAlias /app @DIR@/app.js application-group=%{GLOBAL}
<Location /deny>
  Require all denied
</Location>`, frontEnd);
    appId = JSON.parse((await get(s.port, "/app")).body).id;
    await get(s.port, "/file.txt");
    await get(s.port, "/nothere");
    await get(s.port, "/no/such/deep");
    await get(s.port, "/file.txt/extra");
    await get(s.port, "/deny");
    await s.server.stop(2000);
  });
  after(() => s?.server.stop(0));

  it("logs the mapped path of a 404 or 403, and a log id only where httpd has one", async () => {
    const lines = (await waitFor(() => s.read("fl.log"))).trim().split("\n");
    const d = s.dir;
    assert.equal(lines[0], `/app 200 ${d}/app.js ${appId}`);
    assert.equal(lines[1], `/file.txt 200 ${d}/htdocs/file.txt -`);
    assert.equal(lines[2], `/nothere 404 ${d}/htdocs/nothere -`);
    assert.equal(lines[3], `/no/such/deep 404 ${d}/htdocs/no -`);
    assert.equal(lines[4], `/file.txt/extra 404 ${d}/htdocs/file.txt -`);
    // "client denied by server configuration" is logged: the request has an id.
    assert.match(lines[5], new RegExp(`^/deny 403 ${d}/htdocs/deny [A-Za-z0-9+/]{11}$`));
    const id = lines[5].split(" ")[3];
    assert.match(s.read("error.log"), new RegExp(`\\[R:${id.replace(/[+/]/g, "\\$&")}\\] AH01630: client denied`));
  });
});

describe("access log: what httpd 2.4.71 logs after mapping", () => {
  // Each line is what httpd logged for the same request and configuration (docs/logging.md).
  const FORMAT = `"U=%U i=%{X-Foo}i ua=%{User-Agent}i acc=%{Accept}i co=%{Connection}o s=%>s"`;
  const CONFIG = `CustomLog @DIR@/after.log ${FORMAT}
RequestHeader set X-Foo server-set
RequestHeader append Accept extra
<Directory @DIR@/htdocs/h>
    RequestHeader set X-Foo dir-set
    RequestHeader unset User-Agent
</Directory>
<Files app.wsgi>
    SetHandler wsgi-script
    Options +ExecCGI
</Files>
<Directory @DIR@/htdocs/rw>
    RewriteEngine On
    RewriteRule ^x$ /app.wsgi/p [L]
</Directory>`;
  const raw = (port, text) => require("./helpers/raw-http").exchange(port, text, { timeoutMs: 2000 });

  for (const frontEnd of ["node", "uws"]) {
    it(`%{X}i after RequestHeader, %U normalized as r->uri, %{Connection}o as sent (${frontEnd} front end)`, async () => {
      const s = await start(CONFIG, frontEnd);
      try {
        for (const d of ["a", "h", "dir", "rw"]) fs.mkdirSync(path.join(s.dir, "htdocs", d));
        fs.writeFileSync(path.join(s.dir, "htdocs", "a", "f.txt"), "a");
        fs.writeFileSync(path.join(s.dir, "htdocs", "h", "f.txt"), "h");
        fs.writeFileSync(path.join(s.dir, "htdocs", "dir", "index.html"), "i");
        fs.copyFileSync(path.join(s.dir, "app.js"), path.join(s.dir, "htdocs", "app.wsgi"));
        const cases = [
          ["GET /file.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: ua1\r\nX-Foo: client\r\nAccept: a/b\r\nConnection: close\r\n\r\n",
            "U=/file.txt i=server-set ua=ua1 acc=a/b, extra co=close s=200"],
          ["GET /h/f.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: ua1\r\nConnection: close\r\n\r\n", "U=/h/f.txt i=dir-set ua=- acc=extra co=close s=200"],
          ["GET /a/./%2e%2E/a/%66.txt?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/a/f.txt i=server-set ua=- acc=extra co=close s=200"],
          ["GET //a//f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/a/f.txt i=server-set ua=- acc=extra co=close s=200"],
          ["GET /dir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/dir/index.html i=server-set ua=- acc=extra co=close s=200"],
          ["GET /app.wsgi/x/../y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/app.wsgi/y i=server-set ua=- acc=extra co=close s=200"],
          ["GET /no%20pe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/no pe i=server-set ua=- acc=extra co=close s=404"],
          // An internal redirect (a per-directory rewrite): the first request's path.
          ["GET /rw/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "U=/rw/x i=server-set ua=- acc=extra co=close s=200"],
          // mod_dir's redirect comes before mod_headers' fixup: no edits logged.
          ["GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "U=/a i=- ua=- acc=- co=- s=301"],
        ];
        if (frontEnd === "node") {
          // uWS refuses HTTP/1.0 (docs/front-ends.md).
          cases.push(["GET /file.txt HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", "U=/file.txt i=server-set ua=- acc=extra co=Keep-Alive s=200"]);
          cases.push(["GET /file.txt HTTP/1.0\r\nHost: x\r\n\r\n", "U=/file.txt i=server-set ua=- acc=extra co=close s=200"]);
        }
        for (const [text] of cases) await raw(s.port, text);
        const lines = await waitFor(() => {
          const l = fs.existsSync(path.join(s.dir, "after.log")) ? s.read("after.log").trim().split("\n") : [];
          return l.length >= cases.length ? l : null;
        });
        assert.deepEqual(lines, cases.map(([, line]) => line));
      } finally {
        await s.server.stop();
      }
    });
  }
});

describe("access log: pipelined requests (node front end)", () => {
  // httpd reads a connection's next request only once the one before it is done: each is
  // logged when it finishes, so the lines come in the order the requests were sent.
  const SLOW = `"use strict";
globalThis.__pipelineRuns = globalThis.__pipelineRuns || [];
exports.application = async (environ, start_response) => {
  globalThis.__pipelineRuns.push("start " + environ.QUERY_STRING);
  await new Promise((r) => setTimeout(r, Number(environ.QUERY_STRING)));
  globalThis.__pipelineRuns.push("end " + environ.QUERY_STRING);
  const body = Buffer.from("slow " + environ.QUERY_STRING);
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;
  it("a later, faster response is logged after the earlier one; the next request runs once the one before is done", async () => {
    const s = await start(`CustomLog @DIR@/order.log "%r %>s"\nWSGIScriptAlias /slow @DIR@/slow.js application-group=%{GLOBAL}`);
    try {
      fs.writeFileSync(path.join(s.dir, "slow.js"), SLOW);
      const H = "Host: x\r\n";
      const r = await require("./helpers/raw-http").exchange(
        s.port,
        `GET /slow?150 HTTP/1.1\r\n${H}\r\nGET /file.txt HTTP/1.1\r\n${H}\r\nGET /slow?1 HTTP/1.1\r\n${H}\r\nGET /missing HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
        { timeoutMs: 60_000 }, // ends when the server closes (the last asks it to)
      );
      const { parseResponses } = require("./helpers/raw-http");
      assert.deepEqual(parseResponses(r.raw).map((x) => x.status), [200, 200, 200, 404]);
      const lines = await waitFor(() => {
        const l = fs.existsSync(path.join(s.dir, "order.log")) ? s.read("order.log").trim().split("\n") : [];
        return l.length >= 4 ? l : null;
      });
      assert.deepEqual(lines, ["GET /slow?150 HTTP/1.1 200", "GET /file.txt HTTP/1.1 200", "GET /slow?1 HTTP/1.1 200", "GET /missing HTTP/1.1 404"]);
      assert.deepEqual(globalThis.__pipelineRuns, ["start 150", "end 150", "start 1", "end 1"]);
      // A client gone before the first is done: what it pipelined behind is never run.
      globalThis.__pipelineRuns.length = 0;
      // The client leaves once the first has started (not after a guessed 30 ms).
      const client = require("node:net").connect(s.port, "127.0.0.1", () => client.write(`GET /slow?100 HTTP/1.1\r\n${H}\r\nGET /slow?2 HTTP/1.1\r\n${H}\r\n`));
      client.on("error", () => {});
      await waitFor(() => globalThis.__pipelineRuns.includes("start 100"));
      client.destroy();
      await waitFor(() => globalThis.__pipelineRuns.includes("end 100") && s.server.frontEnd.inFlight === 0);
      // The one behind it would start at once: give it a moment to show.
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(globalThis.__pipelineRuns, ["start 100", "end 100"]);
      assert.equal(s.server.frontEnd.inFlight, 0);
    } finally {
      await s.server.stop();
    }
  });
});

describe("access log: expr= conditions that fail to evaluate, and the fields they read", () => {
  // httpd 2.4: ap_expr_exec's line (error) and AH00644 (warn), both from mod_log_config; the
  // request is not logged there. An expression that does not reach the failing part is fine.
  it("logs ap_expr_exec's line and AH00644, and leaves the request out of that log", async () => {
    const s = await start(`CustomLog @DIR@/a.log "%U %s" "expr=file('/nonexistent/x') == 'a'"
CustomLog @DIR@/b.log "%U %s" "expr=%{REQUEST_URI} =~ /missing/ || file('/nonexistent/y') == 'a'"
RequestHeader set X-Foo edited
CustomLog @DIR@/e.log "%U %{X-Foo}i" "expr=req('X-Foo') == 'edited'"
CustomLog @DIR@/c.log "%U %{X-Foo}i" "expr=req('X-Foo') == 'client'"`);
    try {
      await get(s.port, "/file.txt", { "X-Foo": "client" });
      await get(s.port, "/missing", { "X-Foo": "client" });
      const conf = path.join(s.dir, "site.conf");
      const lines = await waitFor(() => {
        const l = s.read("error.log").split("\n").filter((x) => x.includes("log_config"));
        return l.length >= 6 ? l : null;
      });
      const strip = (l) => l.replace(/^\[[^\]]*\] /, "").replace(/\[pid [^\]]*\] \[client [^\]]*\] \[R:[^\]]*\] /, "");
      assert.deepEqual(lines.map(strip), [
        `[log_config:error] Evaluation of expression from ${conf}:5 failed: Cannot open file /nonexistent/x`,
        "[log_config:warn] AH00644: Error evaluating log condition: Cannot open file /nonexistent/x",
        `[log_config:error] Evaluation of expression from ${conf}:6 failed: Cannot open file /nonexistent/y`,
        "[log_config:warn] AH00644: Error evaluating log condition: Cannot open file /nonexistent/y",
        `[log_config:error] Evaluation of expression from ${conf}:5 failed: Cannot open file /nonexistent/x`,
        "[log_config:warn] AH00644: Error evaluating log condition: Cannot open file /nonexistent/x",
      ]);
      assert.equal(await waitFor(() => fs.existsSync(path.join(s.dir, "b.log")) && s.read("b.log")), "/missing 404\n");
      // The fields a condition reads are those RequestHeader left (httpd 2.4.71: req() in the log phase).
      const both = () => fs.existsSync(path.join(s.dir, "e.log")) && s.read("e.log").split("\n").length > 2 && s.read("e.log");
      assert.equal(await waitFor(both), "/file.txt edited\n/missing edited\n");
      assert.equal(fs.existsSync(path.join(s.dir, "c.log")) ? s.read("c.log") : "", "");
      assert.equal(fs.existsSync(path.join(s.dir, "a.log")) ? s.read("a.log") : "", "");
    } finally {
      await s.server.stop();
    }
  });
});
