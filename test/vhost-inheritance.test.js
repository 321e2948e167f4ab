"use strict";
// A <VirtualHost> inherits the main server's per-directory settings, each merged under the
// host's own by its directive's rule (httpd's ap_fixup_virtual_hosts), and mod_rewrite's
// server config (RewriteEngine, RewriteOptions Inherit). On both engines and both front ends;
// the expected values were recorded from Apache 2.4.71 + mod_wsgi 4.9.4 on the same
// configuration (the signature's banner aside).
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText } = require("../dist/config");
const { availableEngines } = require("./helpers/engines");
const { siteServer } = require("./helpers/site-server");
const { SectionIndex } = require("../dist/map/sections");
const { Mapper } = require("../dist/map/mapper");
const { mergeServerRewrite } = require("../dist/config/model");
const { request } = require("./helpers/http");

const nullLog = { log() {}, close() {} };

const APP = `exports.application = (e, sr) => {
  const out = {};
  for (const k of ["SERVER_SIGNATURE", "MAINVAR", "BVAR", "SEI_MAIN", "HTTP_AUTHORIZATION"]) if (k in e) out[k] = e[k];
  sr("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};
`;


function writeSite(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-vhost-inheritance-"));
  const htdocs = path.join(dir, "htdocs");
  for (const d of ["sub", "idx", "rd"]) fs.mkdirSync(path.join(htdocs, d), { recursive: true });
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  fs.writeFileSync(path.join(htdocs, "t.txt"), "hello\n");
  fs.writeFileSync(path.join(htdocs, "sub", "f.txt"), "f\n");
  fs.writeFileSync(path.join(htdocs, "idx", "idx.html"), "<p>idx</p>\n");
  const lines = [
    `Listen 127.0.0.1:${port}`,
    "ServerName localhost",
    "ServerTokens Prod",
    `DocumentRoot ${htdocs}`,
    "<Directory />",
    "    Require all denied",
    "</Directory>",
    `<Directory ${dir}>`,
    "    Require all granted",
    "</Directory>",
    // Per-directory directives at server level: every virtual host starts from these.
    "ServerSignature On",
    "AddDefaultCharset utf-8",
    "SetEnv MAINVAR main",
    'SetEnvIf Request_URI "^" SEI_MAIN=1',
    "Options Indexes",
    "DirectoryIndex idx.html",
    "LimitRequestBody 10",
    "Header set X-Main yes",
    "WSGIPassAuthorization On",
    `WSGIScriptAlias /app ${dir}/app.js`,
    "RewriteEngine On",
    `<Directory ${htdocs}/rd>`,
    "    RewriteRule ^x$ /t.txt [R]",
    "</Directory>",
    `<VirtualHost *:${port}>`,
    "    ServerName a.test",
    "</VirtualHost>",
    `<VirtualHost *:${port}>`,
    "    ServerName b.test",
    "    ServerSignature Off",
    "    Options -Indexes",
    "    AddDefaultCharset Off",
    "    SetEnv BVAR b",
    "    UnsetEnv MAINVAR",
    "    DirectoryIndex other.html",
    "    LimitRequestBody 0",
    "    WSGIPassAuthorization Off",
    "    Header set X-Vh b",
    "</VirtualHost>",
    `<VirtualHost *:${port}>`,
    "    ServerName c.test",
    "    RewriteRule ^/rw$ /t.txt [R]",
    "</VirtualHost>",
    `<VirtualHost *:${port}>`,
    "    ServerName off.test",
    "    RewriteEngine Off",
    "    RewriteRule ^/rw$ /t.txt [R]",
    "</VirtualHost>",
    `<VirtualHost *:${port}>`,
    "    ServerName inh.test",
    "    RewriteOptions Inherit",
    "    RewriteRule ^/vh$ /t.txt [R]",
    "</VirtualHost>",
    "RewriteRule ^/mainrule$ /t.txt [R]",
  ];
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(conf, lines.join("\n") + "\n");
  return conf;
}

describe("vhost inheritance: the merged base", () => {
  it("a virtual host's section base is the main server's settings merged under its own", () => {
    const config = parseConfigText(
      [
        "ServerSignature On",
        "Options Indexes MultiViews",
        "SetEnv A main",
        "DirectoryIndex main.html",
        "<VirtualHost *:80>",
        "    ServerName v.test",
        "    Options -MultiViews",
        "    SetEnv B vh",
        "</VirtualHost>",
      ].join("\n"),
    );
    const base = new SectionIndex(config.virtualHosts[0], config.main).serverSettings;
    assert.equal(base.serverSignature.value, "on");
    assert.deepEqual(base.options.opts, ["Indexes"]);
    assert.deepEqual(base.env.map((e) => e.name), ["A", "B"]);
    assert.deepEqual(base.directoryIndex.value, ["main.html"]);
    // The main server's own index is unchanged, and a host given as its own main inherits nothing twice.
    assert.deepEqual(new SectionIndex(config.main, config.main).serverSettings.env.map((e) => e.name), ["A"]);
  });

  it("mod_rewrite's server merge: engine and options inherited, rules only under Inherit*", () => {
    const rule = (p) => ({ pattern: p });
    const main = { engine: true, rules: [rule("m")], pendingConditions: [] };
    assert.deepEqual(mergeServerRewrite(main, { rules: [rule("v")], pendingConditions: [] }), { engine: true, rules: [rule("v")], pendingConditions: [] });
    assert.equal(mergeServerRewrite(main, { engine: false, rules: [], pendingConditions: [] }).engine, false);
    const inherit = (options) => mergeServerRewrite(main, { options, rules: [rule("v")], pendingConditions: [] }).rules.map((r) => r.pattern);
    assert.deepEqual(inherit(["Inherit"]), ["v", "m"]);
    assert.deepEqual(inherit(["InheritBefore"]), ["m", "v"]);
    const down = { ...main, options: ["InheritDown"] };
    assert.deepEqual(mergeServerRewrite(down, { rules: [rule("v")], pendingConditions: [] }).rules.map((r) => r.pattern), ["v", "m"]);
    assert.deepEqual(mergeServerRewrite(down, { options: ["IgnoreInherit"], rules: [rule("v")], pendingConditions: [] }).rules.map((r) => r.pattern), ["v"]);
  });

  it("a virtual host sees the main server's RewriteMaps only under Inherit*, as mod_rewrite merges them", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-rwmap-"));
    try {
      fs.writeFileSync(path.join(dir, "main.map"), "key from-main\n");
      fs.writeFileSync(path.join(dir, "own.map"), "key from-host\n");
      const host = (name, options, ownMap) => [
        "<VirtualHost *:80>",
        `    ServerName ${name}`,
        "    RewriteEngine On",
        ...(options ? [`    RewriteOptions ${options}`] : []),
        ...(ownMap ? [`    RewriteMap m txt:${dir}/own.map`] : []),
        "    RewriteRule ^/look$ /got/${m:key|no-map} [R=302,L]",
        "</VirtualHost>",
      ];
      const text = [
        "ServerName localhost",
        `DocumentRoot ${dir}`,
        `RewriteMap m txt:${dir}/main.map`,
        ...host("plain.test"),
        ...host("inherit.test", "Inherit"),
        ...host("before.test", "InheritBefore"),
        ...host("own-after.test", "Inherit", true),
        ...host("own-before.test", "InheritBefore", true),
        "",
      ].join("\n");
      const config = parseConfigText(text, path.join(dir, "site.conf"));
      for (const [, engine] of engines) {
        const mapper = new Mapper(config, engine, { log: nullLog });
        const look = async (name) => {
          const r = await mapper.map({ method: "GET", target: "/look", protocol: "HTTP/1.1", headers: ["host", name], remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 80, scheme: "http" });
          return r.kind === "redirect" ? new URL(r.location).pathname : r.kind;
        };
        assert.equal(await look("plain.test"), "/got/no-map");
        assert.equal(await look("inherit.test"), "/got/from-main");
        assert.equal(await look("before.test"), "/got/from-main");
        // The same name in both: the host's own under Inherit, the main server's under InheritBefore.
        assert.equal(await look("own-after.test"), "/got/from-host");
        assert.equal(await look("own-before.test"), "/got/from-main");
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const engines = availableEngines();

for (const [engineName, engine] of engines) {
  for (const frontEnd of ["node", "uws"]) {
    describe(`vhost inheritance (${engineName} engine, ${frontEnd} front end)`, () => {
      const site = siteServer(writeSite, engine, frontEnd);
      const get = (host, target, opts = {}) => request(site.port, target, { ...opts, headers: { Host: host, ...(opts.headers ?? {}) } });

      it("the application sees the server's ServerSignature, SetEnv, SetEnvIf and WSGIPassAuthorization unless the host sets its own", async () => {
        const auth = { headers: { Authorization: "Basic dTpw" } };
        const a = await get("a.test", "/app", auth);
        assert.equal(a.status, 200);
        assert.equal(a.headers["x-main"], "yes");
        assert.deepEqual(JSON.parse(a.body), {
          SERVER_SIGNATURE: "<address>nodewsgi Server at a.test Port 80</address>\n",
          MAINVAR: "main",
          SEI_MAIN: "1",
          HTTP_AUTHORIZATION: "Basic dTpw",
        });
        const b = await get("b.test", "/app", auth);
        assert.equal(b.status, 200);
        assert.deepEqual([b.headers["x-main"], b.headers["x-vh"]], ["yes", "b"]);
        assert.deepEqual(JSON.parse(b.body), { SERVER_SIGNATURE: "", BVAR: "b", SEI_MAIN: "1" });
      });

      it("LimitRequestBody, AddDefaultCharset, Options and DirectoryIndex from the server level, overridden per host", async () => {
        const body = "x".repeat(20);
        assert.equal((await get("a.test", "/app", { method: "POST", body })).status, 413);
        assert.equal((await get("b.test", "/app", { method: "POST", body })).status, 200);
        assert.equal((await get("a.test", "/t.txt")).headers["content-type"], "text/plain; charset=utf-8");
        assert.equal((await get("b.test", "/t.txt")).headers["content-type"], "text/plain");
        const listing = await get("a.test", "/sub/");
        assert.equal(listing.status, 200);
        assert.match(listing.body, /<a href="f\.txt">/);
        assert.ok(listing.body.endsWith("</ul>\n<address>nodewsgi Server at a.test Port 80</address>\n</body></html>\n"), listing.body);
        const idx = await get("a.test", "/idx/");
        assert.deepEqual([idx.status, idx.body, idx.headers["content-type"]], [200, "<p>idx</p>\n", "text/html; charset=utf-8"]);
        assert.equal((await get("b.test", "/sub/")).status, 403);
        assert.equal((await get("b.test", "/idx/")).status, 403);
      });

      it("RewriteEngine and RewriteOptions Inherit reach virtual hosts as mod_rewrite merges them", async () => {
        const cases = [
          // [host, target, status, location]
          ["c.test", "/rw", 302, "http://c.test/t.txt"], // the main server's RewriteEngine On
          ["c.test", "/rd/x", 302, "http://c.test/t.txt"], // and the <Directory> rules it enables
          ["c.test", "/mainrule", 404, undefined], // the main server's rules are not inherited
          ["off.test", "/rw", 404, undefined],
          ["off.test", "/rd/x", 404, undefined],
          ["inh.test", "/vh", 302, "http://inh.test/t.txt"],
          ["inh.test", "/mainrule", 302, "http://inh.test/t.txt"], // RewriteOptions Inherit
        ];
        for (const [host, target, status, location] of cases) {
          const r = await get(host, target);
          assert.deepEqual([r.status, r.headers.location], [status, location], `${host}${target}`);
        }
      });
    });
  }
}
