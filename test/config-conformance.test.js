"use strict";
// Every conformance scenario's configuration, wrapped in against.py's BASE, loads without errors.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");

const candidates = [path.join(__dirname, "fixtures", "conformance"), "/work/shared/conformance"];
const corpus = candidates.find((d) => fs.existsSync(path.join(d, "scenarios")) && fs.existsSync(path.join(d, "against.py")));

test("conformance scenario configurations load cleanly", { skip: !corpus && "no conformance corpus" }, () => {
  const base = /BASE = """([\s\S]*?)"""/.exec(fs.readFileSync(path.join(corpus, "against.py"), "utf8"))[1];
  const names = fs.readdirSync(path.join(corpus, "scenarios")).filter((f) => f.endsWith(".json")).sort();
  assert.ok(names.length > 0);
  for (const name of names) {
    const scenario = JSON.parse(fs.readFileSync(path.join(corpus, "scenarios", name), "utf8"));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-conf-"));
    const root = path.join(work, "site");
    const srv = path.join(work, "server");
    fs.mkdirSync(path.join(root, "htdocs"), { recursive: true });
    fs.mkdirSync(srv);
    const conf = base.replaceAll("{srv}", srv).replaceAll("{root}", root).replaceAll("{port}", "18180") + scenario.config.replaceAll("@ROOT@", root) + "\n";
    fs.writeFileSync(path.join(srv, "server.conf"), conf);
    let cfg;
    try {
      cfg = loadConfig(path.join(srv, "server.conf"));
    } catch (e) {
      assert.fail(`${name}: ${e.message}`);
    }
    // A scenario may list the notices nodewsgi owes it (what httpd accepts without effect), in order.
    const owed = scenario.config_notices ?? [];
    assert.equal(cfg.notices.length, owed.length, `${name}: ${JSON.stringify(cfg.notices)}`);
    owed.forEach((text, i) => assert.ok(cfg.notices[i].includes(text), `${name}: ${cfg.notices[i]} does not say ${text}`));
    assert.equal(cfg.main.serverName.value, "localhost", name);
    assert.deepEqual(cfg.listen.map((l) => [l.host, l.port]), [["127.0.0.1", 18180]], name);
    assert.equal(cfg.main.documentRoot.value, path.join(root, "htdocs"), name);
    assert.equal(cfg.main.sections[0].pattern, "/", name);
    fs.rmSync(work, { recursive: true, force: true });
  }
});
