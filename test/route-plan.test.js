"use strict";
// Route plans (src/map/route-plan.ts) must never change an answer: a mapper that has seen many
// requests (and answers repeats from its plans) maps every request exactly as a new mapper
// does. Generated sites mix directives that look at the request (SetEnvIf, Require, Allow/Deny,
// rewrite conditions, RequestHeader, trusted proxies, MultiViews) with ones that do not; generated
// requests repeat paths with other methods, headers, clients and Host headers. Seeded.
const { it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { availableEngines } = require("./helpers/engines");
const { prng, pick, comparableMapResult } = require("./helpers/generated");

const nullLog = { log() {}, close() {} };

let modesTime = 1_700_000_000;
/** The txt map's file, with a new mtime each time (the map is re-read when it changes). */
function writeModes(root, value) {
  const file = path.join(root, "modes.txt");
  fs.writeFileSync(file, `localhost:8080 ${value}\nexample.test ${value}\n`);
  modesTime += 10;
  fs.utimesSync(file, modesTime, modesTime);
}

function toggleFlag(root) {
  const flag = path.join(root, "flag");
  if (fs.existsSync(flag)) fs.rmSync(flag);
  else fs.writeFileSync(flag, "");
}

function makeTree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-plan-"));
  for (const f of ["apps/one.wsgi", "apps/two.wsgi", "apps/sub/three.wsgi", "htdocs/idx.wsgi", "htdocs/page.html", "htdocs/page.txt"]) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), "exports.application = () => [];\n");
  }
  // Hook scripts that look at the request (ServerRoot-relative in DIR_LINES).
  fs.writeFileSync(path.join(root, "access.js"), 'exports.allow_access = (e) => (e.HTTP_X_MODE === "b" ? false : e.HTTP_X_MODE === "a" ? true : null);\n');
  fs.writeFileSync(path.join(root, "dispatch.js"), 'exports.application_group = (e) => (e.HTTP_X_MODE === "a" ? "ga" : null);\n');
  writeModes(root, "no");
  return root;
}

/** Directives that make a mapping depend on the request, and some that do not. */
const DIR_LINES = [
  "SetEnvIf X-Mode ^a$ MODE=a",
  "SetEnv FIXED yes",
  "Require method GET HEAD",
  "Require ip 127.0.0.1",
  "Require env MODE",
  "Require all granted",
  "RequestHeader set X-Seen %{MODE}e",
  "WSGITrustedProxyHeaders X-Forwarded-For\n    WSGITrustedProxies 127.0.0.1",
  "RewriteEngine On\n    RewriteCond %{HTTP:X-Mode} =b\n    RewriteRule ^ - [E=FROM_REWRITE:b]",
  "RewriteEngine On\n    RewriteCond %{QUERY_STRING} go\n    RewriteRule ^one\\.wsgi$ two.wsgi",
  "Options +MultiViews",
  "Redirect /app/gone /elsewhere",
  "WSGIApplicationGroup %{ENV:FIXED}",
  "WSGIProcessGroup %{ENV:MODE}",
  "UseCanonicalName On",
  "Order deny,allow\n    Deny from all\n    Allow from 127.0.0.1",
  "Order allow,deny\n    Allow from env=MODE",
  "Satisfy Any\n    Deny from 10.0.0.0/8",
  "Order allow,deny\n    Allow from all",
  "Require expr \"%{HTTP:X-Mode} != 'b'\"",
  "SetEnvIfExpr \"%{HTTP:X-Mode} == 'a'\" EXPR_MODE=a",
  "Header set X-Expr seen \"expr=%{HTTP:X-Mode} == 'a'\"",
  "RequestHeader set X-Expr-In \"expr=%{REMOTE_ADDR}\"",
  "WSGIAccessScript access.js",
  "WSGIDispatchScript dispatch.js",
  "<If \"%{HTTP:X-Mode} == 'a'\">\n        SetEnv IFMODE a\n    </If>\n    <Else>\n        Require method GET\n    </Else>",
  "<If \"%{QUERY_STRING} =~ /go/ && -R '127.0.0.0/8'\">\n        WSGIApplicationGroup if-group\n    </If>",
];

/** <Location>/<If> sections that switch the server's rules or redirect while the URL is translated. */
const EARLY_LINES = [
  "<Location /m/two>\n    RewriteEngine On\n</Location>",
  "RewriteEngine On\n<Location /m/two>\n    RewriteEngine Off\n</Location>",
  "RewriteEngine On\n<If \"%{HTTP:X-Mode} == 'b'\">\n    RewriteEngine Off\n</If>",
  "<Location /m>\n    <If \"%{HTTP:X-Mode} == 'a'\">\n        RewriteEngine On\n    </If>\n</Location>",
  "<Location /app/sub>\n    <If \"%{QUERY_STRING} =~ /go/\">\n        Redirect /moved\n    </If>\n</Location>",
  "<LocationMatch ^/app/two>\n    Redirect 410\n</LocationMatch>",
];

/**
 * Server-context rules (with the lines they need before them). The first ones read only the
 * URL-path, the Host header and the listener (a request no rule changed keeps its plan); the
 * rest read the query, other headers, the method, the client, the disk, a map file, the
 * process environment or an expression, whose answers change from request to request.
 */
const SERVER_RULES = [
  ["RewriteCond %{HTTPS} =on", "RewriteRule ^/app/two\\.wsgi(.*)$ /app/one.wsgi$1 [PT]"],
  ["RewriteCond %{HTTP_HOST} ^example\\.test$ [NC]", "RewriteRule ^/app/one\\.wsgi$ /app/sub/three.wsgi [PT]"],
  ["RewriteCond %{SERVER_NAME} =other.test", "RewriteRule ^/app/ - [E=OTHER:%{SERVER_PORT}]"],
  ["RewriteRule ^/old/(.*)$ /app/$1 [R=301,L]"],
  ["RewriteCond %{HTTP:host} ^LOCALHOST", "RewriteRule ^/app/(one|two)\\.wsgi$ /app/$1 [PT]"],
  ["RewriteCond %{REQUEST_URI} ^/h/", "RewriteCond %{REQUEST_SCHEME} =https", "RewriteRule ^ - [F]"],
  ["RewriteCond %{SERVER_PORT} !=8080", "RewriteRule ^/app/sub/ - [G]"],
  ["RewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} ^(.+)/page$", "RewriteRule ^/h/page$ - [E=PAGE:%1]"],
  ["RewriteRule ^/extra$ /h/page [PT]"],
  // Outside the key:
  ["RewriteCond %{QUERY_STRING} go", "RewriteRule ^/app/one\\.wsgi$ /app/two.wsgi [PT]"],
  ["RewriteCond %{HTTP:X-Mode} =a", "RewriteRule ^/app/(one|two)\\.wsgi$ /app/sub/three.wsgi [PT]"],
  ["RewriteCond %{REQUEST_METHOD} =POST", "RewriteRule ^/app/one\\.wsgi$ - [E=POSTED:1]"],
  ["RewriteCond %{REMOTE_ADDR} ^10\\.", "RewriteRule ^ - [E=CLIENT:ten]"],
  ["RewriteCond %{LA-U:REMOTE_ADDR} ^10\\.", "RewriteRule ^/app/one\\.wsgi$ /app/two.wsgi [PT]"],
  ["RewriteCond %{THE_REQUEST} \\?go", "RewriteRule ^/app/sub/three\\.wsgi$ /app/one.wsgi [PT]"],
  ["RewriteCond ROOT/flag -f", "RewriteRule ^/app/one\\.wsgi$ /app/two.wsgi [PT]"],
  ["RewriteMap modes txt:ROOT/modes.txt", "RewriteCond ${modes:%{HTTP_HOST}|none} =yes", "RewriteRule ^/app/one\\.wsgi$ /app/sub/three.wsgi [PT]"],
  ["RewriteCond %{ENV:NODEWSGI_PLAN_TEST} =1", "RewriteRule ^/app/two\\.wsgi(.*)$ /app/one.wsgi$1 [PT]"],
  ["RewriteCond expr \"%{HTTP:X-Mode} == 'b'\"", "RewriteRule ^/app/two\\.wsgi(.*)$ /app/one.wsgi$1 [PT]"],
  ["RewriteCond %{HTTP_HOST} ^nomatch$ [OR]", "RewriteCond %{HTTP:Accept} html", "RewriteRule ^/app/one\\.wsgi$ - [E=HTML:1]"],
  ["RewriteCond %{HTTP_HOST} =localhost:8080", "RewriteCond %{HTTP:X-Mode} =b", "RewriteRule ^/app/one\\.wsgi$ /app/two.wsgi [PT]"],
  // PATH_TRANSLATED's subrequest for /app/two.wsgi/extra runs these on `/extra`.
  ["RewriteCond %{HTTP:X-Mode} =a", "RewriteRule ^/extra$ /h/page.txt"],
];

/** 1-3 server-context rules; RewriteMap lines first, as they are server-wide. */
function serverRules(r, root) {
  const picked = [];
  for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) picked.push(...pick(r, SERVER_RULES).map((l) => l.replace("ROOT", root)));
  return [...picked.filter((l) => l.startsWith("RewriteMap")), ...picked.filter((l) => !l.startsWith("RewriteMap"))];
}

function genConfig(r, root) {
  const lines = ["ServerName localhost:8080", `DocumentRoot ${root}/htdocs`, `WSGIScriptAlias /app ${root}/apps/`, `WSGIScriptAliasMatch ^/m/(one|two)$ ${root}/apps/$1.wsgi`, `Alias /h ${root}/htdocs`];
  lines.push(`<Directory ${root}>`, "    Require all granted", "    Options ExecCGI", "    AddHandler wsgi-script .wsgi", "    DirectoryIndex idx.wsgi", "</Directory>");
  // Set only on the way through /h/ (DirectoryIndex), not on a direct request for its index.
  lines.push('<LocationMatch "^/h/$">', "    SetEnv VIA index", "</LocationMatch>");
  const n = 1 + Math.floor(r() * 3);
  const body = [];
  for (let i = 0; i < n; i++) body.push(`    ${pick(r, DIR_LINES)}`);
  lines.push(`<Directory ${root}/apps>`, ...body, "</Directory>");
  if (r() < 0.3) {
    const rules = r() < 0.5 ? ["RewriteEngine On", ...serverRules(r, root)] : [];
    lines.push("<VirtualHost *:8080>", "    ServerName example.test", `    WSGIScriptAlias /app ${root}/apps/`, ...rules.map((l) => `    ${l}`), "</VirtualHost>");
  }
  // Server-context rules, the engine on here or only in the early sections below.
  if (r() < 0.5) lines.push(...(r() < 0.7 ? ["RewriteEngine On"] : []), ...serverRules(r, root));
  if (r() < 0.3) lines.push("RewriteEngine On", "RewriteCond %{REMOTE_ADDR} ^10\\.", "RewriteRule ^/app/one\\.wsgi$ /app/two.wsgi [PT]");
  // Sections merged before the URL is translated (the early walk): path-only or request-reading.
  if (r() < 0.4) lines.push("RewriteRule ^/m/two$ /app/sub/three.wsgi [PT]", pick(r, EARLY_LINES));
  return lines.join("\n") + "\n";
}

const TARGETS = ["/app/one.wsgi", "/h/", "/h/idx.wsgi", "/app/one.wsgi?go=1", "/app/two.wsgi/extra", "/app/sub/three.wsgi", "/m/one", "/app/one", "/h/page", "/app/gone", "/m/two", "/app/sub/three.wsgi?go"];

function genRequest(r) {
  // Mostly one Host, scheme and path: a plan is only used for a repeat of all three.
  const headers = ["host", r() < 0.8 ? "localhost:8080" : pick(r, ["example.test", "LOCALHOST:8080", "other.test:8080"])];
  if (r() < 0.5) headers.push("x-mode", pick(r, ["a", "b"]));
  if (r() < 0.3) headers.push("x-forwarded-for", pick(r, ["192.0.2.1", "198.51.100.7"]));
  if (r() < 0.3) headers.push("accept", pick(r, ["text/html", "text/plain"]));
  return {
    method: pick(r, ["GET", "GET", "GET", "POST", "HEAD", "TRACE"]),
    target: r() < 0.6 ? pick(r, TARGETS.slice(0, 3)) : pick(r, TARGETS),
    protocol: "HTTP/1.1",
    headers,
    remoteAddress: pick(r, ["127.0.0.1", "127.0.0.1", "10.0.0.5"]),
    remotePort: 40000,
    localAddress: "127.0.0.1",
    localPort: 8080,
    scheme: r() < 0.85 ? "http" : "https",
  };
}

for (const [engineName, engine] of availableEngines()) {
  it(`route plans (${engineName} engine): a mapper that has seen earlier requests answers each one as a new mapper does`, async (t) => {
    const root = makeTree();
    const r = prng(20261121);
    let wsgiResults = 0;
    let plannedBehindRules = 0;
    try {
      for (let c = 0; c < 60; c++) {
        const text = genConfig(r, root);
        const config = parseConfigText(text, path.join(root, `gen-${c}.conf`));
        const warm = new Mapper(config, engine, { log: nullLog });
        const serverRulesRun = /^RewriteEngine On$/m.test(text) && /^RewriteRule/m.test(text);
        for (let q = 0; q < 50; q++) {
          const req = genRequest(r);
          // What rules outside the plan's key read besides the request: the disk, a map file, the environment.
          if (r() < 0.15) toggleFlag(root);
          if (r() < 0.15) writeModes(root, pick(r, ["yes", "no"]));
          if (r() < 0.15) process.env.NODEWSGI_PLAN_TEST = pick(r, ["0", "1"]);
          const got = await warm.map(req);
          const want = await new Mapper(config, engine, { log: nullLog }).map(req);
          assert.deepEqual(comparableMapResult(got), comparableMapResult(want), `config:\n${text}\nrequest #${q}: ${JSON.stringify(req)}`);
          if (got.kind === "wsgi") wsgiResults++;
          // Answered from a plan although the server's rules ran for its path.
          if (got.kind === "wsgi" && !Array.isArray(got.environ) && serverRulesRun) plannedBehindRules++;
        }
      }
    } finally {
      delete process.env.NODEWSGI_PLAN_TEST;
      fs.rmSync(root, { recursive: true, force: true });
    }
    assert.ok(wsgiResults > 600, `only ${wsgiResults} application requests: the generator proves little`);
    // Plans expire with their route-cache entry (200 ms): a slow machine makes fewer (about 147 here).
    assert.ok(plannedBehindRules > 50, `only ${plannedBehindRules} answers from plans behind server-context rules`);
    t.diagnostic(`${engineName}: ${wsgiResults} application requests, ${plannedBehindRules} from plans behind server-context rules`);
  });
}

/** Requests for the paths SERVER_RULES look at, varying everything those rules read. */
function genRuleRequest(r) {
  const headers = ["host", r() < 0.7 ? "localhost:8080" : pick(r, ["example.test", "LOCALHOST:8080", "other.test:8080"])];
  if (r() < 0.4) headers.push("x-mode", pick(r, ["a", "b"]));
  if (r() < 0.3) headers.push("accept", pick(r, ["text/html", "text/plain"]));
  return {
    method: pick(r, ["GET", "GET", "POST", "HEAD"]),
    target: pick(r, ["/app/one.wsgi", "/app/one.wsgi", "/app/one.wsgi?go=1", "/app/two.wsgi/extra", "/app/two.wsgi/extra", "/app/sub/three.wsgi", "/app/sub/three.wsgi?go", "/h/page", "/old/one.wsgi"]),
    protocol: "HTTP/1.1",
    headers,
    remoteAddress: pick(r, ["127.0.0.1", "127.0.0.1", "10.0.0.5"]),
    remotePort: 40000,
    localAddress: "127.0.0.1",
    localPort: 8080,
    scheme: r() < 0.85 ? "http" : "https",
  };
}

for (const [engineName, engine] of availableEngines()) {
  it(`route plans (${engineName} engine): server-context rewrite rules keep a plan only where they read the path, Host and listener alone`, async (t) => {
    const root = makeTree();
    const r = prng(20261122);
    let planned = 0;
    try {
      for (let c = 0; c < 80; c++) {
        const lines = ["ServerName localhost:8080", `DocumentRoot ${root}/htdocs`, `WSGIScriptAlias /app ${root}/apps/`, `Alias /h ${root}/htdocs`];
        lines.push(`<Directory ${root}>`, "    Require all granted", "    Options ExecCGI", "    AddHandler wsgi-script .wsgi", "</Directory>");
        if (r() < 0.2) lines.push("<VirtualHost *:8080>", "    ServerName example.test", `    WSGIScriptAlias /app ${root}/apps/`, "    RewriteEngine On", "    RewriteOptions Inherit", "</VirtualHost>");
        lines.push("RewriteEngine On", ...serverRules(r, root), ...(r() < 0.5 ? serverRules(r, root) : []));
        const text = lines.join("\n") + "\n";
        const config = parseConfigText(text, path.join(root, `rules-${c}.conf`));
        const warm = new Mapper(config, engine, { log: nullLog });
        for (let q = 0; q < 60; q++) {
          const req = genRuleRequest(r);
          if (r() < 0.15) toggleFlag(root);
          if (r() < 0.15) writeModes(root, pick(r, ["yes", "no"]));
          if (r() < 0.15) process.env.NODEWSGI_PLAN_TEST = pick(r, ["0", "1"]);
          const got = await warm.map(req);
          const want = await new Mapper(config, engine, { log: nullLog }).map(req);
          assert.deepEqual(comparableMapResult(got), comparableMapResult(want), `config:\n${text}\nrequest #${q}: ${JSON.stringify(req)}`);
          if (got.kind === "wsgi" && !Array.isArray(got.environ)) planned++;
        }
      }
    } finally {
      delete process.env.NODEWSGI_PLAN_TEST;
      fs.rmSync(root, { recursive: true, force: true });
    }
    // About 530 on an idle machine; plans expire with their route-cache entry (200 ms).
    assert.ok(planned > 200, `only ${planned} answers from plans: the generator proves little`);
    t.diagnostic(`${engineName}: ${planned} answers from plans behind server-context rules`);
  });
}

/**
 * Server-context rules that do rewrite the request, with the paths they match. The first ones
 * qualify (rewritesOnlyByPathAndHost: the outcome is a function of the path, Host and listener
 * and the query stays the request's), the rest each break one of its checks: a query in the
 * substitution, QSA, QSD, QSL, a trailing `?`, UnsafeAllow3F, a header or the query read by the
 * substitution or E=, a map, CO=, [R], [N], a file path outcome (PATH_TRANSLATED's subrequest).
 * `plans`: a request for the group's own paths is answered from a plan (T= qualifies, but a forced
 * type keeps the mapping out of the route cache; E=ONE's paths are the plain /app/ ones).
 */
const REWRITING_RULES = [
  { lines: ["RewriteRule ^/f/(.*)$ /app/$1 [PT,E=FRONT:$1]"], targets: ["/f/one.wsgi", "/f/two.wsgi/extra", "/f/sub/three.wsgi"], plans: true },
  { lines: ["RewriteRule ^/o/(.*)$ /n/$1", "RewriteRule ^/n/(.*)$ /app/$1 [PT,E=VIA:%{REQUEST_FILENAME}]"], targets: ["/o/one.wsgi", "/n/one.wsgi", "/app/one.wsgi"], plans: true },
  { lines: ["RewriteCond %{HTTP_HOST} ^([^:]+)", "RewriteRule ^/hh/(.*)$ /app/$1/%1 [PT,E=H:%{SERVER_NAME}:%{HTTPS}:%{SERVER_PORT}]"], targets: ["/hh/one.wsgi"], plans: true },
  { lines: ["RewriteRule ^/c/(.*)$ /app/$1 [C]", "RewriteRule ^/app/one\\.wsgi(.*)$ /app/two.wsgi$1 [PT]"], targets: ["/c/one.wsgi", "/c/sub/three.wsgi", "/app/one.wsgi"], plans: true },
  { lines: ["RewriteRule ^/k/(.*)$ /app/$1 [S=1]", "RewriteRule ^/app/ /app/sub/three.wsgi [PT]"], targets: ["/k/one.wsgi", "/app/two.wsgi"], plans: true },
  // B escapes what is not alphanumeric in $1: a name without any reaches a script.
  { lines: ["RewriteRule ^/b/(\\w+)\\.wsgi$ /app/$1.wsgi [B,NE,NS,END,PT]"], targets: ["/b/one.wsgi", "/b/two.wsgi"], plans: true },
  { lines: ["RewriteRule ^/app/one - [E=ONE:%{REQUEST_URI}]"], targets: ["/app/one.wsgi", "/app/one.wsgi/extra"], plans: false },
  { lines: ["RewriteRule ^/t/(.*)$ /app/$1 [PT,T=text/x-t]"], targets: ["/t/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/l/(.*)$ /app/$1 [PT,L]", "RewriteRule ^/extra$ /app/one.wsgi [PT]"], targets: ["/l/two.wsgi/extra", "/extra"], plans: true },
  // Each breaks one check:
  { lines: ["RewriteRule ^/q/(.*)$ /app/$1?fixed=1 [PT]"], targets: ["/q/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/qa/(.*)$ /app/$1?added=1 [PT,QSA]"], targets: ["/qa/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/qd/(.*)$ /app/$1 [PT,QSD]"], targets: ["/qd/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/ql/(.*)$ /app/$1?x=1 [PT,QSA,QSL]"], targets: ["/ql/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/qn/(.*)$ /app/$1? [PT]"], targets: ["/qn/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/u/(.*)$ /app/$1 [PT,UnsafeAllow3F]"], targets: ["/u/one.wsgi%3Fa=1", "/u/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/e/(.*)$ /app/$1 [PT,E=MODE:%{HTTP:X-Mode}]"], targets: ["/e/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/eq/(.*)$ /app/$1 [PT,E=Q:%{QUERY_STRING}]"], targets: ["/eq/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/v/(.*)$ /app/$1/%{HTTP:X-Mode} [PT]"], targets: ["/v/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/ht/(.*)$ /app/$1 [PT,H=%{HTTP:X-Handler}]"], targets: ["/ht/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/ty/(.*)$ /app/$1 [PT,T=%{HTTP:X-Handler}]"], targets: ["/ty/one.wsgi"], plans: false },
  { lines: ["RewriteMap modes txt:ROOT/modes.txt", "RewriteRule ^/mp/(.*)$ /app/$1 [PT,E=MAPPED:${modes:%{HTTP_HOST}|none}]"], targets: ["/mp/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/co/(.*)$ /app/$1 [PT,CO=seen:1:example.test]"], targets: ["/co/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/r/(.*)$ /app/$1 [R=302]"], targets: ["/r/one.wsgi"], plans: false },
  { lines: ["RewriteRule ^/nn/x(.*)$ /nn/$1 [N]", "RewriteRule ^/nn/(.*)$ /app/$1 [PT]"], targets: ["/nn/xxone.wsgi"], plans: false },
  { lines: ["RewriteRule ^/px$ /h/page.txt"], targets: ["/app/two.wsgi/px"], plans: false },
];

/** The group whose own path (its first segment, /app/ aside) a request asks for, if any. */
function groupOfTarget(target) {
  const first = target.split("?")[0].split("/")[1];
  if (first === "app") return undefined;
  return REWRITING_RULES.find((g) => g.targets.some((t) => t.split("/")[1] === first));
}

function genRewritingConfig(r, root) {
  const lines = ["ServerName localhost:8080", `DocumentRoot ${root}/htdocs`, `WSGIScriptAlias /app ${root}/apps/`, `Alias /h ${root}/htdocs`];
  lines.push(`<Directory ${root}>`, "    Require all granted", "    Options ExecCGI", "    AddHandler wsgi-script .wsgi", "</Directory>");
  const picked = [];
  for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) picked.push(pick(r, REWRITING_RULES));
  const ruleLines = picked.flatMap((g) => g.lines.map((l) => l.replace("ROOT", root)));
  const rules = ["RewriteEngine On", ...ruleLines.filter((l) => l.startsWith("RewriteMap")), ...ruleLines.filter((l) => !l.startsWith("RewriteMap"))];
  // Sometimes also a path-only condition or one reading a header in front of them all.
  if (r() < 0.2) rules.splice(1, 0, "RewriteCond %{HTTP:X-Mode} =b", "RewriteRule ^/(f|c|k)/ - [E=B:1]");
  lines.push(...rules);
  if (r() < 0.2) lines.push("<VirtualHost *:8080>", "    ServerName example.test", `    WSGIScriptAlias /app ${root}/apps/`, ...rules.map((l) => `    ${l}`), "</VirtualHost>");
  return { text: lines.join("\n") + "\n", targets: picked.flatMap((g) => g.targets) };
}

function genRewritingRequest(r, targets) {
  const headers = ["host", r() < 0.7 ? "localhost:8080" : pick(r, ["example.test", "LOCALHOST:8080", "other.test:8080"])];
  if (r() < 0.4) headers.push("x-mode", pick(r, ["a", "b"]));
  if (r() < 0.3) headers.push("x-handler", pick(r, ["wsgi-script", "text/plain"]));
  const target = r() < 0.85 ? pick(r, targets) : pick(r, REWRITING_RULES).targets[0];
  return {
    method: pick(r, ["GET", "GET", "POST", "HEAD"]),
    target: target + pick(r, ["", "", "?a=1", "?b=2"]),
    protocol: "HTTP/1.1",
    headers,
    remoteAddress: "127.0.0.1",
    remotePort: 40000,
    localAddress: "127.0.0.1",
    localPort: 8080,
    scheme: r() < 0.85 ? "http" : "https",
  };
}

for (const [engineName, engine] of availableEngines()) {
  it(`route plans (${engineName} engine): requests server-context rules rewrite are planned exactly when the rules that matched qualify`, async (t) => {
    const root = makeTree();
    const r = prng(20261123);
    let planned = 0;
    let rewrittenPlanned = 0;
    const plansByGroup = new Map();
    try {
      for (let c = 0; c < 150; c++) {
        const { text, targets } = genRewritingConfig(r, root);
        const config = parseConfigText(text, path.join(root, `rewriting-${c}.conf`));
        const warm = new Mapper(config, engine, { log: nullLog });
        for (let q = 0; q < 60; q++) {
          const req = genRewritingRequest(r, targets);
          if (r() < 0.15) writeModes(root, pick(r, ["yes", "no"]));
          const got = await warm.map(req);
          const want = await new Mapper(config, engine, { log: nullLog }).map(req);
          assert.deepEqual(comparableMapResult(got), comparableMapResult(want), `config:\n${text}\nrequest #${q}: ${JSON.stringify(req)}`);
          if (got.kind === "wsgi" && !Array.isArray(got.environ)) {
            planned++;
            if (!req.target.startsWith("/app/")) rewrittenPlanned++;
            const group = groupOfTarget(req.target);
            if (group) plansByGroup.set(group, (plansByGroup.get(group) ?? 0) + 1);
          }
        }
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
    // About 530 here; plans expire with their route-cache entry (200 ms): a slow machine makes fewer.
    assert.ok(rewrittenPlanned > 200, `only ${rewrittenPlanned} answers from plans for rewritten requests: the generator proves little`);
    // Planned exactly where the rules qualify: each qualifying group at least once, no other ever.
    for (const g of REWRITING_RULES) {
      const n = plansByGroup.get(g) ?? 0;
      if (g.plans) assert.ok(n > 0, `never planned: ${g.lines.join(" / ")}`);
      else assert.equal(n, 0, `planned ${n} times: ${g.lines.join(" / ")}`);
    }
    t.diagnostic(`${engineName}: ${planned} answers from plans, ${rewrittenPlanned} of them for requests a rule rewrote`);
  });
}

it("route plans: each request still gets its own method, query, headers, client and request id", async () => {
  const root = makeTree();
  try {
    const config = parseConfigText([`WSGIScriptAlias /app ${root}/apps/`, `<Directory ${root}>`, "    Require all granted", "</Directory>", ""].join("\n"), path.join(root, "site.conf"));
    const mapper = new Mapper(config, availableEngines()[0][1], { log: nullLog });
    const base = { protocol: "HTTP/1.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 80, scheme: "http" };
    const envOf = (res) => {
      const e = {};
      const pairs = Array.isArray(res.environ) ? res.environ : res.environ.pairs();
      for (let i = 0; i < pairs.length; i += 2) e[pairs[i]] = pairs[i + 1];
      return e;
    };
    const a = envOf(await mapper.map({ ...base, method: "GET", target: "/app/one.wsgi", headers: ["host", "h"], remoteAddress: "127.0.0.1" }));
    const b = envOf(await mapper.map({ ...base, method: "POST", target: "/app/one.wsgi?x=1", headers: ["host", "h", "x-a", "1"], remoteAddress: "10.1.1.1" }));
    assert.equal(b.REQUEST_METHOD, "POST");
    assert.equal(b.QUERY_STRING, "x=1");
    assert.equal(b.REQUEST_URI, "/app/one.wsgi?x=1");
    assert.equal(b.HTTP_X_A, "1");
    assert.equal(b.REMOTE_ADDR, "10.1.1.1");
    assert.equal(a.HTTP_X_A, undefined);
    assert.notEqual(a["mod_wsgi.request_id"], b["mod_wsgi.request_id"]);
    assert.equal(b.SCRIPT_NAME, "/app/one.wsgi");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

it("route plans: an <If> merged before translation (it switches the server's rules here) reads the request, so its answer makes no plan", async () => {
  const root = makeTree();
  try {
    const text = [
      `WSGIScriptAliasMatch ^/m/(one|two)$ ${root}/apps/$1.wsgi`, `WSGIScriptAlias /app ${root}/apps/`, `<Directory ${root}>`, "    Require all granted", "</Directory>",
      "RewriteEngine On", "RewriteRule ^/m/two$ /app/sub/three.wsgi [PT]", "<If \"%{HTTP:X-Mode} == 'b'\">", "    RewriteEngine Off", "</If>",
      "<Location /m/one>", "    RewriteEngine Off", "</Location>", "",
    ].join("\n");
    const config = parseConfigText(text, path.join(root, "site.conf"));
    for (const [, engine] of availableEngines()) {
      const mapper = new Mapper(config, engine, { log: nullLog });
      const req = (headers) => ({ method: "GET", target: "/m/two", protocol: "HTTP/1.1", headers: ["host", "h", ...headers], remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 80, scheme: "http" });
      for (let i = 0; i < 3; i++) assert.match((await mapper.map(req(["x-mode", "b"]))).script, /\/apps\/two\.wsgi$/);
      assert.match((await mapper.map(req([]))).script, /\/sub\/three\.wsgi$/);
      // A <Location> alone reads only the path: its answer may be planned.
      const one = { ...req([]), target: "/m/one" };
      for (let i = 0; i < 3; i++) assert.match((await mapper.map(one)).script, /\/apps\/one\.wsgi$/);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

it("route plans: which RewriteCond lines read only the URL-path, Host header and listener (decided when the rules are compiled)", () => {
  const { parseRewriteCond } = require("../dist/config/rewrite-rule");
  const { readsOnlyPathAndHost } = require("../dist/map/rewrite");
  const where = { file: "t.conf", line: 1 };
  const cls = (test, pattern) => readsOnlyPathAndHost(parseRewriteCond(test, pattern, undefined, where));
  const keyOnly = [
    ["%{REQUEST_URI}", "^/a"], ["%{HTTP_HOST}", "=x"], ["%{http_host}", "x"], ["%{HTTP:Host}", "x"], ["%{http:HOST}", "x"],
    ["%{SERVER_NAME}:%{SERVER_PORT}", "^x:80$"], ["%{HTTPS}", "=on"], ["%{REQUEST_SCHEME}", "=https"], ["%{SERVER_ADDR}", "^127"],
    ["%{DOCUMENT_ROOT}%{REQUEST_FILENAME}", "x"], ["%1", "-gt3"], ["$1", "=a"], ["\\%{QUERY_STRING}", "x"], ["constant", ">b"],
    ["%{IS_SUBREQ}", "=false"], ["%{HTTP_HOST", "x"],
  ];
  const beyond = [
    ["%{QUERY_STRING}", "x"], ["%{HTTP:X-Mode}", "=a"], ["%{HTTP_USER_AGENT}", "bot"], ["%{HTTP_COOKIE}", "a"], ["%{ENV:X}", "=1"],
    ["%{SSL:SSL_PROTOCOL}", "x"], ["%{LA-U:REQUEST_URI}", "x"], ["%{TIME_HOUR}", "-lt12"], ["%{REMOTE_ADDR}", "^10"],
    ["%{REQUEST_METHOD}", "=POST"], ["%{THE_REQUEST}", "x"], ["%{SERVER_PROTOCOL}", "x"], ["%{UNKNOWN_NAME}", "x"],
    ["${map:%{HTTP_HOST}}", "=yes"], ["${map:a|b}", "x"], ["%{REQUEST_FILENAME}", "-f"], ["%{REQUEST_FILENAME}", "!-d"],
    ["/x", "-s"], ["/x", "-l"], ["/x", "-x"], ["%{REQUEST_URI}", "-U"], ["/x", "-F"], ["expr", "%{HTTP_HOST} == 'x'"],
  ];
  for (const [t, p] of keyOnly) assert.equal(cls(t, p), true, `${t} ${p}`);
  for (const [t, p] of beyond) assert.equal(cls(t, p), false, `${t} ${p}`);
});

it("route plans: which server-context RewriteRule lines keep a rewritten request plannable (decided when the rules are compiled)", () => {
  const { parseRewriteRule } = require("../dist/config/rewrite-rule");
  const { rewritesOnlyByPathAndHost } = require("../dist/map/rewrite");
  const where = { file: "t.conf", line: 1 };
  const cls = (pattern, substitution, flags) => rewritesOnlyByPathAndHost(parseRewriteRule(pattern, substitution, flags, [], where));
  const qualify = [
    ["^/(.*)$", "/app.wsgi/$1", "[PT]"], ["^/old/(.*)", "/new/$1", undefined], ["^/a", "-", "[E=X:$0,E=!Y]"],
    ["^/(.*)$", "/app/%{HTTP_HOST}/%{SERVER_NAME}:%{SERVER_PORT}/$1", "[PT,L]"], ["^/a(.*)", "/b$1", "[C]"], ["^/a", "/b", "[S=2,NC,NE,B,END,NS]"],
    ["^/a", "/b", "[PT,E=F:%{REQUEST_FILENAME},T=text/plain,H=wsgi-script]"], ["^/a", "/b\\$1", "[PT]"],
  ];
  const not = [
    ["^/a", "/b?x=1", "[PT]"], ["^/a", "/b\\?x", "[PT]"], ["^/a", "/b?", "[PT]"], ["^/a", "/b", "[PT,QSA]"], ["^/a", "/b", "[PT,QSD]"],
    ["^/a", "/b", "[PT,QSL]"], ["^/a(.*)", "/b$1", "[PT,UnsafeAllow3F]"], ["^/a", "/b/%{HTTP:X-Mode}", "[PT]"], ["^/a", "/b/%{QUERY_STRING}", "[PT]"],
    ["^/a", "/b/${m:%{HTTP_HOST}}", "[PT]"], ["^/a", "/b", "[PT,E=M:%{HTTP:X-Mode}]"], ["^/a", "/b", "[PT,E=T:%{TIME}]"], ["^/a", "/b", "[PT,CO=a:b:example.test]"],
    ["^/a", "/b", "[PT,T=%{HTTP:Accept}]"], ["^/a", "/b", "[PT,H=%{ENV:H}]"], ["^/a", "/b", "[R]"], ["^/a", "/b", "[R=301,L]"], ["^/a", "-", "[F]"],
    ["^/a", "-", "[G]"], ["^/a", "/b", "[N]"],
  ];
  for (const [p, s, f] of qualify) assert.equal(cls(p, s, f), true, `${p} ${s} ${f}`);
  for (const [p, s, f] of not) assert.equal(cls(p, s, f), false, `${p} ${s} ${f}`);
});
