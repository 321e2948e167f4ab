"use strict";
// mod_access_compat (src/auth/access-compat.ts): parsing `Allow from`/`Deny from` arguments as
// allow_cmd does, the address and domain matcher, check_dir_access's three orders, the config
// errors (file, line, directive), and the mapper's Satisfy handling and log lines.
const { it, describe } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseHostRule, inDomain, accessAllowed, accessRequestIndependent, accessNeedsHostName } = require("../dist/auth");
const { parseConfigText } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { availableEngines } = require("./helpers/engines");

function compat(order, allows, denys, satisfy) {
  return { order, allows: allows.map(parseHostRule), denys: denys.map(parseHostRule), ...(satisfy ? { satisfy } : {}) };
}
const client = (remoteAddress, env = {}, hostName) => ({ remoteAddress, env: new Map(Object.entries(env)), hostName });

describe("Allow/Deny arguments", () => {
  it("reads all, env=, env=!, addresses, networks and host names as allow_cmd does", () => {
    assert.deepEqual(parseHostRule("ALL"), { kind: "all" });
    assert.deepEqual(parseHostRule("env=Good"), { kind: "env", name: "Good", negate: false });
    assert.deepEqual(parseHostRule("ENV=!bad"), { kind: "env", name: "bad", negate: true });
    assert.equal(parseHostRule("10.1").kind, "ip");
    assert.equal(parseHostRule("10.0.0.0/255.0.0.0").kind, "ip");
    assert.equal(parseHostRule("2001:db8::/32").kind, "ip");
    assert.deepEqual(parseHostRule("example.org"), { kind: "host", domain: "example.org" });
    assert.deepEqual(parseHostRule(".example.org"), { kind: "host", domain: ".example.org" });
  });

  it("refuses what apr_ipsubnet_create refuses: a bad address, a partial address with a mask, a bad mask", () => {
    assert.throws(() => parseHostRule("300.1.2.3"), /IP address is invalid/);
    assert.throws(() => parseHostRule("10.1/16"), /IP address is invalid/);
    assert.throws(() => parseHostRule("fe80::zz"), /IP address is invalid/);
    assert.throws(() => parseHostRule("10.1.2.3/33"), /network mask is invalid/);
    assert.throws(() => parseHostRule("10.1.2.3/255.0.0.x"), /network mask is invalid/);
  });
});

describe("the matcher", () => {
  it("partial addresses, netmasks and CIDR, IPv4 and IPv6 (and IPv4-mapped clients)", () => {
    const allow = (spec, addr) => accessAllowed(compat("allow,deny", [spec], []), client(addr));
    assert.ok(allow("10.1", "10.1.200.3"));
    assert.ok(!allow("10.1", "10.10.0.1"));
    assert.ok(allow("10.1.0.0/255.255.0.0", "10.1.2.3"));
    assert.ok(allow("192.168.0.0/23", "192.168.1.9"));
    assert.ok(!allow("192.168.0.0/23", "192.168.2.9"));
    assert.ok(allow("127.0.0.1", "::ffff:127.0.0.1"));
    assert.ok(allow("2001:db8::/32", "2001:db8:1::5"));
    assert.ok(!allow("2001:db8::/32", "2001:db9::5"));
    assert.ok(allow("::1", "::1"));
    assert.ok(!allow("::1", "127.0.0.1"));
  });

  it("host names match whole labels of the double-reverse name, without regard to case", () => {
    assert.ok(inDomain("example.org", "www.Example.ORG"));
    assert.ok(inDomain("example.org", "example.org"));
    assert.ok(!inDomain("example.org", "badexample.org"));
    assert.ok(inDomain(".example.org", "www.example.org"));
    assert.ok(!inDomain("www.example.org", "example.org"));
    const ac = compat("allow,deny", ["example.org"], []);
    assert.ok(accessNeedsHostName(ac));
    assert.ok(accessAllowed(ac, client("192.0.2.1", {}, "ws.example.org")));
    assert.ok(!accessAllowed(ac, client("192.0.2.1", {}, null)));
  });

  it("Order: deny,allow lets in unless denied and not allowed; allow,deny and mutual-failure need an allow and no deny", () => {
    const lo = client("127.0.0.1");
    const ten = client("10.0.0.1");
    const da = compat("deny,allow", ["127.0.0.1"], ["all"]);
    assert.ok(accessAllowed(da, lo));
    assert.ok(!accessAllowed(da, ten));
    assert.ok(accessAllowed(compat("deny,allow", [], []), ten), "deny,allow with no rules lets everyone in");
    assert.ok(!accessAllowed(compat("allow,deny", [], []), lo), "allow,deny with no rules keeps everyone out");
    for (const order of ["allow,deny", "mutual-failure"]) {
      const ac = compat(order, ["all"], ["10.0.0.0/8"]);
      assert.ok(accessAllowed(ac, lo));
      assert.ok(!accessAllowed(ac, ten));
    }
  });

  it("env= and env=! test the request's variables, names without regard to case", () => {
    const ac = compat("allow,deny", ["env=GOOD"], ["env=!KNOWN"]);
    assert.ok(accessAllowed(ac, client("10.0.0.1", { good: "1", KNOWN: "" })));
    assert.ok(!accessAllowed(ac, client("10.0.0.1", { GOOD: "1" })));
    assert.ok(!accessAllowed(ac, client("10.0.0.1", { KNOWN: "1" })));
  });

  it("only `all` rules give every request the same answer", () => {
    assert.ok(accessRequestIndependent(compat("allow,deny", ["all"], [])));
    assert.ok(accessRequestIndependent(compat("deny,allow", [], ["all"])));
    assert.ok(!accessRequestIndependent(compat("deny,allow", ["127.0.0.1"], ["all"])));
    assert.ok(!accessRequestIndependent(compat("deny,allow", [], ["env=X"])));
  });
});

describe("configuration", () => {
  const errorOf = (text) => {
    try {
      parseConfigText(text, "/etc/site.conf");
    } catch (e) {
      return e;
    }
    assert.fail(`no error for:\n${text}`);
  };
  const inDir = (line) => `ServerName localhost\n<Directory /srv>\n    ${line}\n</Directory>\n`;

  it("reports bad arguments with file, line and directive", () => {
    for (const [line, pattern] of [
      ["Order foo", /\/etc\/site\.conf:3: Order: unknown order/],
      ["Allow to 10.0.0.1", /\/etc\/site\.conf:3: Allow: allow and deny must be followed by 'from'/],
      ["Allow from", /\/etc\/site\.conf:3: Allow: takes at least 2 arguments/],
      ["Deny from 300.1.2.3", /\/etc\/site\.conf:3: Deny: '300\.1\.2\.3': the IP address is invalid/],
      ["Deny from 10.0.0.0/40", /\/etc\/site\.conf:3: Deny: '10\.0\.0\.0\/40': the network mask is invalid/],
      ["Satisfy Some", /\/etc\/site\.conf:3: Satisfy: .*Any, All; got 'Some'/],
    ]) {
      assert.match(errorOf(inDir(line)).message, pattern, line);
    }
  });

  it("allows them only in per-directory contexts, as OR_LIMIT/OR_AUTHCFG directives", () => {
    assert.match(errorOf("Order allow,deny\n").message, /\/etc\/site\.conf:1: Order: not allowed here/);
    assert.match(errorOf("<VirtualHost *:80>\nSatisfy Any\n</VirtualHost>\n").message, /\/etc\/site\.conf:2: Satisfy: cannot occur within <VirtualHost>/);
  });

  it("a section using any of them replaces the inherited settings wholesale", () => {
    const config = parseConfigText(inDir("Order allow,deny\n    Allow from 10.0.0.1"), "/etc/site.conf");
    const { mergeDirSettings } = require("../dist/config/model");
    const sub = parseConfigText(inDir("Deny from 10.0.0.2"), "/etc/site.conf");
    const settingsOf = (c) => c.main.sections.find((s) => s.kind === "Directory").settings;
    const merged = mergeDirSettings(settingsOf(config), settingsOf(sub));
    assert.equal(merged.accessCompat.order, "deny,allow");
    assert.equal(merged.accessCompat.allows.length, 0);
  });
});

describe("the mapper", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-access-"));
  fs.mkdirSync(path.join(root, "htdocs"), { recursive: true });
  fs.writeFileSync(path.join(root, "htdocs", "f.txt"), "f\n");
  fs.writeFileSync(path.join(root, "htpasswd"), "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
  const memLog = () => {
    const lines = [];
    return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
  };
  const request = (remoteAddress, headers = []) => ({
    method: "GET", target: "/f.txt", protocol: "HTTP/1.1", headers: ["host", "localhost", ...headers], remoteAddress, remotePort: 40000,
    localAddress: "127.0.0.1", localPort: 80, scheme: "http",
  });
  const site = (lines) => parseConfigText(
    [`ServerName localhost`, `DocumentRoot ${root}/htdocs`, `<Directory ${root}/htdocs>`, ...lines.map((l) => `    ${l}`), `</Directory>`, ""].join("\n"),
    path.join(root, "site.conf"),
  );

  for (const [engineName, engine] of availableEngines()) {
    it(`Satisfy All: a denial is a 403 logged as AH01797 by access_compat, with the file name (${engineName})`, async () => {
      const log = memLog();
      const mapper = new Mapper(site(["Require all granted", "Order deny,allow", "Deny from all", "Allow from 127.0.0.1"]), engine, { log });
      assert.equal((await mapper.map(request("127.0.0.1"))).kind, "static");
      const denied = await mapper.map(request("10.0.0.1"));
      assert.equal(denied.status, 403);
      assert.equal(denied.reasonModule, "access_compat");
      assert.equal(denied.reason, `AH01797: client denied by server configuration: ${root}/htdocs/f.txt`);
    });

    it(`Satisfy Any: an allowed client skips Require and authentication; a denied one is logged and asked to authenticate (${engineName})`, async () => {
      const log = memLog();
      const mapper = new Mapper(site(["AuthType Basic", 'AuthName "R"', `AuthUserFile ${root}/htpasswd`, "Require valid-user", "Satisfy Any", "Deny from all", "Allow from 127.0.0.1"]), engine, { log });
      const lo = await mapper.map(request("127.0.0.1"));
      assert.equal(lo.kind, "static");
      const ten = await mapper.map(request("10.0.0.1"));
      assert.equal(ten.status, 401);
      assert.deepEqual(ten.headers, [["WWW-Authenticate", 'Basic realm="R"']]);
      assert.match(log.lines[0], /^\[access_compat:error\] \[client 10\.0\.0\.1:40000\] .*AH01797: client denied by server configuration: .*\/htdocs\/f\.txt$/);
      const user = await mapper.map(request("10.0.0.1", ["authorization", "Basic YWxpY2U6cGFzc3dvcmQ="]));
      assert.equal(user.kind, "static");
    });

    it(`Satisfy Any: every refusal is logged, also for an application request repeated from a route plan (${engineName})`, async () => {
      fs.mkdirSync(path.join(root, "apps"), { recursive: true });
      fs.writeFileSync(path.join(root, "apps", "a.wsgi"), "exports.application = () => [];\n");
      const config = parseConfigText(
        [`ServerName localhost`, `WSGIScriptAlias /app ${root}/apps/a.wsgi`, `<Directory ${root}/apps>`, "    Require all granted", "    Satisfy Any", "    Deny from all", `</Directory>`, ""].join("\n"),
        path.join(root, "app.conf"),
      );
      const log = memLog();
      const mapper = new Mapper(config, engine, { log });
      for (let i = 0; i < 3; i++) assert.equal((await mapper.map({ ...request("127.0.0.1"), target: "/app" })).kind, "wsgi");
      assert.equal(log.lines.filter((l) => l.includes("AH01797")).length, 3);
    });

    it(`a host-name rule waits for DNS without blocking: the mapper answers with a promise (${engineName})`, async () => {
      const mapper = new Mapper(site(["Order allow,deny", "Allow from host.invalid"]), engine, { log: memLog() });
      const pending = mapper.map(request("127.0.0.1"));
      assert.ok(pending instanceof Promise);
      assert.equal((await pending).status, 403);
    });
  }
});

it("host-name lookups: at most two at once on libuv's thread pool (static files share it), the others wait their turn", async () => {
  const dns = require("node:dns");
  const { doubleReverseName } = require("../dist/auth/access-compat");
  const saved = { lookupService: dns.promises.lookupService, lookup: dns.promises.lookup };
  let running = 0;
  let most = 0;
  dns.promises.lookupService = async () => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    return { hostname: "client.example.test", service: "0" };
  };
  dns.promises.lookup = async () => [];
  try {
    const addrs = ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14", "192.0.2.15", "192.0.2.16"];
    const names = await Promise.all(addrs.map((a) => doubleReverseName(a)));
    // The forward lookup names no address of the client: no name, as httpd's double reverse check.
    assert.deepEqual(names, addrs.map(() => null));
    assert.equal(most, 2);
  } finally {
    Object.assign(dns.promises, saved);
  }
});
