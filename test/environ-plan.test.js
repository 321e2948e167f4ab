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

// The worker and daemon encoders send a plan's request from its parts (src/groups/environ-codec.ts
// encodeParts), without the list: what the other side decodes must be the list, key for key, on
// rings shared with requests that do carry a list, across many plans and layout numbers reused
// (least recently used first), and for a daemon group's rewrite (keys dropped, pairs appended).
const { EnvironLayouts, LayoutTable, encodeEnviron, decodeEnviron, sameBytes, stringsBound, writeStrings } = require("../dist/groups/environ-codec");

const DAEMON_DROP = new Set(["mod_wsgi.process_group", "mod_wsgi.daemon_connects", "mod_wsgi.daemon_restarts", "mod_wsgi.queue_start", "mod_wsgi.daemon_start"]);

/** The list a daemon group sends (daemon-protocol's rewrite, spelled out). */
function daemonList(list, extra) {
  const out = [];
  for (let i = 0; i < list.length; i += 2) if (!DAEMON_DROP.has(list[i])) out.push(list[i], list[i + 1]);
  return [...out, ...extra];
}

/** Encode `env` on `layouts` and decode it with `table`, as the two ends of a ring do. */
function hop(env, layouts, table, x) {
  const strings = [];
  const enc = encodeEnviron(env, layouts, strings, x);
  const text = strings.join("");
  const b = Buffer.alloc(sameBytes(enc) + stringsBound(strings.length, text) + 8);
  if (enc.same !== null) b.set(enc.same, 0);
  const n = writeStrings(b, sameBytes(enc), strings, text);
  return { enc, environ: decodeEnviron(b, 0, enc.layout, enc.keys, enc.pairs, 0, strings.length, n, table).environ };
}

for (const [engineName, engine] of availableEngines()) {
  for (const [what, lines] of Object.entries({ ...DIRECTORY_LINES, "a variable a daemon group replaces": ["SetEnv mod_wsgi.queue_start early", "SetEnv X y"] })) {
    it(`route plans (${engineName} engine, ${what}): the worker and daemon encoders send a plan's environ without its list, and the other side decodes the list`, async () => {
      const root = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "nodewsgi-envwire-"));
      try {
        fs.mkdirSync(`${root}/apps`);
        fs.writeFileSync(`${root}/apps/one.wsgi`, "exports.application = () => [];\n");
        fs.writeFileSync(`${root}/apps/two.wsgi`, "exports.application = () => [];\n");
        const text = [
          "ServerName localhost:8080",
          `WSGIScriptAlias /app ${root}/apps/`,
          `WSGIScriptAlias /one ${root}/apps/one.wsgi`,
          `<Directory ${root}>`, "    Require all granted", ...lines.map((l) => `    ${l}`), "</Directory>",
          `<Directory ${root}/apps/two>`, "    SetEnv ONLY_TWO 2", "</Directory>", "",
        ].join("\n");
        const config = parseConfigText(text, path.join(root, "site.conf"));
        const mapper = new Mapper(config, engine, { log: { log() {}, close() {} } });
        const headerSets = [
          ["host", "localhost:8080", "x-a", "1"],
          ["host", "localhost:8080", "x-a", "1", "accept", "*/*"],
          ["host", "localhost:8080", "x-b", "é"],
        ];
        const targets = ["/app/one.wsgi", "/app/one.wsgi/p", "/app/two.wsgi/q/r", "/one", "/one/x", "/app/two.wsgi"];
        const req = (i) => ({
          method: i % 5 === 0 ? "POST" : "GET",
          target: `${targets[i % targets.length]}?i=${i % 4}`,
          protocol: "HTTP/1.1",
          headers: headerSets[(i >> 1) % headerSets.length],
          remoteAddress: "10.0.0.1",
          remotePort: 4000 + (i % 3),
          localAddress: "127.0.0.1",
          localPort: 8080,
          scheme: "http",
        });
        // Leave a plan on every route (the second request to a route makes it).
        for (let i = 0; i < 36; i++) await mapper.map(req(i % 18));
        // Small tables: layout numbers are replaced as plans and header sets come and go.
        const rings = [
          { x: null, layouts: new EnvironLayouts(3), table: new LayoutTable() },
          { x: { drop: DAEMON_DROP, extra: ["mod_wsgi.process_group", "pg", "mod_wsgi.daemon_connects", "1", "mod_wsgi.daemon_restarts", "0", "mod_wsgi.queue_start", ""] }, layouts: new EnvironLayouts(3), table: new LayoutTable() },
        ];
        let fromParts = 0;
        for (let i = 0; i < 90; i++) {
          const n = (i * 7) % 18;
          for (const ring of rings) {
            const hit = await mapper.map(req(n));
            assert.equal(Array.isArray(hit.environ), false, `request ${n} is answered from the plan`);
            if (ring.x !== null) ring.x.extra[7] = String(i);
            const { enc, environ } = hop(hit.environ, ring.layouts, ring.table, ring.x);
            // The list was not made to encode it, unless the request must use it.
            if (hit.environ.list === null) fromParts++;
            const list = environPairs(hit.environ);
            assert.deepEqual(environ, ring.x === null ? [...list] : daemonList(list, ring.x.extra), `request ${i} (${targets[n % targets.length]}), ${ring.x ? "daemon" : "worker"} ring, layout ${enc.layout}`);
            // A request mapped in full (a list) on the same ring, between plan hits.
            if (i % 10 === 3) {
              const full = await new Mapper(config, engine, { log: { log() {}, close() {} } }).map(req(n));
              assert.equal(Array.isArray(full.environ), true);
              const back = hop(full.environ, ring.layouts, ring.table, ring.x).environ;
              assert.deepEqual(back, ring.x === null ? full.environ : daemonList(full.environ, ring.x.extra));
            }
          }
        }
        if (what.startsWith("a variable a daemon")) assert.equal(fromParts, 90, "the worker ring from parts, the daemon ring from the list");
        else assert.equal(fromParts, 180);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }
}

it("a plan's request takes the layout number a list with the same keys has on its ring", async () => {
  const root = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "nodewsgi-envwire-"));
  try {
    fs.writeFileSync(`${root}/one.wsgi`, "exports.application = () => [];\n");
    const text = ["ServerName localhost:8080", `WSGIScriptAlias /one ${root}/one.wsgi`, `<Directory ${root}>`, "    Require all granted", "</Directory>", ""].join("\n");
    const config = parseConfigText(text, path.join(root, "site.conf"));
    const [, engine] = availableEngines()[0];
    const mapper = new Mapper(config, engine, { log: { log() {}, close() {} } });
    const req = (i) => ({ method: "GET", target: `/one?i=${i}`, protocol: "HTTP/1.1", headers: ["host", "localhost:8080"], remoteAddress: "10.0.0.1", remotePort: 4000 + i, localAddress: "127.0.0.1", localPort: 8080, scheme: "http" });
    const layouts = new EnvironLayouts();
    const table = new LayoutTable();
    // The route's first requests are mapped in full: their list numbers the layout.
    const first = hop((await mapper.map(req(0))).environ, layouts, table, null);
    assert.equal(first.enc.keys, true);
    await mapper.map(req(1));
    const hit = await mapper.map(req(2));
    assert.equal(Array.isArray(hit.environ), false);
    const planned = hop(hit.environ, layouts, table, null);
    assert.equal(planned.enc.layout, first.enc.layout, "the same number");
    assert.equal(planned.enc.keys, false, "the keys do not travel again");
    assert.equal(hit.environ.list, null, "encoded from its parts");
    // (Whether a receiver keeps one string object per key across definitions cannot be seen
    // from JavaScript: string comparison is by value. It is a matter of speed only.)
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
