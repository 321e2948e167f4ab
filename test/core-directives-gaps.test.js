"use strict";
// The core directives where they reach past the environ and the error pages: the
// ServerSignature footer on directory listings, static error pages and an application's 500
// page (in-thread, worker thread and daemon process), also when the script fails to load;
// ServerSignature in .htaccess under any AllowOverride class (and a 500 under an
// AllowOverrideList that does not name it); TraceEnable Off taking TRACE out of `Allow`; %v/%V/%p in access logs
// under UseCanonicalName; the `Server` header. Expected values were recorded from Apache
// 2.4.71 + mod_wsgi 4.9.4 on the same configurations.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig, parseHtaccess } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { renderDirectoryListing, listingSignature } = require("../dist/static/autoindex");
const { staticAllow } = require("../dist/static/serve-file");
const { internalErrorPage } = require("../dist/app/run");
const { overrideAllows } = require("../dist/config/directives");
const { request, raw, statusOf } = require("./helpers/http");

const nullLog = { log() {}, close() {} };

const APP = `exports.application = (e, sr) => {
  if (e.PATH_INFO.endsWith("/fail")) throw new Error("expected failure");
  sr("200 OK", [["Content-Type", "text/plain"], ["Server", "myapp/1.0"]]);
  return ["ok"];
};
`;

function writeSite(lines) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-core-gaps-"));
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  fs.writeFileSync(path.join(dir, "bad.js"), 'throw new Error("expected load failure");\n');
  for (const d of ["idx/sub", "ht", "ht2", "ht3"]) fs.mkdirSync(path.join(dir, "site", d), { recursive: true });
  fs.writeFileSync(path.join(dir, "site", "idx", "a.txt"), "hi\n");
  fs.writeFileSync(path.join(dir, "site", "ht", "x.txt"), "x\n");
  fs.writeFileSync(path.join(dir, "site", "ht", ".htaccess"), "ServerSignature On\n");
  fs.writeFileSync(path.join(dir, "site", "ht2", ".htaccess"), "ServerSignature EMail\n");
  fs.writeFileSync(path.join(dir, "site", "ht3", "x.txt"), "x\n");
  fs.writeFileSync(path.join(dir, "site", "ht3", ".htaccess"), "ServerSignature On\n");
  fs.writeFileSync(path.join(dir, "site.conf"), lines.join("\n").replaceAll("@DIR@", dir) + "\n");
  return { dir, conf: path.join(dir, "site.conf") };
}

const BASE = [
  "Listen 127.0.0.1:0",
  "ServerAdmin admin@example.test",
  "ServerTokens Prod",
  "TraceEnable Off",
  "DocumentRoot @DIR@/site",
  'LogFormat "%v|%V|%p|%{canonical}p|%U" t',
  "CustomLog @DIR@/access.log t",
  "<Directory />",
  "    Require all denied",
  "</Directory>",
  "<Directory @DIR@/site>",
  "    Require all granted",
  "    Options Indexes",
  "</Directory>",
  "<Directory @DIR@/site/ht>",
  "    AllowOverride Indexes",
  "</Directory>",
  "<Directory @DIR@/site/ht2>",
  "    AllowOverride AuthConfig",
  "</Directory>",
  "<Directory @DIR@/site/ht3>",
  "    AllowOverride None",
  "    AllowOverrideList Redirect",
  "</Directory>",
  "<Directory @DIR@>",
  "    Require all granted",
  "</Directory>",
  "<Location /idx>",
  "    ServerSignature On",
  "</Location>",
  "<Location /canon>",
  "    UseCanonicalName On",
  "</Location>",
  "<Location /dns>",
  "    UseCanonicalName DNS",
  "</Location>",
  "WSGIScriptAlias /app @DIR@/app.js application-group=%{GLOBAL}",
  "WSGIScriptAlias /worker @DIR@/app.js",
  "<Location /app/sig>",
  "    ServerSignature On",
  "</Location>",
  "<Location /worker>",
  "    ServerSignature On",
  "</Location>",
  // Scripts that fail to load: the 500 page still names ServerAdmin and ends with the footer.
  "WSGIScriptAlias /bad @DIR@/bad.js application-group=%{GLOBAL}",
  "WSGIScriptAlias /badworker @DIR@/bad.js",
  "<LocationMatch ^/bad>",
  "    ServerSignature On",
  "</LocationMatch>",
];

const MAIN = ["ServerName Canon.Example", ...BASE];

const VHOSTS = [
  "ServerName main.test",
  ...BASE,
  "<VirtualHost *>",
  "    ServerName vh.test",
  "    ServerAlias alias1.test",
  "    UseCanonicalName On",
  "</VirtualHost>",
  "<VirtualHost *>",
  "    ServerName vh2.test",
  "    ServerAlias alias2.test",
  "    TraceEnable On",
  "</VirtualHost>",
  "<VirtualHost *>",
  "    ServerName vh3.test:9000",
  "</VirtualHost>",
];

const FOOTER = "<address>nodewsgi Server at x.test Port 8080</address>\n";
const H = { Host: "x.test:8080" };

function readLog(file) {
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
}

describe("core directive gaps: pure parts", () => {
  it("the listing ends with the footer, without the <hr> error pages put before it", () => {
    const html = renderDirectoryListing("/d/", [{ name: "a", isDir: false }], undefined, FOOTER);
    assert.ok(html.endsWith(`</ul>\n${FOOTER}</body></html>\n`));
    assert.ok(renderDirectoryListing("/d/", []).endsWith("</ul>\n</body></html>\n"));
    assert.equal(listingSignature(`<hr>\n${FOOTER}`), FOOTER);
    assert.equal(listingSignature(""), "");
  });

  it("Allow drops TRACE when TraceEnable is Off", () => {
    assert.match(staticAllow(true), /(^|,)TRACE(,|$)/);
    assert.equal(staticAllow(false).split(",").sort().join(","), "GET,HEAD,OPTIONS,POST");
  });

  it("the 500 page is the canned HTML 4.01 page; the footer follows an <hr>", () => {
    const page = internalErrorPage("a@b", FOOTER).toString("latin1");
    assert.ok(page.startsWith('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN"'));
    assert.ok(page.endsWith(`in the server error log.</p>\n<hr>\n${FOOTER}</body></html>\n`));
    assert.ok(internalErrorPage().toString("latin1").endsWith("in the server error log.</p>\n</body></html>\n"));
  });

  it("ServerSignature and LimitRequestBody (httpd's OR_ALL) pass under any AllowOverride class, and only then", () => {
    for (const cls of ["AuthConfig", "FileInfo", "Indexes", "Limit", "Options"]) {
      const r = parseHtaccess("ServerSignature EMail\nLimitRequestBody 10\n", "/srv/.htaccess", { allowOverride: [cls] });
      assert.deepEqual(r.errors, [], cls);
      assert.equal(r.settings.serverSignature.value, "email");
      assert.equal(r.settings.limitRequestBody.value, 10);
    }
    const none = parseHtaccess("ServerSignature On\nRedirect /a /b\n", "/srv/.htaccess", { allowOverride: [], allowOverrideList: ["Redirect"] });
    assert.deepEqual(none.errors.map((e) => [e.line, e.code]), [[1, "E_CONFIG_CONTEXT"]]);
    assert.match(none.errors[0].message, /ServerSignature: not allowed here \(needs AllowOverride any class/);
    const listed = parseHtaccess("ServerSignature On\n", "/srv/.htaccess", { allowOverride: [], allowOverrideList: ["ServerSignature"] });
    assert.deepEqual(listed.errors, []);
    assert.equal(overrideAllows("Any", []), false);
    assert.equal(overrideAllows("FileInfo", ["AuthConfig"]), false);
    assert.equal(overrideAllows(undefined, ["FileInfo"]), false);
  });
});

for (const frontEnd of ["node", "uws"]) {
  describe(`core directive gaps (${frontEnd} front end)`, () => {
    let main;
    let vhosts;
    let p;
    let q;
    let mainSite;
    let vhostSite;
    before(async () => {
      const opts = { engine: jsEngine, frontEnd, errorLog: nullLog, notice: () => {} };
      mainSite = writeSite(MAIN);
      vhostSite = writeSite(VHOSTS);
      main = await Server.start(loadConfig(mainSite.conf), opts);
      vhosts = await Server.start(loadConfig(vhostSite.conf), opts);
      p = main.addresses[0].port;
      q = vhosts.addresses[0].port;
    });
    after(async () => {
      await main?.stop(1000);
      await vhosts?.stop(1000);
    });

    it("ServerSignature: a directory listing ends with the footer (no <hr>)", async () => {
      const r = await request(p, "/idx/", { headers: H });
      assert.equal(r.status, 200);
      assert.ok(r.body.endsWith(`<li><a href="sub/"> sub/</a></li>\n</ul>\n${FOOTER}</body></html>\n`), r.body);
      assert.equal(Number(r.headers["content-length"]), r.bytes.length);
      // The listing of a directory without ServerSignature has none.
      const plain = await request(p, "/ht/", { headers: H });
      assert.ok(plain.body.endsWith(`</ul>\n${FOOTER}</body></html>\n`), "the .htaccess ServerSignature On applies");
    });

    it("ServerSignature: static error pages (405 and 404) carry the footer", async () => {
      const put = await request(p, "/idx/a.txt", { method: "PUT", headers: { ...H, "Content-Length": "0" } });
      assert.equal(put.status, 405);
      assert.ok(put.body.endsWith(`for this URL.</p>\n<hr>\n${FOOTER}</body></html>\n`), put.body);
      const listingPut = await request(p, "/idx/", { method: "PUT", headers: { ...H, "Content-Length": "0" } });
      assert.equal(listingPut.status, 405);
      assert.ok(listingPut.body.endsWith(`<hr>\n${FOOTER}</body></html>\n`));
    });

    it("ServerSignature: an application's 500 page, in-thread and in a worker thread", async () => {
      for (const target of ["/app/sig/fail", "/worker/fail"]) {
        const r = await request(p, target, { headers: H });
        assert.equal(r.status, 500, target);
        assert.ok(r.body.startsWith('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN"'), target);
        assert.ok(r.body.endsWith(`in the server error log.</p>\n<hr>\n${FOOTER}</body></html>\n`), `${target}: ${r.body}`);
        assert.match(r.body, /administrator at \n admin@example\.test to inform/);
        assert.equal(Number(r.headers["content-length"]), r.bytes.length);
      }
      const off = await request(p, "/app/fail", { headers: H });
      assert.equal(off.status, 500);
      assert.ok(off.body.endsWith("in the server error log.</p>\n</body></html>\n"));
    });

    it("a script that fails to load: the 500 page names ServerAdmin and ends with the footer, in-thread and in a worker thread", async () => {
      for (const target of ["/bad", "/badworker/x"]) {
        const r = await request(p, target, { headers: H });
        assert.equal(r.status, 500, target);
        assert.ok(r.body.endsWith(`in the server error log.</p>\n<hr>\n${FOOTER}</body></html>\n`), `${target}: ${r.body}`);
        assert.match(r.body, /administrator at \n admin@example\.test to inform/);
        assert.equal(Number(r.headers["content-length"]), r.bytes.length);
        const head = await request(p, target, { method: "HEAD", headers: H });
        assert.equal(head.status, 500);
        // As every error page of httpd's for HEAD (ap_send_error_response): no length.
        assert.equal(head.headers["content-length"], undefined);
      }
    });

    it("ServerSignature in .htaccess: any AllowOverride class allows it", async () => {
      assert.equal((await request(p, "/ht/x.txt", { headers: H })).status, 200);
      const on = await request(p, "/ht/nothere", { headers: H });
      assert.equal(on.status, 404);
      assert.ok(on.body.endsWith(`<hr>\n${FOOTER}</body></html>\n`), on.body);
      const mail = await request(p, "/ht2/nothere", { headers: { Host: "x.test" } });
      assert.equal(mail.status, 404);
      assert.ok(mail.body.endsWith('<hr>\n<address>nodewsgi Server at <a href="mailto:admin@example.test">x.test</a> Port 80</address>\n</body></html>\n'), mail.body);
      // AllowOverride None with an AllowOverrideList that does not name it: the file is read
      // and the request is a 500 ("ServerSignature not allowed here"), as httpd.
      assert.equal((await request(p, "/ht3/x.txt", { headers: H })).status, 500);
    });

    it("TraceEnable Off: OPTIONS, 405 and 501 answers leave TRACE out of Allow; a virtual host with TraceEnable On lists it", async () => {
      const methods = (a) => (a ?? "").split(",").sort().join(",");
      const opt = await request(p, "/idx/a.txt", { method: "OPTIONS", headers: H });
      assert.equal(opt.status, 200);
      assert.equal(methods(opt.headers.allow), "GET,HEAD,OPTIONS,POST");
      const put = await request(p, "/idx/a.txt", { method: "PUT", headers: { ...H, "Content-Length": "0" } });
      assert.equal(methods(put.headers.allow), "GET,HEAD,OPTIONS,POST");
      const listing = await request(p, "/idx/", { method: "DELETE", headers: H });
      assert.equal(listing.status, 405);
      assert.equal(methods(listing.headers.allow), "GET,HEAD,OPTIONS,POST");
      // A method node's parser knows and httpd does not: 501 (uWS drops methods it does not know).
      if (frontEnd === "node") {
        const unknown = await raw(p, "PURGE /idx/a.txt HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n");
        assert.equal(statusOf(unknown), 501);
        assert.match(unknown, /\r\nAllow: (?!.*TRACE)[A-Z,]+\r\n/);
      }
      // vh.test inherits the main server's Off; vh2.test turns it back On.
      assert.equal(methods((await request(q, "/idx/a.txt", { method: "OPTIONS", headers: { Host: "vh.test" } })).headers.allow), "GET,HEAD,OPTIONS,POST");
      assert.equal(methods((await request(q, "/idx/a.txt", { method: "OPTIONS", headers: { Host: "vh2.test" } })).headers.allow), "GET,HEAD,OPTIONS,POST,TRACE");
    });

    it("Server: the ServerTokens banner on every response, replacing the application's", async () => {
      for (const target of ["/idx/a.txt", "/nothere", "/app/x", "/worker/x"]) {
        const r = await raw(p, `GET ${target} HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n`);
        assert.deepEqual(r.split("\r\n\r\n")[0].match(/^server:.*$/gim), ["Server: nodewsgi"], target);
      }
    });

    it("Server: a graceful restart applies a new ServerTokens", async () => {
      const text = fs.readFileSync(mainSite.conf, "utf8").replace("ServerTokens Prod", "ServerTokens Major");
      const conf = path.join(mainSite.dir, "major.conf");
      fs.writeFileSync(conf, text);
      await main.reload(loadConfig(conf), 500);
      assert.match((await request(p, "/idx/a.txt", { headers: H })).headers.server, /^nodewsgi\/\d+$/);
      await main.reload(loadConfig(mainSite.conf), 500);
      assert.equal((await request(p, "/idx/a.txt", { headers: H })).headers.server, "nodewsgi");
    });

    it("access log: %v is ServerName, %V follows UseCanonicalName, %p is the server's port whatever Host says", async () => {
      await request(p, "/log/1", { headers: { Host: "a.test:7777" } });
      await request(p, "/canon/log/2", { headers: { Host: "a.test:7777" } });
      await request(p, "/dns/log/3", { headers: { Host: "a.test:7777" } });
      await request(q, "/log/4", { headers: { Host: "alias2.test:7777" } });
      await request(q, "/canon/log/5", { headers: { Host: "alias2.test:7777" } });
      await request(q, "/log/6", { headers: { Host: "alias1.test:7777" } });
      await request(q, "/log/7", { headers: { Host: "vh3.test:7777" } });
      await request(q, "/log/8", { headers: { Host: "Other.Test" } });
      if (frontEnd === "node") await raw(p, "GET /log/9 HTTP/1.0\r\n\r\n");
      // %O counts the head the front end completes: Date, and Server with the banner.
      assert.equal(main.accessLog.frontEndHeaderBytes, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n".length + "Server: nodewsgi\r\n".length);
      // A graceful restart closes the old site's logs: what was buffered is written.
      await main.reload(loadConfig(mainSite.conf), 500);
      await vhosts.reload(loadConfig(vhostSite.conf), 500);
      const logged = (dir) => readLog(path.join(dir, "access.log")).filter((l) => /\/log\/\d$/.test(l));
      const mainExpected = [
        "Canon.Example|a.test|80|80|/log/1",
        "Canon.Example|Canon.Example|80|80|/canon/log/2",
        "Canon.Example|127.0.0.1|80|80|/dns/log/3",
      ];
      if (frontEnd === "node") mainExpected.push("Canon.Example|Canon.Example|80|80|/log/9");
      assert.deepEqual(logged(mainSite.dir).slice(-mainExpected.length), mainExpected);
      assert.deepEqual(logged(vhostSite.dir).slice(-5), [
        "vh2.test|alias2.test|80|80|/log/4",
        "vh2.test|vh2.test|80|80|/canon/log/5",
        "vh.test|vh.test|80|80|/log/6",
        "vh3.test|vh3.test|9000|9000|/log/7",
        // An unknown name goes to the first virtual host (UseCanonicalName On there).
        "vh.test|vh.test|80|80|/log/8",
      ]);
    });
  });
}

describe("core directive gaps: a daemon process group", () => {
  let server;
  let port;
  before(async () => {
    const site = writeSite([
      "ServerName Canon.Example",
      ...BASE,
      "WSGIDaemonProcess d processes=1 threads=1",
      "WSGIScriptAlias /daemon @DIR@/app.js process-group=d application-group=%{GLOBAL}",
      "WSGIScriptAlias /baddaemon @DIR@/bad.js process-group=d application-group=%{GLOBAL}",
      "<Location /daemon/sig>",
      "    ServerSignature On",
      "</Location>",
    ]);
    server = await Server.start(loadConfig(site.conf), { engine: jsEngine, frontEnd: "node", errorLog: nullLog, accessLog: null, notice: () => {} });
    port = server.addresses[0].port;
  });
  after(async () => {
    await server?.stop(2000);
  });

  it("the application's 500 page carries the footer; Server replaces the application's", async () => {
    const r = await request(port, "/daemon/sig/fail", { headers: H });
    assert.equal(r.status, 500);
    assert.ok(r.body.endsWith(`in the server error log.</p>\n<hr>\n${FOOTER}</body></html>\n`), r.body);
    // A script that fails to load in the daemon process: the same page (ServerSignature On
    // from the server's <LocationMatch ^/bad>).
    const bad = await request(port, "/baddaemon", { headers: H });
    assert.equal(bad.status, 500);
    assert.ok(bad.body.endsWith(`in the server error log.</p>\n<hr>\n${FOOTER}</body></html>\n`), bad.body);
    assert.match(bad.body, /administrator at \n admin@example\.test to inform/);
    const ok = await raw(port, "GET /daemon/x HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n");
    assert.deepEqual(ok.split("\r\n\r\n")[0].match(/^server:.*$/gim), ["Server: nodewsgi"]);
  });
});
