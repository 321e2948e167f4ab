"use strict";
// Which virtual host answers, and the SERVER_NAME/SERVER_PORT it reports (in the environ, in
// self-referential redirects and in the ServerSignature footer), on both engines and both
// front ends; .htaccess files under an AllowOverrideList alone. Expected values were recorded
// from Apache 2.4.71 + mod_wsgi 4.9.4 on the same configuration:
//   - name-based selection compares the Host name with ServerName's name part
//     (`c.test` selects `ServerName c.test:9000`, `e.test` selects `ServerName https://e.test`);
//   - the port is never the <VirtualHost> address's: UseCanonicalName On reports ServerName's
//     port, else the scheme's default; Off the Host header's port, else ServerName's, else the
//     default; under On the name is ServerName's as written (`Mixed.Test`);
//   - ServerName's scheme (`https://e.test`) is the scheme of self-referential redirects and
//     REQUEST_SCHEME (wsgi.url_scheme stays the connection's), and mod_wsgi's default
//     application group is ServerName's name, the request's port unless 80/443, SCRIPT_NAME;
//   - AllowOverride None with an AllowOverrideList still reads .htaccess files: a listed
//     directive applies, any other is a 500.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText } = require("../dist/config");
const { jsEngine } = require("../dist/engine/js-engine");
const { availableEngines } = require("./helpers/engines");
const { siteServer } = require("./helpers/site-server");
const { configuredName, selectHost } = require("../dist/map/host");
const { request, raw } = require("./helpers/http");

const APP = `exports.application = (e, sr) => {
  const out = {};
  for (const k of ["SERVER_NAME", "SERVER_PORT", "SERVER_ADMIN", "SERVER_SIGNATURE"]) out[k] = e[k];
  sr("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};
`;

const GROUP_APP = `exports.application = (e, sr) => {
  sr("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify({ group: e["mod_wsgi.application_group"], scheme: e.REQUEST_SCHEME, urlScheme: e["wsgi.url_scheme"] })];
};
`;


function writeSite(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-host-selection-"));
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  fs.writeFileSync(path.join(dir, "group.js"), GROUP_APP);
  for (const d of ["dir", "lst", "lst2"]) fs.mkdirSync(path.join(dir, "site", d), { recursive: true });
  fs.writeFileSync(path.join(dir, "site", "lst", "x.txt"), "x\n");
  fs.writeFileSync(path.join(dir, "site", "lst", ".htaccess"), "Redirect /lst/from /lst/to\n");
  fs.writeFileSync(path.join(dir, "site", "lst2", "x.txt"), "x\n");
  fs.writeFileSync(path.join(dir, "site", "lst2", ".htaccess"), "ServerSignature Off\n");
  const vhost = (name, admin) => [`<VirtualHost *:${port}>`, `    ServerName ${name}`, `    ServerAdmin ${admin}`, "    ServerSignature On", "</VirtualHost>"];
  const lines = [
    `Listen 127.0.0.1:${port}`,
    "ServerName main.test",
    "ServerAdmin main@example.test",
    "ServerTokens Prod",
    `DocumentRoot ${dir}/site`,
    "<Directory />",
    "    Require all denied",
    "</Directory>",
    `<Directory ${dir}>`,
    "    Require all granted",
    "</Directory>",
    `<Directory ${dir}/site/lst>`,
    "    AllowOverride None",
    "    AllowOverrideList Redirect",
    "</Directory>",
    `<Directory ${dir}/site/lst2>`,
    "    AllowOverride None",
    "    AllowOverrideList Redirect",
    "</Directory>",
    `WSGIScriptAlias /on/app ${dir}/app.js application-group=%{GLOBAL}`,
    `WSGIScriptAlias /off/app ${dir}/app.js`,
    `WSGIScriptAlias /off/group ${dir}/group.js`,
    `Alias /on/s/ ${dir}/site/`,
    `Alias /off/s/ ${dir}/site/`,
    "<Location /on>",
    "    UseCanonicalName On",
    "</Location>",
    "<Location /off>",
    "    UseCanonicalName Off",
    "</Location>",
    ...vhost("a.test", "a@example.test"),
    ...vhost("c.test:9000", "c@example.test"),
    ...vhost("https://e.test", "e@example.test"),
    ...vhost("Mixed.Test", "m@example.test"),
  ];
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(conf, lines.join("\n") + "\n");
  return conf;
}

describe("host selection: pure parts", () => {
  const config = parseConfigText(
    [
      "ServerName main.test",
      "<VirtualHost *:18191>",
      "    ServerName a.test",
      "</VirtualHost>",
      "<VirtualHost 127.0.0.1:18193>",
      "    ServerName B.Test",
      "</VirtualHost>",
      "<VirtualHost *:18191>",
      "    ServerName vh3.test:9000",
      "</VirtualHost>",
      "<VirtualHost *:18191>",
      "    ServerName https://vh4.test",
      "</VirtualHost>",
    ].join("\n"),
  );
  const [a, b, vh3, vh4] = config.virtualHosts;

  it("a virtual host's port is ServerName's (or its scheme's), never the <VirtualHost> address's", () => {
    assert.deepEqual(configuredName(config, a), { name: "a.test", port: undefined });
    // The name keeps its case, as httpd reports it.
    assert.deepEqual(configuredName(config, b), { name: "B.Test", port: undefined });
    assert.deepEqual(configuredName(config, vh3), { name: "vh3.test", port: "9000" });
    assert.deepEqual(configuredName(config, vh4), { name: "vh4.test", port: "443", scheme: "https" });
  });

  it("selection compares ServerName's name part with the Host name", () => {
    assert.equal(selectHost(config, "vh3.test", 18191), vh3);
    assert.equal(selectHost(config, "vh4.test", 18191), vh4);
    assert.equal(selectHost(config, "b.test", 18193), b);
    assert.equal(selectHost(config, "b.test", 0), b);
    // The whole ServerName is not a name a Host header can carry: the first host on the port.
    assert.equal(selectHost(config, "vh3.test:9000", 18191), a);
    assert.equal(selectHost(config, "other.test", 18191), a);
  });

  it("identityName/identityPort (the map phase's allocation-free form) agree with serverIdentity", () => {
    const { identityName, identityPort, serverIdentity } = require("../dist/map/host");
    const names = [configuredName(config, a), configuredName(config, vh3), configuredName(config, vh4)];
    for (const use of [undefined, "off", "on", "dns"])
      for (const conf of names)
        for (const [name, port] of [[undefined, undefined], ["h.test", undefined], ["h.test", "7777"]])
          for (const scheme of ["http", "https"])
            for (const local of ["127.0.0.1", "::ffff:10.0.0.1", "::1"]) {
              const id = serverIdentity(use, conf, { name, port }, scheme, local);
              assert.equal(identityName(use, conf, name, local), id.serverName);
              assert.equal(identityPort(use, conf, port, scheme), id.serverPort);
            }
    assert.equal(identityPort("on", configuredName(config, vh3), "7777", "http"), "9000");
    assert.equal(identityPort("off", configuredName(config, vh4), undefined, "http"), "443");
    assert.equal(identityName("dns", configuredName(config, a), "h.test", "::ffff:10.0.0.1"), "10.0.0.1");
  });

  it("HostTables work out the host's identity once: ServerName's parts, UseCanonicalName, ServerAdmin, the banner", () => {
    const { HostTables } = require("../dist/map/host-tables");
    const { serverBanner } = require("../dist/map/host");
    const c = parseConfigText(
      [
        "ServerName main.test",
        "ServerAdmin root@main.test",
        "ServerTokens Prod",
        "UseCanonicalName On",
        "<VirtualHost *:80>",
        "    ServerName https://v.test",
        "</VirtualHost>",
        "<VirtualHost *:80>",
        "    ServerName w.test:8080",
        "    ServerAdmin w@w.test",
        "    UseCanonicalName DNS",
        "</VirtualHost>",
      ].join("\n"),
    );
    const [v, w] = c.virtualHosts.map((h) => new HostTables(c, h, jsEngine));
    assert.deepEqual([v.configured, v.useCanonicalName, v.serverAdmin, v.serverBanner], [{ name: "v.test", port: "443", scheme: "https" }, "on", "root@main.test", "nodewsgi"]);
    assert.deepEqual([w.configured, w.useCanonicalName, w.serverAdmin, w.serverBanner], [{ name: "w.test", port: "8080" }, "dns", "w@w.test", serverBanner(c.serverTokens)]);
  });

  it("HostTables.environSignature: SERVER_SIGNATURE as ap_psignature, remembered while name, port and mode repeat", () => {
    const { HostTables } = require("../dist/map/host-tables");
    const { serverSignature } = require("../dist/map/host");
    const c = parseConfigText("ServerName main.test\nServerAdmin <a>&b@main.test\nServerTokens Prod\n");
    const t = new HostTables(c, c.main, jsEngine);
    assert.equal(t.environSignature(undefined, "main.test", "80"), "");
    assert.equal(t.environSignature("off", "main.test", "80"), "");
    const on = t.environSignature("on", "main.test", "80");
    assert.equal(on, "<address>nodewsgi Server at main.test Port 80</address>\n");
    assert.equal(t.environSignature("on", "main.test", "80"), on);
    assert.equal(t.environSignature("on", "h.test", "8080"), "<address>nodewsgi Server at h.test Port 8080</address>\n");
    assert.equal(t.environSignature("email", "h.test", "8080"), serverSignature("email", "", "nodewsgi", "h.test", "8080", "<a>&b@main.test"));
    assert.match(t.environSignature("email", "h.test", "8080"), /href="mailto:&lt;a&gt;&amp;b@main\.test"/);
    // httpd's ap_is_url takes any scheme of letters, digits, + - . (even a digit first) as a URL.
    assert.match(serverSignature("email", "", "b", "n", "80", "https://example.test/contact"), /href="https:\/\/example\.test\/contact"/);
    assert.match(serverSignature("email", "", "b", "n", "80", "3com:admin"), /href="3com:admin"/);
    assert.match(serverSignature("email", "", "b", "n", "80", ":admin@x"), /href="mailto::admin@x"/);
    assert.match(serverSignature("email", "", "b", "n", "80", "admin@x"), /href="mailto:admin@x"/);
    assert.equal(t.environSignature("on", "main.test", "80"), on);
  });

  it("ServerAlias patterns (case-insensitive, * and ?); a request without Host compares no names", () => {
    const c = parseConfigText(
      [
        "ServerName main.test",
        "<VirtualHost *:80>",
        "    ServerName first.test",
        "</VirtualHost>",
        "<VirtualHost *:80>",
        "    ServerName w.test",
        "    ServerAlias *.Wild.test x?.test exact.test",
        "</VirtualHost>",
        "<VirtualHost *:80>",
        "    ServerName any.test",
        "    ServerAlias *",
        "</VirtualHost>",
      ].join("\n"),
    );
    const [first, w, any] = c.virtualHosts;
    assert.equal(selectHost(c, "a.wild.test", 80), w);
    assert.equal(selectHost(c, "a.wild.test", 80), w); // the compiled pattern, again
    assert.equal(selectHost(c, "xy.test", 80), w);
    assert.equal(selectHost(c, "exact.test", 80), w);
    assert.equal(selectHost(c, "xyz.test", 80), any);
    assert.equal(selectHost(c, "wild.test", 80), any);
    // httpd's check_hostalias needs r->hostname: no Host header is the address's first host,
    // not one whose `ServerAlias *` matches an empty name.
    assert.equal(selectHost(c, "", 80), first);
  });
});

const engines = availableEngines();

// [Host header, UseCanonicalName, SERVER_NAME, SERVER_PORT, the redirect's origin] as Apache gave them.
const MATRIX = [
  ["a.test", "on", "a.test", "80", "http://a.test"],
  ["a.test", "off", "a.test", "80", "http://a.test"],
  ["a.test:7777", "on", "a.test", "80", "http://a.test"],
  ["a.test:7777", "off", "a.test", "7777", "http://a.test:7777"],
  ["c.test", "on", "c.test", "9000", "http://c.test:9000"],
  ["c.test", "off", "c.test", "9000", "http://c.test:9000"],
  ["c.test:7777", "on", "c.test", "9000", "http://c.test:9000"],
  ["C.Test:7777", "off", "c.test", "7777", "http://c.test:7777"],
  // The scheme given in ServerName is the redirects' (httpd's server_scheme), 443 its default port.
  ["e.test", "on", "e.test", "443", "https://e.test"],
  ["e.test", "off", "e.test", "443", "https://e.test"],
  ["e.test:7777", "on", "e.test", "443", "https://e.test"],
  ["e.test:7777", "off", "e.test", "7777", "https://e.test:7777"],
  ["e.test:80", "off", "e.test", "80", "https://e.test:80"],
  // ServerName keeps its case under On; Off reports the Host header's name.
  ["mixed.test", "on", "Mixed.Test", "80", "http://Mixed.Test"],
  ["MIXED.test", "off", "mixed.test", "80", "http://mixed.test"],
];
const ADMIN = { "a.test": "a@example.test", "c.test": "c@example.test", "e.test": "e@example.test", "mixed.test": "m@example.test" };
// mod_wsgi's default application group: ServerName's host name (no scheme, no port, its case),
// the request's port unless 80 or 443, `|`, SCRIPT_NAME (the /on mount runs in %{GLOBAL}).
const GROUP = { "a.test": "a.test", "c.test": "c.test", "e.test": "e.test", "mixed.test": "Mixed.Test" };

for (const [engineName, engine] of engines) {
  for (const frontEnd of ["node", "uws"]) {
    describe(`host selection (${engineName} engine, ${frontEnd} front end)`, () => {
      const site = siteServer(writeSite, engine, frontEnd);

      it("SERVER_NAME and SERVER_PORT, the signature and self-referential redirects follow ServerName and Host as in httpd", async () => {
        for (const [host, canonical, name, serverPort, origin] of MATRIX) {
          const what = `${host} (UseCanonicalName ${canonical})`;
          const footer = `<address>nodewsgi Server at ${name} Port ${serverPort}</address>\n`;
          const app = await request(site.port, `/${canonical}/app`, { headers: { Host: host } });
          assert.equal(app.status, 200, what);
          if (canonical === "off") {
            const group = JSON.parse((await request(site.port, "/off/group", { headers: { Host: host } })).body);
            const p = serverPort === "80" || serverPort === "443" ? "" : `:${serverPort}`;
            assert.deepEqual(group, { group: `${GROUP[name.toLowerCase()]}${p}|/off/group`, scheme: origin.slice(0, origin.indexOf(":")), urlScheme: "http" }, what);
          }
          assert.deepEqual(JSON.parse(app.body), { SERVER_NAME: name, SERVER_PORT: serverPort, SERVER_ADMIN: ADMIN[name.toLowerCase()], SERVER_SIGNATURE: footer }, what);
          const missing = await request(site.port, `/${canonical}/s/nothere`, { headers: { Host: host } });
          assert.equal(missing.status, 404, what);
          assert.ok(missing.body.endsWith(`<hr>\n${footer}</body></html>\n`), `${what}: ${missing.body}`);
          if (origin !== null) {
            const slash = await request(site.port, `/${canonical}/s/dir`, { headers: { Host: host } });
            assert.equal(slash.status, 301, what);
            assert.equal(slash.headers.location, `${origin}/${canonical}/s/dir/`, what);
          }
        }
      });

      it("an unknown name, or no Host header, goes to the first virtual host on the port with the scheme's port", async () => {
        const other = JSON.parse((await request(site.port, "/on/app", { headers: { Host: "Other.Test:7777" } })).body);
        assert.deepEqual([other.SERVER_NAME, other.SERVER_PORT, other.SERVER_ADMIN], ["a.test", "80", "a@example.test"]);
        if (frontEnd === "uws") return; // uWS refuses HTTP/1.0
        for (const canonical of ["on", "off"]) {
          const r = await raw(site.port, `GET /${canonical}/app HTTP/1.0\r\n\r\n`);
          const e = JSON.parse(r.slice(r.indexOf("\r\n\r\n") + 4));
          assert.deepEqual([e.SERVER_NAME, e.SERVER_PORT, e.SERVER_ADMIN], ["a.test", "80", "a@example.test"], canonical);
          const slash = await raw(site.port, `GET /${canonical}/s/dir HTTP/1.0\r\n\r\n`);
          assert.match(slash, new RegExp(`\\r\\nLocation: http://a\\.test/${canonical}/s/dir/\\r\\n`));
        }
      });

      it("AllowOverride None with an AllowOverrideList: .htaccess is read, listed directives apply, others give 500", async () => {
        const H = { Host: "a.test:7777" };
        assert.equal((await request(site.port, "/lst/x.txt", { headers: H })).status, 200);
        const moved = await request(site.port, "/lst/from", { headers: H });
        assert.equal(moved.status, 302);
        assert.equal(moved.headers.location, "http://a.test:7777/lst/to");
        const refused = await request(site.port, "/lst2/x.txt", { headers: H });
        assert.equal(refused.status, 500);
        assert.match(refused.body, /administrator at \n a@example\.test to inform/);
      });
    });
  }
}
