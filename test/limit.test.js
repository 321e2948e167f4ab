"use strict";
// <Limit> and <LimitExcept> (src/auth/method-limit.ts): access directives inside apply to the
// listed methods only, as httpd 2.4 does. Expected statuses were recorded from Apache 2.4 with
// the same configurations (a static file: 200 when access is granted, 403 when refused).
const { it, describe } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText, parseHtaccess } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { availableEngines } = require("./helpers/engines");

const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-limit-"));
fs.mkdirSync(path.join(root, "htdocs"), { recursive: true });
fs.writeFileSync(path.join(root, "htdocs", "f.txt"), "f\n");
fs.mkdirSync(path.join(root, "apps"), { recursive: true });
fs.writeFileSync(path.join(root, "apps", "a.wsgi"), "exports.application = () => [];\n");
const log = { log() {}, close() {} };
const conf = (lines, extra = []) => parseConfigText(
  [`ServerName localhost`, `DocumentRoot ${root}/htdocs`, ...extra, `<Directory ${root}/htdocs>`, ...lines, `</Directory>`, ""].join("\n"),
  path.join(root, "site.conf"),
);
const request = (method, target = "/f.txt", remoteAddress = "127.0.0.1") => ({
  method, target, protocol: "HTTP/1.1", headers: ["host", "localhost"], remoteAddress, remotePort: 40000,
  localAddress: "127.0.0.1", localPort: 80, scheme: "http",
});
const METHODS = ["GET", "HEAD", "POST", "PUT", "FOO", "DELETE"];

for (const [engineName, engine] of availableEngines()) {
  describe(`<Limit>/<LimitExcept> in the mapper (${engineName})`, () => {
    const statuses = async (lines, methods = METHODS, target) => {
      const mapper = new Mapper(conf(lines), engine, { log });
      const out = {};
      for (const m of methods) {
        const r = await mapper.map(request(m, target));
        out[m] = r.kind === "error" ? r.status : 200;
      }
      return out;
    };
    const cases = [
      ["<Limit POST> Require all denied", ["<Limit POST>", "Require all denied", "</Limit>"], { GET: 200, HEAD: 200, POST: 403, PUT: 200, FOO: 200, DELETE: 200 }],
      ["<LimitExcept GET> Require all denied", ["<LimitExcept GET>", "Require all denied", "</LimitExcept>"], { GET: 200, HEAD: 200, POST: 403, PUT: 403, FOO: 403, DELETE: 403 }],
      ["Require all granted, then <Limit POST> Require all denied (RequireAny)", ["Require all granted", "<Limit POST>", "Require all denied", "</Limit>"], { GET: 200, HEAD: 200, POST: 200, PUT: 200, FOO: 200, DELETE: 200 }],
      ["Require all denied, then <Limit POST> Require all granted", ["Require all denied", "<Limit POST>", "Require all granted", "</Limit>"], { GET: 403, HEAD: 403, POST: 200, PUT: 403, FOO: 403, DELETE: 403 }],
      ["<RequireAll> with a <Limit POST> inside", ["<RequireAll>", "Require all granted", "<Limit POST>", "Require all denied", "</Limit>", "</RequireAll>"], { GET: 200, HEAD: 200, POST: 403, PUT: 200, FOO: 200, DELETE: 200 }],
      ["<Limit POST PUT> Order allow,deny / Deny from all", ["<Limit POST PUT>", "Order allow,deny", "Deny from all", "</Limit>"], { GET: 200, HEAD: 200, POST: 403, PUT: 403, FOO: 200, DELETE: 200 }],
      ["nested <Limit PUT> inside <Limit POST PUT>", ["<Limit POST PUT>", "<Limit PUT>", "Require all denied", "</Limit>", "</Limit>"], { GET: 200, HEAD: 200, POST: 200, PUT: 403, FOO: 200, DELETE: 200 }],
      ["<Limit HEAD> is <Limit GET>", ["<Limit HEAD>", "Require all denied", "</Limit>"], { GET: 403, HEAD: 403, POST: 200, PUT: 200, FOO: 200, DELETE: 200 }],
      ["<Limit get> is a method of its own", ["<Limit get>", "Require all denied", "</Limit>"], { GET: 200, HEAD: 200, POST: 200, PUT: 200, FOO: 200, DELETE: 200 }],
      ["<Limit FOO> registers FOO", ["<Limit FOO>", "Require all denied", "</Limit>"], { GET: 200, HEAD: 200, POST: 200, PUT: 200, FOO: 403, DELETE: 200 }],
      ["Satisfy Any only for GET", ["Require all denied", "Order allow,deny", "Allow from all", "<Limit GET>", "Satisfy Any", "</Limit>"], { GET: 200, HEAD: 200, POST: 403, PUT: 403, FOO: 403, DELETE: 403 }],
    ];
    for (const [name, lines, want] of cases) {
      it(name, async () => assert.deepEqual(await statuses(lines), want));
    }

    it("an application's route plan is not reused across methods when a rule is method-limited", async () => {
      const config = parseConfigText(
        [`ServerName localhost`, `WSGIScriptAlias /app ${root}/apps/a.wsgi`, `<Directory ${root}/apps>`, "<Limit POST>", "Order allow,deny", "Deny from all", "</Limit>", "<LimitExcept GET POST>", "Require all denied", "</LimitExcept>", `</Directory>`, ""].join("\n"),
        path.join(root, "app.conf"),
      );
      const mapper = new Mapper(config, engine, { log });
      for (let i = 0; i < 3; i++) {
        assert.equal((await mapper.map(request("GET", "/app"))).kind, "wsgi");
        assert.equal((await mapper.map(request("POST", "/app"))).status, 403);
        assert.equal((await mapper.map(request("GET", "/app"))).kind, "wsgi");
        assert.equal((await mapper.map(request("PUT", "/app"))).status, 403);
      }
    });
  });
}

describe("<Limit>/<LimitExcept> configuration errors, as httpd's", () => {
  const err = (lines, extra) => {
    try {
      conf(lines, extra);
    } catch (e) {
      return e.errors.map((x) => `${x.code} ${x.line} ${x.directive}: ${x.message}`).join("\n");
    }
    return "";
  };
  it("refuses TRACE in <Limit>, no methods, a nested section excluding everything or narrowing nothing", () => {
    assert.match(err(["<Limit TRACE>", "Require all denied", "</Limit>"]), /^E_CONFIG_VALUE 4 <Limit>: .*TRACE cannot be controlled by <Limit>, see TraceEnable/);
    assert.equal(err(["<LimitExcept TRACE>", "Require all denied", "</LimitExcept>"]), "");
    assert.match(err(["<Limit>", "</Limit>"]), /E_CONFIG_ARGS 4 <Limit>/);
    assert.match(err(["<Limit POST>", "<Limit PUT>", "</Limit>", "</Limit>"]), /E_CONFIG_VALUE 5 <Limit>: .*<Limit> directive excludes all methods/);
    assert.match(err(["<Limit POST PUT>", "<LimitExcept GET>", "</LimitExcept>", "</Limit>"]), /E_CONFIG_VALUE 5 <LimitExcept>: .*<LimitExcept> directive specifies methods already excluded/);
  });
  it("refuses sections inside, and <Limit> outside directory context; other directives inside apply to every method", () => {
    assert.match(err(["<Limit POST>", "<Files x>", "</Files>", "</Limit>"]), /E_CONFIG_CONTEXT 5 <Files>: .*cannot occur within <Limit> or <LimitExcept> section/);
    assert.match(err([], ["<Limit POST>", "Require all denied", "</Limit>"]), /E_CONFIG_CONTEXT 3 <Limit>/);
    const c = conf(["<Limit POST>", "Header set X-A 1", "</Limit>"]);
    assert.ok(c.main.sections[0].settings.headers?.length || JSON.stringify(c.main.sections[0].settings).includes("X-A"));
  });
  it("in .htaccess: <Limit> needs AllowOverride Limit or AuthConfig, what is inside its own class, and built-in methods", () => {
    const ht = (text, allowOverride) => parseHtaccess(text, path.join(root, "htdocs", ".htaccess"), { allowOverride }).errors.map((e) => `${e.code} ${e.directive}: ${e.message}`).join("\n");
    assert.equal(ht("<Limit POST>\nRequire all denied\n</Limit>\n", ["AuthConfig"]), "");
    assert.match(ht("<Limit POST>\nRequire all denied\n</Limit>\n", ["Limit"]), /E_CONFIG_CONTEXT Require/);
    assert.equal(ht("<Limit POST>\nOrder allow,deny\nDeny from all\n</Limit>\n", ["Limit"]), "");
    assert.match(ht("<Limit POST>\nOrder allow,deny\n</Limit>\n", ["AuthConfig"]), /E_CONFIG_CONTEXT Order/);
    assert.match(ht("<Limit POST>\n</Limit>\n", ["FileInfo"]), /E_CONFIG_CONTEXT <Limit>/);
    assert.match(ht("<Limit FOO>\nDeny from all\n</Limit>\n", ["Limit"]), /Could not register method 'FOO' for <Limit from \.htaccess configuration/);
  });
});
