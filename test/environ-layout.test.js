"use strict";
// buildEnviron compiles a constructor for a key sequence seen twice (src/app/environ.ts):
// the compiled object must equal the generic one, key order included.
const test = require("node:test");
const assert = require("node:assert/strict");
const { buildEnviron, fileWrapper } = require("../dist/app/environ");

const opts = (urlScheme = "http") => ({ urlScheme, input: { in: 1 }, errors: { err: 1 }, multithread: true, multiprocess: false, runOnce: false });

function threeTimes(pairs, o) {
  // First sighting and second (compiles) and third (compiled).
  return [buildEnviron(pairs, o), buildEnviron(pairs, o), buildEnviron(pairs, o)];
}

function same(a, b) {
  assert.deepEqual(Object.keys(a), Object.keys(b));
  for (const k of Object.keys(a)) assert.equal(a[k], b[k], k);
  assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b));
}

test("compiled layouts build the same environ as the generic loop", () => {
  const cases = [
    ["HTTP_HOST", "a", "REQUEST_METHOD", "GET", "SCRIPT_NAME", "", "mod_wsgi.request_id", "x"],
    // Repeated keys keep their first position and take the last value.
    ["A", "1", "B", "2", "A", "3", "wsgi.version", "nope"],
    // PATH is dropped; HTTPS picks https unless a wsgi.url_scheme says otherwise.
    ["PATH", "/bin", "HTTPS", "On", "X", "y"],
    ["HTTPS", "on", "wsgi.url_scheme", "http", "HTTPS", "1"],
    ["wsgi.url_scheme", "https", "HTTPS", "off"],
    // Integer-like keys and odd characters.
    ["10", "ten", "2", "two", 'quo"te\\', "q", "line\u2028sep", "l"],
    [],
  ];
  for (const pairs of cases) {
    for (const scheme of ["http", "https"]) {
      const [a, b, c] = threeTimes(pairs, opts(scheme));
      same(a, b);
      same(a, c);
      assert.equal(c["wsgi.file_wrapper"], fileWrapper);
      assert.deepEqual(c["wsgi.version"], [1, 0]);
    }
  }
});

test("values come from each request, not the compiled one", () => {
  const keys = (v) => ["HTTP_HOST", v, "QUERY_STRING", v + "?"];
  threeTimes(keys("one"), opts());
  const env = buildEnviron(keys("two"), opts());
  assert.equal(env.HTTP_HOST, "two");
  assert.equal(env.QUERY_STRING, "two?");
});

test("__proto__ stays an own property and extra keys are added last", () => {
  const pairs = ["__proto__", "p", "K", "v"];
  for (const env of threeTimes(pairs, { ...opts(), extra: { "mod_wsgi.thread_id": 3 } })) {
    assert.equal(Object.getPrototypeOf(env), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(env, "__proto__").value, "p");
    assert.equal(Object.keys(env).at(-1), "mod_wsgi.thread_id");
  }
});
