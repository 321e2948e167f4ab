"use strict";
// mod_wsgi's hook scripts (WSGIAuthUserScript, WSGIAuthGroupScript, WSGIAccessScript,
// WSGIDispatchScript) through a real server: what the conformance corpus cannot record (the
// error log lines, which mostly match those httpd + mod_wsgi 4.9.4 wrote for the same cases),
// where the hooks run (main thread or a worker), promises, hooks that never answer, credentials
// that are not UTF-8, reloading, ESM, and the configuration errors.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig, parseConfigText, ConfigErrors } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { raw, statusOf } = require("./helpers/http");

const basic = (user, pw) => "Basic " + Buffer.concat([Buffer.from(user, "latin1"), Buffer.from(":"), Buffer.from(pw, "latin1")]).toString("base64");
const utf8 = (s) => Buffer.from(s, "utf8").toString("latin1");

const AUTH = `"use strict";
const { isMainThread } = require("node:worker_threads");
let calls = 0;
exports.check_password = async (environ, user, password) => {
  calls++;
  if (user === "hang") return new Promise(() => {});
  if (user === "where") return (isMainThread ? "main" : "worker") + ":" + environ["mod_wsgi.application_group"];
  if (user === "boom") throw new TypeError("bad day");
  if (user === "one") return 1;
  if (user === "log") { environ["wsgi.errors"].write("hello from check_password\\n"); return true; }
  if (user === "u\\u00e9") return password === "p\\u00e4ss";
  if (user === "known") return password === "pw";
  return password === "pw" ? true : null;
};
exports.groups_for_user = async (environ, user) => {
  if (user === "ghang") return new Promise(() => {});
  if (user === "nogroups") return [];
  if (user === "gboom") throw new Error("no groups");
  return new Set(["staff"]);
};
exports.allow_access = (environ, host) => {
  const q = environ.QUERY_STRING;
  if (q === "spin") for (;;);
  if (q === "where") return isMainThread;
  if (q === "no") return false;
  if (q === "bad") return "yes";
  return true;
};
// The same module is the %{GLOBAL} application: it sees the hooks' count.
exports.application = (environ, start_response) => {
  calls++;
  const body = Buffer.from(JSON.stringify({ calls, user: environ.REMOTE_USER ?? null, group: environ["mod_wsgi.application_group"], callable: "application" }));
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [body];
};
`;

const DISPATCH = `"use strict";
let dispatched = 0;
exports.application_group = (environ) => {
  dispatched++;
  if (environ.QUERY_STRING === "hang") return new Promise(() => {});
  if (environ.QUERY_STRING === "euro") return "\\u20ac";
  return null;
};
exports.process_group = (environ) => (environ.QUERY_STRING === "nope" ? "nope" : environ.QUERY_STRING === "d1" ? "d1" : undefined);
exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify({ dispatched, pg: environ["mod_wsgi.process_group"], ag: environ["mod_wsgi.application_group"] })];
};
`;

const ESM = `export function check_password(environ, user, password) {
  return user === "esm" ? password === "pw" : null;
}
`;

function memLog() {
  const lines = [];
  return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
}

function site() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-hooks-"));
  const d = (name) => {
    fs.mkdirSync(path.join(work, name), { recursive: true });
    fs.writeFileSync(path.join(work, name, "f.txt"), `${name}\n`);
  };
  for (const n of ["u", "uw", "uesm", "g", "a", "aw", "nofn", "nouser"]) d(n);
  fs.writeFileSync(path.join(work, "auth.js"), AUTH);
  fs.writeFileSync(path.join(work, "esm.mjs"), ESM);
  fs.writeFileSync(path.join(work, "nofn.js"), "exports.nothing = 1;\n");
  fs.writeFileSync(path.join(work, "dispatch.js"), DISPATCH);
  const basicAuth = (dir, more) => `<Directory "${work}/${dir}">
    AuthType Basic
    AuthName "Hooks"
${more.map((l) => `    ${l}\n`).join("")}</Directory>
Alias /${dir} "${work}/${dir}"
`;
  const conf = `ServerName localhost
Listen 127.0.0.1:0
Timeout 1
DocumentRoot "${work}"
WSGIDaemonProcess d1 threads=2
<Directory "${work}">
    Require all granted
</Directory>
${basicAuth("u", ["AuthBasicProvider wsgi", `WSGIAuthUserScript "${work}/auth.js"`, "Require valid-user"])}
${basicAuth("uw", ["AuthBasicProvider wsgi", `WSGIAuthUserScript "${work}/auth.js" application-group=hookers`, "Require valid-user"])}
${basicAuth("uesm", ["AuthBasicProvider wsgi", `WSGIAuthUserScript "${work}/esm.mjs"`, "Require valid-user"])}
${basicAuth("nofn", ["AuthBasicProvider wsgi", `WSGIAuthUserScript "${work}/nofn.js"`, "Require valid-user"])}
${basicAuth("nouser", ["AuthBasicProvider wsgi", "Require valid-user"])}
${basicAuth("g", ["AuthBasicProvider wsgi", `WSGIAuthUserScript "${work}/auth.js"`, `WSGIAuthGroupScript "${work}/auth.js"`, "Require wsgi-group staff"])}
<Directory "${work}/a">
    WSGIAccessScript "${work}/auth.js"
</Directory>
Alias /a "${work}/a"
<Directory "${work}/aw">
    WSGIAccessScript "${work}/auth.js" application-group=spinners
</Directory>
Alias /aw "${work}/aw"
WSGIScriptAlias /app "${work}/auth.js" application-group=%{GLOBAL}
<Location /app>
    AuthType Basic
    AuthName "Hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript "${work}/auth.js"
    Require valid-user
</Location>
WSGIScriptAlias /wapp "${work}/auth.js" application-group=%{GLOBAL}
<Location /wapp>
    AuthType Basic
    AuthName "Hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript "${work}/auth.js" application-group=hookers
    Require valid-user
</Location>
WSGIScriptAlias /disp "${work}/dispatch.js" application-group=%{GLOBAL}
<Location /disp>
    WSGIDispatchScript "${work}/dispatch.js"
</Location>
<Location /restricted>
    WSGIRestrictProcess other
</Location>
WSGIScriptAlias /restricted "${work}/dispatch.js" application-group=%{GLOBAL}
`;
  fs.writeFileSync(path.join(work, "server.conf"), conf);
  return { work, configFile: path.join(work, "server.conf") };
}

for (const frontEnd of ["node", "uws"]) {
  describe(`hook scripts (${frontEnd} front end)`, () => {
    let server;
    let port;
    let s;
    const log = memLog();
    before(async () => {
      s = site();
      server = await Server.start(loadConfig(s.configFile), { engine: jsEngine, frontEnd, errorLog: log, accessLog: null, notice: () => {} });
      port = server.addresses[0].port;
    });
    after(() => server?.stop(1000));

    const get = (target, headers = {}) =>
      raw(port, `GET ${target} HTTP/1.1\r\nHost: x.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}Connection: close\r\n\r\n`, { waitMs: 30_000 });
    const body = (r) => JSON.parse(r.slice(r.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n/, "").replace(/\r\n0\r\n\r\n$/, ""));
    /** Log lines written since `mark`. */
    const since = (mark) => log.lines.slice(mark).join("\n");

    it("check_password: granted, unknown (401), thrown and bad results (500, logged as mod_wsgi does)", async () => {
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("x", "pw") })), 200);
      let r = await get("/u/f.txt", { Authorization: basic("x", "nope") });
      assert.equal(statusOf(r), 401);
      assert.match(r, /WWW-Authenticate: Basic realm="Hooks"/i);
      assert.match(since(0), /\[auth_basic:error\] \[client 127\.0\.0\.1:\d+\] .*AH01618: user x not found: \/u\/f\.txt/);
      r = await get("/u/f.txt", { Authorization: basic("known", "nope") });
      assert.equal(statusOf(r), 401);
      assert.match(since(0), /AH01617: user known: authentication failure for "\/u\/f\.txt": Password Mismatch/);
      let mark = log.lines.length;
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("boom", "pw") })), 500);
      assert.match(since(mark), new RegExp(`\\[wsgi:error\\] \\[client [^\\]]+\\] \\[R:[^\\]]+\\] mod_wsgi \\(pid=\\d+\\): Exception occurred processing WSGI script '${s.work}/auth\\.js'\\.`));
      assert.match(since(mark), /TypeError: bad day/);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("one", "pw") })), 500);
      assert.match(since(mark), /TypeError: Basic auth provider must return true, false, null or user name as string/);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/nofn/f.txt", { Authorization: basic("x", "pw") })), 500);
      assert.match(since(mark), /Target WSGI user authentication script '.*\/nofn\.js' does not provide 'Basic' auth provider\./);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/nouser/f.txt", { Authorization: basic("x", "pw") })), 500);
      // At server level in mod_wsgi: no client in the line.
      assert.match(since(mark), /\[wsgi:error\] mod_wsgi \(pid=\d+\): Location of WSGI user authentication script not provided\./);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("log", "pw") })), 200);
      assert.match(since(mark), /\[wsgi:error\] \[client 127\.0\.0\.1:\d+\] \[R:[^\]]+\] hello from check_password/);
    });

    it("user and password reach the hook as UTF-8 text; credentials that are not UTF-8 get 500, and the server goes on", async () => {
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic(utf8("u\u00e9"), utf8("p\u00e4ss")) })), 200);
      const mark = log.lines.length;
      // mod_wsgi 4.9.4's Apache child crashes on these.
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("bad\xff", "pw") })), 500);
      assert.match(since(mark), /User name or password of user 'bad.' is not valid UTF-8/);
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("x", "pw") })), 200);
    });

    it("hooks run in the front-end thread for %{GLOBAL}, in the group's worker thread otherwise; a string result is REMOTE_USER", async () => {
      const main = await get("/app/x", { Authorization: basic("where", "pw") });
      assert.equal(statusOf(main), 200);
      assert.equal(body(main).user, "main:");
      // The application of the same script in %{GLOBAL} shares the hook's module (mod_wsgi: one module per interpreter).
      const before = body(await get("/app/x", { Authorization: basic("x", "pw") })).calls;
      const after = body(await get("/app/x", { Authorization: basic("x", "pw") })).calls;
      assert.equal(after, before + 2, "one check_password and one application call per request");
      const w = await get("/wapp/x", { Authorization: basic("where", "pw") });
      assert.equal(statusOf(w), 200);
      assert.equal(body(w).user, "worker:hookers");
      assert.equal(statusOf(await get("/uw/f.txt", { Authorization: basic("x", "pw") })), 200);
    });

    it("an ESM hook script works", async () => {
      assert.equal(statusOf(await get("/uesm/f.txt", { Authorization: basic("esm", "pw") })), 200);
      assert.equal(statusOf(await get("/uesm/f.txt", { Authorization: basic("esm", "no") })), 401);
    });

    it("a hook that never answers counts as failed after Timeout: 500 for check_password, a denial for groups", async () => {
      let mark = log.lines.length;
      assert.equal(statusOf(await get("/u/f.txt", { Authorization: basic("hang", "pw") })), 500);
      assert.match(since(mark), /Gave up waiting for check_password\(\) of WSGI script '.*\/auth\.js' after 1 seconds\./);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/g/f.txt", { Authorization: basic("ghang", "pw") })), 401);
      assert.match(since(mark), /Gave up waiting for groups_for_user\(\)/);
    });

    it("Require wsgi-group: a member passes; no groups, a failing hook: 401 and mod_wsgi's lines", async () => {
      assert.equal(statusOf(await get("/g/f.txt", { Authorization: basic("x", "pw") })), 200);
      let mark = log.lines.length;
      assert.equal(statusOf(await get("/g/f.txt", { Authorization: basic("nogroups", "pw") })), 401);
      assert.match(since(mark), /mod_wsgi \(pid=\d+\): Authorization of user 'nogroups' to access '\/g\/f\.txt' failed\. User is not a member of any groups\./);
      assert.match(since(mark), /\[authz_core:error\] .*AH01631: user nogroups: authorization failure for "\/g\/f\.txt": /);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/g/f.txt", { Authorization: basic("gboom", "pw") })), 401);
      assert.match(since(mark), /Exception occurred processing WSGI script/);
    });

    it("WSGIAccessScript: true passes, false and a bad result are 403 (logged); it runs in the thread of its group", async () => {
      assert.equal(statusOf(await get("/a/f.txt?yes")), 200);
      let mark = log.lines.length;
      assert.equal(statusOf(await get("/a/f.txt?no")), 403);
      assert.match(since(mark), new RegExp(`\\[wsgi:error\\] \\[client [^\\]]+\\] \\[R:[^\\]]+\\] mod_wsgi \\(pid=\\d+\\): Client denied by server configuration: '${s.work}/a/f\\.txt'\\.`));
      mark = log.lines.length;
      assert.equal(statusOf(await get("/a/f.txt?bad")), 403);
      assert.match(since(mark), /Indicator of host accessibility returned from '.*auth\.js' must be a boolean or null\./);
      assert.equal(statusOf(await get("/a/f.txt?where")), 200, "%{GLOBAL}: the main thread");
      assert.equal(statusOf(await get("/aw/f.txt?where")), 403, "a named group: its worker thread");
    });

    it("a worker-thread hook stuck in a loop: 403 after Timeout, and the server still answers", async () => {
      const mark = log.lines.length;
      assert.equal(statusOf(await get("/aw/f.txt?spin")), 403);
      assert.match(since(mark), /Gave up waiting for allow_access\(\)/);
      assert.equal(statusOf(await get("/a/f.txt?yes")), 200);
    });

    it("WSGIDispatchScript runs for every request (no route plan) and its results are checked", async () => {
      const a = body(await get("/disp/x"));
      const b = body(await get("/disp/x"));
      assert.equal(b.dispatched, a.dispatched + 1);
      assert.deepEqual([b.pg, b.ag], ["", ""]);
      const d1 = body(await get("/disp/x?d1"));
      assert.equal(d1.pg, "d1");
      let mark = log.lines.length;
      assert.equal(statusOf(await get("/disp/x?nope")), 500);
      assert.match(since(mark), new RegExp(`No WSGI daemon process called 'nope' has been configured: ${s.work}/dispatch\\.js`));
      mark = log.lines.length;
      assert.equal(statusOf(await get("/disp/x?euro")), 500);
      assert.match(since(mark), /TypeError: Application group must be a byte string, value containing non 'latin-1' characters found/);
      mark = log.lines.length;
      assert.equal(statusOf(await get("/disp/x?hang")), 500);
      assert.match(since(mark), /Gave up waiting for dispatch functions of WSGI script/);
    });

    it("WSGIRestrictProcess refuses embedded mode too, with 500 and mod_wsgi's line", async () => {
      const mark = log.lines.length;
      assert.equal(statusOf(await get("/restricted/x")), 500);
      assert.match(since(mark), /Daemon process called '' cannot be accessed by this WSGI application as not a member of allowed groups: .*dispatch\.js/);
    });

    it("a changed hook script is loaded again", async () => {
      assert.equal(statusOf(await get("/uesm/f.txt", { Authorization: basic("esm", "pw") })), 200);
      const file = path.join(s.work, "esm.mjs");
      fs.writeFileSync(file, ESM.replace('"esm"', '"esm2"'));
      const t = new Date(Date.now() + 5000);
      fs.utimesSync(file, t, t);
      assert.equal(statusOf(await get("/uesm/f.txt", { Authorization: basic("esm", "pw") })), 401);
      assert.equal(statusOf(await get("/uesm/f.txt", { Authorization: basic("esm2", "pw") })), 200);
    });
  });
}

describe("hook script directives: contexts, options, errors", () => {
  const errorOf = (text) => {
    try {
      parseConfigText(text, "hooks.conf");
    } catch (e) {
      assert.ok(e instanceof ConfigErrors, String(e));
      return e.message;
    }
    return null;
  };

  it("the auth and access scripts belong in directory sections and .htaccess (AuthConfig); WSGIDispatchScript also at server level", () => {
    for (const d of ["WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript"]) {
      assert.match(errorOf(`${d} /x.js\n`), new RegExp(`hooks\\.conf:1: ${d}: not allowed here`));
      assert.equal(errorOf(`<Location /x>\n${d} /x.js application-group=foo\n</Location>\n`), null, d);
    }
    assert.equal(errorOf("WSGIDispatchScript /x.js\n<VirtualHost *:80>\nWSGIDispatchScript /y.js\n</VirtualHost>\n<Directory /x>\nWSGIDispatchScript /z.js\n</Directory>\n"), null);
    const c = parseConfigText("<Directory /x>\nWSGIAuthUserScript /a.js\nWSGIDispatchScript d.js application-group=%{SERVER}\n</Directory>\n", "/srv/hooks.conf");
    const dir = c.main.sections[0].settings;
    assert.deepEqual(dir.wsgiAuthUserScript.value, { script: "/a.js", applicationGroup: "%{GLOBAL}" });
    // Relative to ServerRoot (the configuration's directory by default), as nodewsgi's other script paths.
    assert.deepEqual(dir.wsgiDispatchScript.value, { script: "/srv/d.js", applicationGroup: "%{SERVER}" });
  });

  it("mod_wsgi's messages for bad options", () => {
    assert.match(errorOf("<Directory /x>\nWSGIAuthUserScript /x.js process-group=foo\n</Directory>\n"), /hooks\.conf:2: WSGIAuthUserScript: Invalid option to WSGI auth user script definition\./);
    assert.match(errorOf("<Directory /x>\nWSGIAuthGroupScript /x.js junk\n</Directory>\n"), /Invalid option to WSGI auth group script definition\./);
    assert.match(errorOf("<Directory /x>\nWSGIAccessScript /x.js application-group=\n</Directory>\n"), /Invalid name for WSGI application group\./);
    assert.match(errorOf("WSGIDispatchScript /x.js callable-object=x\n"), /Invalid option to WSGI dispatch script definition\./);
    assert.match(errorOf("<Directory /x>\nWSGIGroupAuthoritative maybe\n</Directory>\n"), /WSGIGroupAuthoritative must be On or Off/);
    assert.match(errorOf("<Directory /x>\nAuthBasicProvider wsgi nonesuch\n</Directory>\n"), /Unknown Authn provider: nonesuch/);
    // httpd 2.4 looks providers up case-sensitively when the line is read: a start-up error, its message.
    assert.match(errorOf("<Directory /x>\nAuthBasicProvider File\n</Directory>\n"), /hooks\.conf:2: AuthBasicProvider: Unknown Authn provider: File$/);
    assert.match(errorOf("<Directory /x>\nAuthBasicProvider file Wsgi\n</Directory>\n"), /hooks\.conf:2: AuthBasicProvider: Unknown Authn provider: Wsgi$/);
    assert.match(errorOf("<Directory /x>\nAuthDigestProvider File\n</Directory>\n"), /hooks\.conf:2: AuthDigestProvider: Unknown Authn provider: File$/);
    // Lines add to the section's list (httpd 2.4.71: `file` then `wsgi` on two lines asks both, in order).
    const two = parseConfigText("<Directory /x>\nAuthBasicProvider file\nAuthBasicProvider wsgi\n</Directory>\n", "hooks.conf");
    assert.deepEqual(two.main.sections[0].settings.authBasicProvider.value, ["file", "wsgi"]);
    assert.equal(errorOf("<Directory /x>\nAuthBasicProvider file wsgi\nRequire wsgi-group a \"b c\"\nRequire wsgi-group\n</Directory>\n"), null);
  });

  it("WSGIGroupAuthoritative is accepted with a notice that it has no effect (as in mod_wsgi on httpd 2.4)", () => {
    const c = parseConfigText("<Directory /x>\nWSGIGroupAuthoritative Off\n</Directory>\n", "hooks.conf");
    assert.equal(c.main.sections[0].settings.wsgiGroupAuthoritative.value, false);
    assert.match(c.notices.join("\n"), /hooks\.conf:2: WSGIGroupAuthoritative has no effect/);
  });

  it("application-group=%{RESOURCE} is a literal name for hooks, and says so", () => {
    const c = parseConfigText("<Directory /x>\nWSGIAccessScript /x.js application-group=%{RESOURCE}\n</Directory>\n", "hooks.conf");
    assert.equal(c.notices.length, 1);
    assert.match(c.notices[0], /hooks\.conf:2: WSGIAccessScript: application-group=%\{RESOURCE\} is not expanded for hook scripts/);
  });

  it("in .htaccess, the auth and access scripts need AllowOverride AuthConfig; WSGIDispatchScript is not allowed", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-hooks-ht-"));
    for (const d of ["ok", "noauth", "disp"]) fs.mkdirSync(path.join(work, d));
    fs.writeFileSync(path.join(work, "auth.js"), AUTH);
    fs.writeFileSync(path.join(work, "ok", "f.txt"), "ok\n");
    fs.writeFileSync(path.join(work, "noauth", "f.txt"), "no\n");
    fs.writeFileSync(path.join(work, "disp", "f.txt"), "disp\n");
    const ht = `AuthType Basic\nAuthName H\nAuthBasicProvider wsgi\nWSGIAuthUserScript "${work}/auth.js"\nRequire valid-user\n`;
    fs.writeFileSync(path.join(work, "ok", ".htaccess"), ht);
    fs.writeFileSync(path.join(work, "noauth", ".htaccess"), ht);
    fs.writeFileSync(path.join(work, "disp", ".htaccess"), `WSGIDispatchScript "${work}/auth.js"\n`);
    fs.writeFileSync(path.join(work, "server.conf"), `ServerName localhost\nListen 127.0.0.1:0\nDocumentRoot "${work}"\n<Directory "${work}">\n    Require all granted\n    AllowOverride AuthConfig\n</Directory>\n<Directory "${work}/noauth">\n    AllowOverride FileInfo\n</Directory>\n<Directory "${work}/disp">\n    AllowOverride All\n</Directory>\n`);
    const log = memLog();
    const server = await Server.start(loadConfig(path.join(work, "server.conf")), { engine: jsEngine, frontEnd: "node", errorLog: log, accessLog: null, notice: () => {} });
    try {
      const port = server.addresses[0].port;
      const get = (p, auth) => raw(port, `GET ${p} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${auth}\r\n` : ""}Connection: close\r\n\r\n`);
      assert.equal(statusOf(await get("/ok/f.txt")), 401);
      assert.equal(statusOf(await get("/ok/f.txt", basic("x", "pw"))), 200);
      assert.equal(statusOf(await get("/noauth/f.txt", basic("x", "pw"))), 500);
      assert.equal(statusOf(await get("/disp/f.txt")), 500);
      assert.match(log.lines.join("\n"), /WSGIDispatchScript/);
    } finally {
      await server.stop(1000);
    }
  });
});

describe("dispatch results are expanded as mod_wsgi's wsgi_process_group / wsgi_callable_object do", () => {
  const { expandGroup, expandCallable } = require("../dist/map/dispatch-script");
  const route = { configuredName: "localhost", serverPort: "8080", sentName: "Example.Test", scriptName: "/app", env: new Map([["PG", "%{SERVER}"], ["LOOP", "%{ENV:LOOP}"]]) };
  const lookup = (name) => route.env.get(name) ?? { CO: "app" }[name];
  it("groups", () => {
    assert.equal(expandGroup("plain", route, lookup), "plain");
    assert.equal(expandGroup("%{GLOBAL}", route, lookup), "");
    assert.equal(expandGroup("%{SERVER}", route, lookup), "localhost:8080");
    assert.equal(expandGroup("%{RESOURCE}", route, lookup), "localhost:8080|/app");
    assert.equal(expandGroup("%{HOST}", route, lookup), "example.test:8080");
    // A variable whose value is another expression is expanded once more (not another %{ENV:}).
    assert.equal(expandGroup("%{ENV:PG}", route, lookup), "localhost:8080");
    assert.equal(expandGroup("%{ENV:LOOP}", route, lookup), "%{ENV:LOOP}");
    // Unset: the expression itself is the name (so no daemon group has it: 500).
    assert.equal(expandGroup("%{ENV:UNSET}", route, lookup), "%{ENV:UNSET}");
    assert.equal(expandGroup("%{OTHER}", route, lookup), "%{OTHER}");
  });
  it("callables", () => {
    assert.equal(expandCallable("app", lookup), "app");
    assert.equal(expandCallable("%{ENV:CO}", lookup), "app");
    assert.equal(expandCallable("%{ENV:UNSET}", lookup), "application");
    assert.equal(expandCallable("%{FOO}", lookup), "application");
  });
});
