"use strict";
// Behaviour recorded from Apache + mod_wsgi (shared/conformance), checked on both engines.
const test = require("node:test");
const assert = require("node:assert");
const { jsEngine } = require("../dist/engine/js-engine");
const { translateApacheRegex } = require("../dist/engine/regex");

const engines = [jsEngine];
try { engines.push(require("../dist/engine/native-engine").createNativeEngine()); } catch { /* parity test reports it */ }

for (const e of engines) {
  test(`${e.name}: mod_alias prefixes, AliasMatch and config order`, () => {
    const t = e.compileAliasTable([
      { kind: "prefix", url: "/robots.txt", target: "/s/robots.txt" },
      { kind: "regex", pattern: "/([^/]*\\.css)", target: "/s/styles/$1" },
      { kind: "prefix", url: "/media/", target: "/s/media/" },
      { kind: "regex", pattern: "^/wsgi-scripts/([^/]+)", target: "/w/$1.wsgi" },
      { kind: "prefix", url: "/", target: "/app.wsgi" },
    ]);
    assert.deepStrictEqual(t.match("/deep/path/site.css"), { index: 1, target: "/s/styles/site.css", matchedLength: 19 });
    assert.deepStrictEqual(t.match("/media//img.png"), { index: 2, target: "/s/media/img.png", matchedLength: 8 });
    assert.deepStrictEqual(t.match("/wsgi-scripts/hello/a/b"), { index: 3, target: "/w/hello.wsgi", matchedLength: 19 });
    assert.strictEqual(t.match("/media").index, 4);
    assert.strictEqual(t.match("/robots.txtx").index, 4);
    assert.strictEqual(e.compileAliasTable([{ kind: "prefix", url: "/wiki", target: "/w" }]).match("/Wiki"), null);
  });

  test(`${e.name}: normalizePath as Apache 2.4`, () => {
    const ok = (path) => ({ ok: true, path });
    assert.deepStrictEqual(e.normalizePath("/myapp//double//slash", "off"), ok("/myapp/double/slash"));
    assert.deepStrictEqual(e.normalizePath("/myapp/./dot/../x", "off"), ok("/myapp/x"));
    assert.deepStrictEqual(e.normalizePath("/myapp/%2Fenc", "off"), { ok: false, status: 404 });
    assert.deepStrictEqual(e.normalizePath("/myapp/%2Fenc", "nodecode"), ok("/myapp/%2Fenc"));
    assert.deepStrictEqual(e.normalizePath("/myapp/caf%C3%A9", "off"), ok("/myapp/caf\u00c3\u00a9"));
    assert.deepStrictEqual(e.normalizePath("/media/../scripts/myapp.wsgi", "off"), ok("/scripts/myapp.wsgi"));
    assert.deepStrictEqual(e.normalizePath("/a/../..", "off"), { ok: false, status: 400 });
    assert.deepStrictEqual(e.normalizePath("/a%zz", "off"), { ok: false, status: 400 });
    assert.deepStrictEqual(e.normalizePath("/a%00", "off"), { ok: false, status: 404 });
    assert.deepStrictEqual(e.normalizePath("/myapp/a%20b/c%3Fd", "off"), ok("/myapp/a b/c?d"));
  });

  test(`${e.name}: headers as header-mapping / passauth-*`, () => {
    const h = ["host", "example.test", "x_forwarded_for", "1.2.3.4", "x-custom", "one", "x-custom", "two",
      "accept", "text/html", "accept", "application/json", "x-empty", "", "x-spaces", "  padded  ",
      "content-type", "text/plain", "authorization", "Basic x", "proxy-authorization", "Basic y"];
    assert.deepStrictEqual(e.headersToEnviron(h, { passAuthorization: false }), [
      "HTTP_HOST", "example.test", "HTTP_X_CUSTOM", "one, two", "HTTP_ACCEPT", "text/html, application/json",
      "HTTP_X_EMPTY", "", "HTTP_X_SPACES", "padded", "CONTENT_TYPE", "text/plain"]);
    assert.ok(e.headersToEnviron(h, { passAuthorization: true }).includes("HTTP_AUTHORIZATION"));
    assert.ok(!e.headersToEnviron(h, { passAuthorization: true }).includes("HTTP_PROXY_AUTHORIZATION"));
  });

  test(`${e.name}: trusted-proxy.json and untrusted-proxy.json`, () => {
    const all = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Script-Name"];
    const env = e.headersToEnviron(["host", "example.test", "x-forwarded-for", "203.0.113.7", "x-forwarded-proto", "https",
      "x-forwarded-host", "public.example.com", "x-forwarded-port", "443", "x-script-name", "/mount"], { passAuthorization: false });
    const out = e.applyTrustedProxyHeaders(env, "127.0.0.1", all, e.compileProxyList(["127.0.0.1"]));
    assert.deepStrictEqual(out.set, ["REMOTE_ADDR", "203.0.113.7", "HTTPS", "1", "wsgi.url_scheme", "https",
      "SERVER_PORT", "443", "mod_wsgi.mount_point", "/mount", "SCRIPT_NAME", "/mount"]);
    assert.strictEqual(env[env.indexOf("HTTP_HOST") + 1], "public.example.com");

    const env2 = e.headersToEnviron(["x-forwarded-for", "198.51.100.1, 203.0.113.9, 127.0.0.1"], { passAuthorization: false });
    assert.deepStrictEqual(e.applyTrustedProxyHeaders(env2, "127.0.0.1", all, e.compileProxyList(["127.0.0.1"])).set, ["REMOTE_ADDR", "203.0.113.9"]);
    assert.deepStrictEqual(env2, ["HTTP_X_FORWARDED_FOR", "203.0.113.9, 127.0.0.1"]);

    const env3 = e.headersToEnviron(["host", "example.test", "x-forwarded-scheme", "https", "x-forwarded-server", "x.example"], { passAuthorization: false });
    assert.deepStrictEqual(e.applyTrustedProxyHeaders(env3, "127.0.0.1", all, e.compileProxyList(["127.0.0.1"])).set, []);
    assert.deepStrictEqual(env3, ["HTTP_HOST", "example.test", "HTTP_X_FORWARDED_SERVER", "x.example"]);

    const env4 = e.headersToEnviron(["host", "example.test", "x-forwarded-for", "203.0.113.7", "x-forwarded-proto", "https",
      "x-forwarded-host", "evil.example"], { passAuthorization: false });
    assert.deepStrictEqual(e.applyTrustedProxyHeaders(env4, "127.0.0.1", all.slice(0, 3), e.compileProxyList(["10.1.2.3"])).set, []);
    assert.deepStrictEqual(env4, ["HTTP_HOST", "example.test"]);
    assert.throws(() => e.compileProxyList(["proxy.example"]), { code: "E_PROXY_LIST" });
  });

  test(`${e.name}: bodyVerdict as limit-body / chunked-on`, () => {
    assert.strictEqual(e.bodyVerdict(16, false, 16, false), 0);
    assert.strictEqual(e.bodyVerdict(17, false, 16, false), 413);
    assert.strictEqual(e.bodyVerdict(-1, true, 16, false), 411);
    assert.strictEqual(e.bodyVerdict(-1, true, 32, true), 0);
    assert.strictEqual(e.bodyVerdict(1e9, false, 0, false), 0);
  });
}

test("regex translation: PCRE semantics spelled out for both engines", () => {
  const t = translateApacheRegex("^/static/(\\w+)\\.css$");
  assert.strictEqual(t.literalPrefix, "/static/");
  assert.ok(t.rustSource.startsWith("(?s-u)"));
  assert.ok(!new RegExp(t.jsSource, "s").test("/static/\u00e9.css"), "\\w is ASCII-only");
  assert.strictEqual(translateApacheRegex("a(?=b)").rustSource, null);
  assert.strictEqual(translateApacheRegex("(a)\\1").rustSource, null);
  assert.ok(new RegExp(translateApacheRegex("(?i)^/wiki").jsSource, "s").test("/WiKi"));
  assert.ok(new RegExp(translateApacheRegex("^/[]a]").jsSource, "s").test("/]"));
  assert.ok(new RegExp(translateApacheRegex("\\Aa.b\\z").jsSource, "s").test("a\nb"));
  assert.throws(() => translateApacheRegex("(unclosed"), { code: "E_REGEX" });
  assert.throws(() => translateApacheRegex("a++"), { code: "E_REGEX" });
});

test("loadEngine honours NODEWSGI_ENGINE", () => {
  const { execFileSync } = require("node:child_process");
  const run = (env) => execFileSync(process.execPath, ["-e", "process.stdout.write(require('./dist/engine/load').loadEngine().name)"],
    { cwd: require("node:path").join(__dirname, ".."), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }).toString();
  assert.strictEqual(run({ NODEWSGI_ENGINE: "js" }), "js");
  assert.strictEqual(run({ NODEWSGI_ENGINE: "", NODEWSGI_NATIVE_ADDON: "/nonexistent.node" }), "js");
  assert.throws(() => run({ NODEWSGI_ENGINE: "native", NODEWSGI_NATIVE_ADDON: "/nonexistent.node" }), /E_ENGINE_UNAVAILABLE|native addon/);
  if (engines.length === 2) assert.strictEqual(run({ NODEWSGI_ENGINE: "" }), "native");
});
