"use strict";
// apr_fnmatch as ap_expr's -fnmatch/-strmatch/-strcmatch use it (src/config/fnmatch.ts).
const { it } = require("node:test");
const assert = require("node:assert/strict");
const { fnmatch } = require("../dist/config/fnmatch");

it("fnmatch: wildcards, brackets, escapes", () => {
  const yes = [
    ["*", ""], ["*", "abc"], ["a*c", "abbbc"], ["a?c", "abc"], ["[abc]x", "bx"], ["[a-c]x", "cx"], ["[!a-c]x", "dx"],
    ["[^a]", "b"], ["[]]", "]"], ["[]a]", "a"], ["\\*", "*"], ["a\\?", "a?"], ["[", "["], ["a[", "a["], ["*.txt", "f.txt"],
    ["**a", "a"], ["*a*b*c*", "xaxbxcx"], ["[\\]]", "]"],
  ];
  for (const [p, s] of yes) assert.equal(fnmatch(p, s), true, `${p} ~ ${s}`);
  const no = [["a*c", "abcd"], ["a?c", "ac"], ["[!a-c]x", "bx"], ["\\*", "a"], ["*.txt", "f.txx"], ["[a-c]", "d"], ["abc", "ABC"]];
  for (const [p, s] of no) assert.equal(fnmatch(p, s), false, `${p} !~ ${s}`);
});

it("fnmatch: pathname keeps wildcards within a segment; case-blind is ASCII only", () => {
  assert.equal(fnmatch("/a/*", "/a/b", { pathname: true }), true);
  assert.equal(fnmatch("/a/*", "/a/b/c", { pathname: true }), false);
  assert.equal(fnmatch("/a/*", "/a/b/c"), true);
  assert.equal(fnmatch("/a?b", "/a/b", { pathname: true }), false);
  assert.equal(fnmatch("/a[/]b", "/a/b", { pathname: true }), false);
  assert.equal(fnmatch("*/*", "x/y", { pathname: true }), true);
  assert.equal(fnmatch("ABC*", "abcdef", { caseBlind: true }), true);
  assert.equal(fnmatch("[A-C]", "b", { caseBlind: true }), true);
  assert.equal(fnmatch("\u00c0", "\u00e0", { caseBlind: true }), false);
});

it("fnmatch: a pattern of many stars against a long subject costs time linear in both (no backtracking blow-up)", () => {
  // A backtracking regex of these stars takes seconds to minutes on this subject.
  const subject = "a".repeat(20000);
  // Measured in this process's CPU time, not wall-clock time: a loaded machine does not count.
  const t = process.cpuUsage();
  assert.equal(fnmatch("*a*a*a*a*a*a*a*b", subject), false);
  assert.equal(fnmatch("*a*a*a*a*a*a*a*a", subject), true);
  const used = process.cpuUsage(t);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < 2000, `took ${ms} ms of CPU`);
});
