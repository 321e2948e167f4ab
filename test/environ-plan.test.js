"use strict";
// A request answered from a route plan (src/map/route-plan.ts) gets its environ from a list
// made only when asked (CgiEnviron in src/map/environ.ts): the in-thread host builds the
// application's object from one reused list. Whatever path a request takes (the first requests
// to a route are mapped in full, the later ones come from the plan), the application, the
// worker and daemon groups, the access log and the 500 page must see the same environ.
const { it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { mountedSite, MOUNTS, warmUp, startServer, inTurn } = require("./helpers/raw-http");
const { parseConfigText } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { buildEnviron } = require("../dist/app/environ");
const { environPairs } = require("../dist/app/environ-pairs");
const { availableEngines } = require("./helpers/engines");

/** Differ from request to request by design. */
const PER_REQUEST = /^(mod_wsgi\.(request_id|request_start|script_start|daemon_start|thread_id|queue_start))$/;

// Every key in order, string values as they are, other values by type.
const DUMP = `"use strict";
exports.application = (environ, start_response) => {
  const out = Object.keys(environ).map((k) => [k, typeof environ[k] === "string" ? environ[k] : typeof environ[k]]);
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};
`;

const withoutPerRequest = (entries) => entries.filter(([k]) => !PER_REQUEST.test(k));

for (const frontEnd of ["node", "uws"]) {
  it(`route plans (${frontEnd} front end): every request to a route sees the environ a full mapping gives, and the access log reads it`, async () => {
    const site = mountedSite(DUMP, {
      directives: `SetEnv FROM_SETENV yes\nLogFormat "%{FROM_SETENV}e %{QUERY_STRING}e %{HTTP_X_MULTI}e %{mod_wsgi.request_id}e %U" envlog\nCustomLog "@WORK@/env.log" envlog\n`,
    });
    const conf = fs.readFileSync(site.configFile, "utf8").replaceAll("@WORK@", site.work);
    fs.writeFileSync(site.configFile, conf);
    const { server, port } = await startServer(frontEnd, site);
    try {
      await warmUp(port);
      for (const [mount] of MOUNTS) {
        // The first two requests are mapped in full (the second leaves the plan), the rest come from it.
        const req = (i) => `GET ${mount}/info/x?q=${i} HTTP/1.1\r\nHost: a\r\nX-Multi: one\r\nX-Multi: two\r\nAccept: */*\r\n\r\n`;
        const responses = await inTurn(port, [0, 1, 2, 3, 4].map(req));
        const dumps = responses.map((r) => {
          assert.equal(r.status, 200);
          return JSON.parse(r.body.toString("utf8"));
        });
        for (let i = 0; i < dumps.length; i++) {
          const env = Object.fromEntries(dumps[i]);
          assert.equal(env.QUERY_STRING, `q=${i}`, `${mount} request ${i}`);
          assert.equal(env.HTTP_X_MULTI, "one, two");
          assert.equal(env.FROM_SETENV, "yes");
          assert.equal(env.PATH_INFO, "/info/x");
          assert.match(env["mod_wsgi.request_id"], /^[A-Za-z0-9+/]{11}$/);
          const same = (e) => withoutPerRequest(e).map(([k, v]) => (k === "QUERY_STRING" || k === "REQUEST_URI" ? [k, v.replace(/q=\d/, "q=N")] : [k, v]));
          assert.deepEqual(same(dumps[i]), same(dumps[0]), `${mount}: request ${i} (from the plan from 2 on) against the first`);
        }
        const ids = dumps.map((d) => Object.fromEntries(d)["mod_wsgi.request_id"]);
        assert.equal(new Set(ids).size, ids.length);
        // The access log reads the same environ (made for it when the request came from a plan).
        let lines = [];
        for (let t = 0; t < 50; t++) {
          lines = fs.existsSync(`${site.work}/env.log`) ? fs.readFileSync(`${site.work}/env.log`, "utf8").split("\n").filter((l) => l.includes(` ${mount}/info/x`)) : [];
          if (lines.length === 5) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(lines, ids.map((id, i) => `yes q=${i} one, two ${id} ${mount}/info/x`));
      }
    } finally {
      await server.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    }
  });
}

/** Directory blocks to map under: variables the adapter handles itself (the list is used), a plain variable, none. */
const DIRECTORY_LINES = {
  "HTTPS and PATH variables": ["SetEnv HTTPS on", "SetEnv PATH /bin"],
  "a variable": ["SetEnv FROM_SETENV yes", "SetEnv SCRIPT_NAME /overridden"],
  "no variables": [],
};

for (const [engineName, engine] of availableEngines()) {
  for (const [what, lines] of Object.entries(DIRECTORY_LINES)) {
    it(`route plans (${engineName} engine, ${what}): the environ object built for a plan's request equals the one built from a full mapping's list`, async () => {
      const root = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "nodewsgi-envplan-"));
      try {
        fs.mkdirSync(`${root}/apps`);
        fs.writeFileSync(`${root}/apps/one.wsgi`, "exports.application = () => [];\n");
        const text = ["ServerName localhost:8080", "ServerAdmin admin@example.test", `WSGIScriptAlias /app ${root}/apps/`, `<Directory ${root}>`, "    Require all granted", ...lines.map((l) => `    ${l}`), "</Directory>", ""].join("\n");
        const config = parseConfigText(text, path.join(root, "site.conf"));
        const newMapper = () => new Mapper(config, engine, { log: { log() {}, close() {} } });
        const mapper = newMapper();
        const headerSets = [
          ["host", "localhost:8080", "x-a", "1", "x-a", "2", "authorization", "Basic eA=="],
          ["host", "localhost:8080", "x-c", "3"],
        ];
        const req = (i) => ({
          method: i % 3 === 0 ? "GET" : "POST",
          // With and without PATH_INFO (and so PATH_TRANSLATED).
          target: i % 4 < 2 ? `/app/one.wsgi/p/${i}?q=${i}` : `/app/one.wsgi?q=${i}`,
          protocol: "HTTP/1.1",
          headers: headerSets[i % 2],
          remoteAddress: `10.0.0.${i}`,
          remotePort: 4000 + i,
          localAddress: "127.0.0.1",
          localPort: 8080,
          // Requests without PATH_INFO share one plan, so one scheme.
          scheme: i % 4 === 1 ? "https" : "http",
        });
        const optsOf = (i) => ({ urlScheme: i % 4 === 1 ? "https" : "http", input: { i }, errors: {}, multithread: true, multiprocess: true, runOnce: false, ...(i === 9 ? { extra: { "mod_wsgi.thread_id": 1 } } : {}) });
        const allOpts = Array.from({ length: 16 }, (_, i) => optsOf(i));
        const opts = (i) => allOpts[i];
        const strip = (env) => Object.fromEntries(Object.entries(env).filter(([k]) => !PER_REQUEST.test(k)));
        // Each distinct request twice: the second is answered from the plan the first left (after the route cache saw it).
        for (let i = 0; i < 32; i++) await mapper.map(req(i >> 1));
        let direct = 0;
        for (let i = 0; i < 16; i++) {
          const hit = await mapper.map(req(i));
          assert.equal(Array.isArray(hit.environ), false, `request ${i} is answered from the plan`);
          // Whether the object is built without the list (the list is not made by asking).
          if (hit.environ.object(opts(i)) !== null) direct++;
          const env = buildEnviron(hit.environ, opts(i));
          const full = await newMapper().map(req(i));
          assert.equal(Array.isArray(full.environ), true, "mapped in full");
          const want = buildEnviron(full.environ, opts(i));
          assert.deepEqual(Object.keys(env), Object.keys(want), `request ${i}: keys in order`);
          assert.deepEqual(strip(env), strip(want), `request ${i}`);
          assert.equal(env["wsgi.input"], opts(i).input);
          assert.equal(env.QUERY_STRING, `q=${i}`);
          // The list made later for other readers is the full mapping's, with the object's id and time.
          const pairs = environPairs(hit.environ);
          assert.deepEqual(pairs.filter((_, k) => k % 2 === 0), full.environ.filter((_, k) => k % 2 === 0));
          const listed = new Map();
          for (let k = 0; k < pairs.length; k += 2) listed.set(pairs[k], pairs[k + 1]);
          for (const k of ["mod_wsgi.request_id", "mod_wsgi.request_start", "mod_wsgi.script_start", "REMOTE_PORT", "QUERY_STRING", "SERVER_ADMIN"]) assert.equal(listed.get(k), env[k], k);
          assert.equal(environPairs(hit.environ), pairs, "made once");
        }
        if (what.startsWith("HTTPS")) assert.equal(direct, 0);
        else assert.ok(direct >= 8, `only ${direct} of 16 objects were built without the list`);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }
}
