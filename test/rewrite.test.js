"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { compileRewriteRules, applyRewrite } = require("../dist/map/rewrite");
const { compileConfigRegex } = require("../dist/config/regex");
// The one translation every configuration regex goes through (src/engine/regex.ts).
const translatePcre = (pattern, nocase) => ({ regex: compileConfigRegex(pattern, nocase).regexp });

const W = { file: "site.conf", line: 7 };
const rule = (pattern, substitution, flags, conds = []) => ({
  pattern, substitution, flags, where: W,
  conds: conds.map(([testString, condPattern, f]) => ({ testString, condPattern, flags: f })),
});

/** A fake filesystem: path -> "file" | "dir" | "empty" | "link". */
function ctxFor(uri, query = null, extra = {}) {
  const files = extra.files || {};
  const vars = {
    DOCUMENT_ROOT: "/srv/htdocs", SERVER_NAME: "example.test", SERVER_PORT: "80",
    REQUEST_SCHEME: "http", REQUEST_METHOD: "GET", HTTPS: "off", REMOTE_ADDR: "10.0.0.1",
    "HTTP:Host": "example.test", ...(extra.vars || {}),
  };
  return {
    uri, query, ...extra.ctx,
    variable: (name) => vars[name] ?? "",
    stat: (p) => {
      const k = files[p];
      if (!k) return null;
      return { isFile: k === "file" || k === "link", isDir: k === "dir", size: k === "empty" ? 0 : 10, isSymlink: k === "link" };
    },
  };
}
const server = (rules, maps = [], opts = {}) => compileRewriteRules(rules, maps, { perDir: false, ...opts });
const run = (c, uri, query, extra) => applyRewrite(c, ctxFor(uri, query, extra));

test("regex translation: PCRE specifics", () => {
  assert.ok(translatePcre("[]a]", false).regex.test("]"));
  assert.ok(translatePcre("^[[:alpha:]]+$", false).regex.test("abC"));
  assert.ok(!translatePcre("^[[:digit:]]+$", false).regex.test("ab"));
  assert.ok(translatePcre("^a.b$", false).regex.test("a\nb"), "DOTALL by default");
  assert.ok(!translatePcre("^ab$", false).regex.test("ab\n"), "DOLLAR_ENDONLY by default");
  assert.ok(translatePcre("^ab\\Z", false).regex.test("ab\n"));
  assert.ok(translatePcre("(?i)^ABC", false).regex.test("abc"));
  assert.ok(translatePcre("\\Qa.b\\E$", false).regex.test("a.b"));
  assert.ok(!translatePcre("\\Qa.b\\E$", false).regex.test("axb"));
  assert.equal(translatePcre("(?P<x>a)(?P=x)", false).regex.exec("aa")[1], "a");
  assert.throws(() => translatePcre("a++", false), /possessive/);
  assert.throws(() => translatePcre("(?>a)", false), /unsupported group syntax/);
  assert.throws(() => translatePcre("(a", false));
});

test("compile errors carry E_REWRITE and file:line", () => {
  for (const [r, re] of [
    [rule("(", "/x"), /cannot compile regular expression/],
    [rule("^a", "/x", "[L,FOO]"), /unknown flag 'FOO'/],
    [rule("^a", "/x", "[R=299]"), /invalid HTTP response code/],
    [rule("^a", "/x", "[L"), /bad flag delimiters/],
    [rule("^a", "/x", "[L,,R]"), /unknown flag/],
    [rule("^a", "/x", undefined, [["%{X}", "(", undefined]]), /RewriteCond: cannot compile/],
    [rule("^a", "/x", undefined, [["%{X}", "a", "[XX]"]]), /RewriteCond: unknown flag 'XX'/],
  ]) {
    assert.throws(() => server([r]), (e) => e.code === "E_REWRITE" && /site\.conf:7/.test(e.message) && re.test(e.message));
  }
  assert.throws(() => server([], [{ name: "m", source: "int:nosuch" }]), /internal map not found/);
  assert.throws(() => server([], [{ name: "m", source: "txt:/nonexistent/map.txt" }]), /not found/);
  assert.throws(() => server([], [{ name: "m", source: "prg:/bin/cat" }]), /not supported/);
});

test("conformance rewrite-root: server context [QSA,PT,L] with a -f condition", () => {
  const c = server([rule("^(.*)$", "/site.wsgi$1", "[QSA,PT,L]", [["%{DOCUMENT_ROOT}%{REQUEST_URI}", "!-f"]])]);
  const files = { "/srv/htdocs/static.txt": "file", "/srv/htdocs/": "dir" };
  let o = run(c, "/", null, { files });
  assert.equal(o.kind, "uri");
  assert.equal(o.uri, "/site.wsgi/");
  assert.equal(o.query, null);
  assert.deepEqual(o.env, [["SCRIPT_URL", "/"], ["SCRIPT_URI", "http://example.test/"]]);
  o = run(c, "/some/page", "x=1", { files });
  assert.deepEqual([o.kind, o.uri, o.query], ["uri", "/site.wsgi/some/page", "x=1"]);
  o = run(c, "/static.txt", null, { files });
  assert.equal(o.kind, "none");
  assert.deepEqual(o.env[0], ["SCRIPT_URL", "/static.txt"]);
  o = run(c, "/site.wsgi/direct", null, { files });
  assert.equal(o.uri, "/site.wsgi/site.wsgi/direct");
});

test("conformance env-groups: '-' substitution with E= and %N from a condition", () => {
  const c = server([rule(".", "-", "[E=APPLICATION_GROUP:~%1]", [["%{REQUEST_URI}", "^/~([^/]+)"]])]);
  let o = run(c, "/~alice/app.wsgi");
  assert.equal(o.kind, "none");
  assert.deepEqual(o.env.slice(2), [["APPLICATION_GROUP", "~alice"]]);
  o = run(c, "/a");
  assert.deepEqual(o.env.map((e) => e[0]), ["SCRIPT_URL", "SCRIPT_URI"]);
  o = run(c, "/x", null, { ctx: { redirectScriptUrl: "/orig" } });
  assert.deepEqual(o.env[0], ["SCRIPT_URL", "/orig"]);
});

test("conformance rewrite-noext: per-dir -d/-f conditions, prefix stripping, internal redirect", () => {
  const dir = "/srv/htdocs/python_app";
  const c = compileRewriteRules(
    [rule("^(.*)$", "$1.py", "[L]", [["%{REQUEST_FILENAME}", "!-d"], ["%{REQUEST_FILENAME}\\.py", "-f"]])],
    [], { perDir: true, directory: dir });
  const files = { [dir]: "dir", [dir + "/hello.py"]: "file", [dir + "/environ.py"]: "file", [dir + "/docs"]: "dir" };
  const pd = (f, q, pathInfo = "") => run(c, f.replace("/srv/htdocs", ""), q, { files, ctx: { filename: f, pathInfo } });
  let o = pd(dir + "/hello");
  assert.deepEqual([o.kind, o.url, o.path], ["internal-redirect", "/python_app/hello.py", "/python_app/hello.py"]);
  assert.deepEqual(o.env, [], "no SCRIPT_URL in per-dir context");
  o = pd(dir + "/environ", "a=b");
  assert.deepEqual([o.kind, o.url, o.query], ["internal-redirect", "/python_app/environ.py?a=b", "a=b"]);
  // The re-processed request runs the rules again: hello.py.py does not exist, so no change.
  assert.equal(pd(dir + "/hello.py").kind, "none");
  assert.equal(pd(dir + "/docs").kind, "none");
  assert.equal(pd(dir + "/nothing").kind, "none");
  // The directory itself without its slash is left to mod_dir.
  assert.equal(pd(dir).kind, "none");
});

test("per-dir: RewriteBase, path_info in the matched path, DPI, rule applying twice", () => {
  const dir = "/srv/apps/blog";
  const c = compileRewriteRules([rule("^(.*)$", "index.wsgi/$1", undefined)], [], { perDir: true, directory: dir, base: "/blog" });
  let o = run(c, "/blog/a/b", null, { ctx: { filename: dir + "/a", pathInfo: "/b" } });
  assert.deepEqual([o.kind, o.url], ["internal-redirect", "/blog/index.wsgi/a/b"]);
  // The redirected request, mapped again, matches again: Apache loops until the URL stops changing
  // or hits LimitInternalRecursion; a second pass here gives index.wsgi/index.wsgi/...
  o = run(c, "/blog/index.wsgi/a/b", null, { ctx: { filename: dir + "/index.wsgi", pathInfo: "/a/b" } });
  assert.equal(o.url, "/blog/index.wsgi/index.wsgi/a/b");
  // Without RewriteBase and outside DocumentRoot, the directory path is used as the URL.
  const c2 = compileRewriteRules([rule("^x$", "y", undefined)], [], { perDir: true, directory: dir });
  o = run(c2, "/blog/x", null, { ctx: { filename: dir + "/x" } });
  assert.equal(o.url, "/srv/apps/blog/y");
  // Same filename after rewriting: no internal redirect.
  const c3 = compileRewriteRules([rule("^(x)$", "$1", undefined)], [], { perDir: true, directory: dir });
  assert.equal(run(c3, "/blog/x", null, { ctx: { filename: dir + "/x" } }).kind, "none");
  // FollowSymLinks off: 403.
  assert.equal(run(c2, "/blog/x", null, { ctx: { filename: dir + "/x", followSymLinks: false } }).status, 403);
  // Per-dir redirect with RewriteBase: the directory in the URL becomes the base.
  const c4 = compileRewriteRules([rule("^old$", "new", "[R=301]")], [], { perDir: true, directory: dir, base: "/blog" });
  o = run(c4, "/blog/old", null, { ctx: { filename: dir + "/old" } });
  assert.deepEqual([o.kind, o.status, o.location], ["redirect", 301, "http://example.test/blog/new"]);
});

test("redirects: R codes, escaping, NE, query handling", () => {
  let o = run(server([rule("^/old(.*)", "/new$1", "[R]")]), "/old/a b", "q=1");
  assert.deepEqual([o.kind, o.status, o.location], ["redirect", 302, "http://example.test/new/a%20b?q=1"]);
  o = run(server([rule("^/a", "/b#frag", "[R=permanent]")]), "/a");
  assert.deepEqual([o.status, o.location], [301, "http://example.test/b%23frag"]);
  o = run(server([rule("^/a", "/b#frag", "[R=301,NE]")]), "/a");
  assert.equal(o.location, "http://example.test/b#frag");
  o = run(server([rule("^/a", "https://other.test/x?y=1 2", "")]), "/a", "orig=1");
  assert.deepEqual([o.kind, o.status, o.location], ["redirect", 302, "https://other.test/x?y=1%202"]);
  o = run(server([rule("^/a", "/b", "[R=308]")]), "/a", null, { vars: { SERVER_PORT: "8080" } });
  assert.equal(o.location, "http://example.test:8080/b");
  // R with a non-3xx code answers with that status.
  o = run(server([rule("^/a", "/b", "[R=404]")]), "/a");
  assert.deepEqual([o.kind, o.status], ["status", 404]);
  // A full URL naming this server is reduced to a local path.
  o = run(server([rule("^/a", "http://example.test/b", "[PT]")]), "/a");
  assert.deepEqual([o.kind, o.uri], ["uri", "/b"]);
});

test("query strings: ? replaces, QSA appends, QSD discards, trailing ? drops", () => {
  const q = (sub, flags, query) => { const o = run(server([rule("^/a", sub, flags)]), "/a", query); return [o.uri, o.query]; };
  assert.deepEqual(q("/b?x=1", "[PT]", "y=2"), ["/b", "x=1"]);
  assert.deepEqual(q("/b?x=1", "[PT,QSA]", "y=2"), ["/b", "x=1&y=2"]);
  assert.deepEqual(q("/b", "[PT,QSA]", "y=2"), ["/b", "y=2"]);
  assert.deepEqual(q("/b", "[PT,QSD]", "y=2"), ["/b", null]);
  assert.deepEqual(q("/b?", "[PT]", "y=2"), ["/b", null]);
  assert.deepEqual(q("/b?x=1", "[PT,QSD]", "y=2"), ["/b", "x=1"]);
  // A '?' coming from a back-reference is refused (Apache 2.4.60+, UnsafeAllow3F).
  let o = run(server([rule("^/(.*)", "/x/$1", "[PT]")]), "/a?b");
  assert.deepEqual([o.kind, o.status], ["status", 403]);
  o = run(server([rule("^/(.*)", "/x/$1", "[PT,UnsafeAllow3F]")]), "/a?b");
  assert.deepEqual([o.uri, o.query], ["/x/a", "b"]);
  o = run(server([rule("^/(.*)", "/x?q=$1", "[PT]")]), "/a?b");
  assert.deepEqual([o.uri, o.query], ["/x", "q=a?b"], "a literal ? first makes it safe");
  // A space in a rewritten local query string: 403.
  o = run(server([rule("^/(.*)", "/x?q=$1", "[PT]")]), "/a b");
  assert.equal(o.status, 403);
  o = run(server([rule("^/(.*)", "/x?q=$1", "[PT,B]")]), "/a b&c");
  assert.equal(o.query, "q=a+b%26c");
});

test("F, G, server-context file results and DocumentRoot prefixing", () => {
  assert.deepEqual(pick(run(server([rule("^/secret", "-", "[F]")]), "/secret")), ["status", 403]);
  assert.deepEqual(pick(run(server([rule("^/old", "-", "[G]")]), "/old")), ["status", 410]);
  // Without PT: DocumentRoot is prefixed unless the first segment exists and the rule named it.
  let o = run(server([rule("^/a$", "/b.html", "")]), "/a");
  assert.deepEqual([o.kind, o.filename], ["file", "/srv/htdocs/b.html"]);
  o = run(server([rule("^/a$", "/srv/other/b.html", "")]), "/a", null, { files: { "/srv": "dir" } });
  assert.deepEqual([o.kind, o.filename], ["file", "/srv/other/b.html"]);
  o = run(server([rule("^/(.*)$", "/$1", "")]), "/srv/x", null, { files: { "/srv": "dir" } });
  assert.equal(o.filename, "/srv/htdocs/srv/x", "a first segment the rule did not name is not trusted");
  // Relative substitution in server context gets a leading slash.
  o = run(server([rule("^/a$", "b", "[PT]")]), "/a");
  assert.equal(o.uri, "/b");
  // Leading slashes are merged.
  o = run(server([rule("^/(.*)$", "/$1", "[PT]")]), "//x");
  assert.equal(o.uri, "/x");
});
const pick = (o) => [o.kind, o.status];

test("chains, skips, L, END, N with a bound", () => {
  const c = server([
    rule("^/a", "/b", "[C]"),
    rule("^/b", "/c", ""),
    rule("^/c", "/d", "[PT]"),
  ]);
  assert.equal(run(c, "/a").uri, "/d");
  assert.equal(run(c, "/x").kind, "none");
  // A failed chain head skips the rest of the chain.
  const c2 = server([rule("^/q", "/r", "[C]"), rule("^/r", "/s", "[C]"), rule(".*", "/t", "[PT]"), rule("^/a", "/u", "[PT]")]);
  assert.equal(run(c2, "/a").uri, "/u");
  const skip = server([rule("^/a", "-", "[S=2]"), rule(".*", "/x", "[PT]"), rule(".*", "/y", "[PT]"), rule(".*", "/z", "[PT]")]);
  assert.equal(run(skip, "/a").uri, "/z");
  assert.equal(run(skip, "/b").uri, "/x");
  const last = server([rule("^/a", "/b", "[L]"), rule("^/b", "/c", "")]);
  assert.equal(run(last, "/a").filename, "/srv/htdocs/b");
  const end = server([rule("^/a", "/b", "[END]")]);
  const o = run(end, "/a");
  assert.equal(o.end, true);
  assert.equal(run(end, "/a", null, { ctx: { endSeen: true } }).kind, "none");
  const next = server([rule("^/(.*)-(.*)$", "/$1_$2", "[N]"), rule("^(.*)$", "$1", "[PT]")]);
  assert.equal(run(next, "/a-b-c-d").uri, "/a_b_c_d");
  const loop = server([rule("^/(.*)$", "/$1", "[N=5]")]);
  assert.deepEqual(pick(run(loop, "/x")), ["status", 500]);
});

test("conditions: string and integer comparisons, OR, NC, negation, -s -l", () => {
  const c = (cond, flags) => server([rule("^/", "/ok", "[PT]", [cond])]);
  const hit = (cond, uri = "/x", extra) => run(c(cond), uri, null, extra).kind === "uri";
  assert.ok(hit(["%{REQUEST_URI}", "=/x"]));
  assert.ok(!hit(["%{REQUEST_URI}", "=/X"]));
  assert.ok(hit(["%{REQUEST_URI}", "=/X", "[NC]"]));
  assert.ok(hit(["%{REQUEST_URI}", "!=/y"]));
  assert.ok(hit(["%{QUERY_STRING}", '=""']));
  assert.ok(hit(["%{REQUEST_URI}", ">/a"]));
  assert.ok(hit(["%{REQUEST_URI}", "</xa"]), "shorter sorts first, as Apache compares lengths first");
  assert.ok(hit(["%{REQUEST_URI}", ">=/x"]));
  assert.ok(hit(["%{HTTP:X-N}", "-gt5"], "/x", { vars: { "HTTP:X-N": "7" } }));
  assert.ok(!hit(["%{HTTP:X-N}", "-lt5"], "/x", { vars: { "HTTP:X-N": "7" } }));
  assert.ok(hit(["%{HTTP:X-N}", "-ne5"], "/x", { vars: { "HTTP:X-N": "7" } }));
  assert.ok(hit(["%{HTTP:X-N}", "-eq0"], "/x"), "atoi of empty is 0");
  assert.ok(hit(["/f", "-s"], "/x", { files: { "/f": "file" } }));
  assert.ok(!hit(["/f", "-s"], "/x", { files: { "/f": "empty" } }));
  assert.ok(hit(["/f", "-l"], "/x", { files: { "/f": "link" } }));
  assert.ok(hit(["/f", "-F"], "/x", { files: { "/f": "file" } }));
  assert.ok(hit(["/i", "-U"], "/x", { files: { "/srv/htdocs/i": "file" } }));
  const or = server([rule("^/", "/ok", "[PT]", [["%{REQUEST_URI}", "^/a", "[OR]"], ["%{REQUEST_URI}", "^/b"], ["%{REQUEST_METHOD}", "=GET"]])]);
  assert.equal(run(or, "/a").kind, "uri");
  assert.equal(run(or, "/b").kind, "uri");
  assert.equal(run(or, "/c").kind, "none");
  // Vary lists headers used by conditions; NV leaves it out.
  const v = server([rule("^/", "/ok", "[PT]", [["%{HTTP:Accept-Language}", "^de"], ["%{HTTP_USER_AGENT}", "x", "[NV]"]])]);
  const o = run(v, "/", null, { vars: { "HTTP:Accept-Language": "de", "HTTP:User-Agent": "x" } });
  assert.deepEqual(o.vary, ["Accept-Language"]);
});

test("back-references, escapes, negated patterns, NC, T= and H=, E=!", () => {
  let o = run(server([rule("^/(\\w+)/(\\d+)$", "/p?a=$2&b=$1\\$1", "[PT]")]), "/x/42");
  assert.deepEqual([o.uri, o.query], ["/p", "a=42&b=x$1"]);
  o = run(server([rule("!^/keep", "/other", "[PT]")]), "/x");
  assert.equal(o.uri, "/other");
  o = run(server([rule("^/ABC$", "/d", "[NC,PT,T=Text/Plain,H=WSGI-Script,E=A:1,E=!B]")]), "/abc");
  assert.deepEqual([o.uri, o.forcedType, o.forcedHandler], ["/d", "text/plain", "wsgi-script"]);
  assert.deepEqual(o.env.slice(2), [["A", "1"], ["B", null]]);
  // An env var set by an earlier rule is visible to a later one.
  o = run(server([rule("^/", "-", "[E=X:yes]"), rule("^/", "/%{ENV:X}", "[PT]")]), "/z");
  assert.equal(o.uri, "/yes");
  o = run(server([rule("^/t", "/%{TIME_YEAR}-%{NOSUCH}-%{HTTP_HOST}", "[PT]")]), "/t",
    null, { ctx: { now: () => new Date(2030, 0, 2) } });
  assert.equal(o.uri, "/2030--example.test");
});

test("maps: txt (reloaded on mtime change), rnd, int", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwmap-"));
  const file = path.join(dir, "users.txt");
  fs.writeFileSync(file, "# comment\n alice ignored\nalice /home/alice\nbob\nbob /home/bob extra\nalice second\n");
  const maps = [
    { name: "users", source: "txt:" + file },
    { name: "up", type: "int", source: "toupper" },
    { name: "lo", source: "int:tolower" },
    { name: "esc", source: "int:escape" },
    { name: "unesc", source: "int:unescape" },
    { name: "pick", source: "rnd:" + file },
  ];
  const c = server([rule("^/u/(.*)$", "${users:$1|/nobody}", "[PT]"), rule("^/m/(.*)$", "/${up:$1}/${lo:$1}/${esc:$1}/${unesc:$1}", "[PT,UnsafeAllow3F]")], maps);
  assert.equal(run(c, "/u/alice").uri, "/home/alice");
  assert.equal(run(c, "/u/bob").uri, "/home/bob");
  assert.equal(run(c, "/u/carol").uri, "/nobody");
  assert.equal(run(c, "/m/aB c%41").uri, "/AB C%41/ab c%41/aB%20c%2541/aB cA");
  fs.writeFileSync(file, "alice /elsewhere\n");
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(file, later, later);
  assert.equal(run(c, "/u/alice").uri, "/elsewhere");
  fs.writeFileSync(file, "k a|b|c\n");
  const t2 = new Date(Date.now() + 10000);
  fs.utimesSync(file, t2, t2);
  const r = compileRewriteRules([rule("^/(.*)$", "/${pick:$1}", "[PT]")], [maps[5]], { perDir: false, random: (n) => n - 1 });
  assert.equal(run(r, "/k").uri, "/c");
  fs.rmSync(dir, { recursive: true });
});
