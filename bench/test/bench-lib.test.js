"use strict";
// The benchmark's pure parts: config generation, wrk script/output, /proc parsing, statistics and
// the report's verdicts. Run: node --test bench/test/
const test = require("node:test");
const assert = require("node:assert/strict");

const { nodewsgiConfig, apacheConfig, aliasLines, aliasTarget } = require("../lib/configs");
const { wrkScript, parseWrkOutput } = require("../lib/load");
const { parseStat, cpuCounters, cpuShares, processTree } = require("../lib/proc");
const { median, pairedRatio } = require("../lib/stats");
const { renderReport } = require("../lib/report");
const plan = require("../plan");

test("nodewsgi config: each hosting mode gets its group directives", () => {
  const base = { port: 8123, appDir: "/a", logDir: "/l" };
  const inThread = nodewsgiConfig({ ...base, mode: "in-thread" });
  assert.match(inThread, /^Listen 127\.0\.0\.1:8123$/m);
  assert.match(inThread, /^WSGIScriptAlias \/ \/a\/hello\.js$/m);
  assert.match(inThread, /<Directory \/a>\n\s+Require all granted\n<\/Directory>/);
  assert.match(inThread, /^WSGIApplicationGroup %\{GLOBAL\}$/m);
  assert.doesNotMatch(inThread, /WSGIDaemonProcess/);

  const worker = nodewsgiConfig({ ...base, mode: "worker" });
  assert.match(worker, /^WSGIApplicationGroup hello$/m);

  const daemon = nodewsgiConfig({ ...base, mode: "daemon", daemonOptions: "processes=2 threads=15" });
  assert.match(daemon, /^WSGIDaemonProcess bench processes=2 threads=15$/m);
  assert.match(daemon, /^WSGIProcessGroup bench$/m);
  assert.throws(() => nodewsgiConfig({ ...base, mode: "bogus" }), /unknown hosting mode/);
});

test("alias table: N aliases, alternating prefix and regex, the target hits the last", () => {
  for (const n of [10, 100, 1001]) {
    const lines = aliasLines(n, "/a/hello.js");
    assert.equal(lines.length, n);
    assert.match(lines[0], /^WSGIScriptAlias \/site0 /);
    assert.match(lines[1], /^WSGIScriptAliasMatch \^\/rx1\/\(\[a-z\]\+\)\$ /);
    const last = lines[n - 1];
    const target = aliasTarget(n);
    if (last.startsWith("WSGIScriptAliasMatch")) {
      const re = new RegExp(last.split(" ")[1]);
      assert.ok(re.test(target), `${target} matches ${last}`);
      // and no earlier regex matches it
      for (const l of lines.slice(0, -1)) if (l.startsWith("WSGIScriptAliasMatch")) assert.ok(!new RegExp(l.split(" ")[1]).test(target));
    } else {
      assert.ok(target.startsWith(`${last.split(" ")[1]}/`));
    }
  }
  const conf = nodewsgiConfig({ port: 1, appDir: "/a", logDir: "/l", aliases: 10 });
  // Aliases come before the catch-all, which Apache would otherwise hit first.
  assert.ok(conf.indexOf("/rx9/") < conf.indexOf("WSGIScriptAlias / "));
});

test("payload config: static alias, upload app, LimitRequestBody 0 globally and 1024 in /limited", () => {
  const conf = nodewsgiConfig({ port: 1, appDir: "/a", logDir: "/l", payload: { staticDir: "/s" } });
  assert.match(conf, /^LimitRequestBody 0$/m);
  assert.match(conf, /^Alias \/static \/s$/m);
  assert.match(conf, /^WSGIScriptAlias \/upload \/a\/discard\.js$/m);
  assert.match(conf, /<Location \/limited>\n\s+LimitRequestBody 1024\n<\/Location>/);
});

test("Apache config: daemon and embedded, User only when given", () => {
  const o = { port: 9, runDir: "/r", appDir: "/a", modulesDir: "/m" };
  const daemon = apacheConfig({ ...o, mode: "daemon", daemonOptions: "processes=2 threads=15", user: "www-data" });
  assert.match(daemon, /^LoadModule wsgi_module \/m\/mod_wsgi\.so$/m);
  assert.match(daemon, /^WSGIDaemonProcess bench processes=2 threads=15$/m);
  assert.match(daemon, /^User www-data$/m);
  assert.match(daemon, /^WSGIScriptAlias \/ \/a\/hello\.wsgi$/m);
  const embedded = apacheConfig({ ...o, mode: "embedded" });
  assert.doesNotMatch(embedded, /WSGIDaemonProcess|WSGIProcessGroup|^User/m);
  assert.throws(() => apacheConfig({ ...o, mode: "x" }), /unknown Apache mode/);
});

test("wrk script sets method, body and padded header, and its summary line parses", () => {
  const s = wrkScript({ method: "POST", bodyBytes: 4096, padHeaderBytes: 8000 });
  assert.match(s, /wrk\.method = "POST"/);
  assert.match(s, /string\.rep\("a", 4096\)/);
  assert.match(s, /X-Bench-Pad"\] = string\.rep\("p", 8000\)/);
  assert.match(s, /done = function/);
  assert.doesNotMatch(wrkScript({}), /wrk\.method|wrk\.body/);

  const out = 'Running 5s test\nWRKJSON {"requests":500000,"duration_us":5000000,"connect":0,"read":2,"write":0,"status":7,"timeout":1,"p50":712.0,"p99":1830.5}\n';
  const r = parseWrkOutput(out);
  assert.equal(r.rps, 100000);
  assert.equal(r.p50us, 712);
  assert.equal(r.p99us, 1830.5);
  assert.equal(r.non2xx, 7);
  assert.equal(r.errors, 3);
  assert.throws(() => parseWrkOutput("unable to connect"), /no summary/);
});

test("/proc parsing: stat with a spaced, parenthesised name; per-CPU counters", () => {
  const st = parseStat("1234 (node (x) y) S 99 1234 1234 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 11 0 1000 0 0");
  assert.deepEqual(st, { ppid: 99, cpuTicks: 250 + 50 + 7 + 3 });
  const a = cpuCounters("cpu  1 2 3 4\ncpu0 100 0 50 800 0 5 5 10 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\n");
  const b = cpuCounters("cpu0 150 0 75 850 0 10 10 30 0 0\n");
  const sh = cpuShares(a, b, "cpu0");
  // busy is user + system only; irq/softirq count towards the total, not towards "someone else"
  assert.equal(sh.busy, 75 / 155);
  assert.equal(sh.steal, 20 / 155);
  assert.ok(Number.isNaN(cpuShares(a, b, "cpu7").busy));
  assert.ok(processTree(process.pid).includes(process.pid));
});

test("median and paired ratios", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const r = pairedRatio([100, 50, 90], [200, 100, 100]);
  assert.equal(r.ratio, 0.5);
  assert.equal(r.max, 0.9);
  assert.equal(r.rounds, 3);
});

function fakeResult(id, rps, cpu) {
  const row = plan.ROWS.find((r) => r.id === id);
  return { row, notes: [], rounds: [], summary: { rps: rps[0], p50us: 500, p99us: 2000, cpuUsPerReq: cpu, cpuShare: 0.98, foreignShare: 0, roundsRps: rps } };
}

test("report: PASS, MISS, n/a with reasons, skipped rows and the machine", () => {
  const results = [
    fakeResult("uws", [100000, 100000], 7),
    fakeResult("nw-inthread-native", [80000, 75000], 9),
    fakeResult("nw-worker-native", [40000, 40000], 15),
    { row: plan.ROWS.find((r) => r.id === "fastify"), notes: [], rounds: [], skipped: "did not start: fastify is not installed", summary: { rps: NaN, roundsRps: [] } },
  ];
  const md = renderReport({
    opts: { quick: false, connections: 100, warmupS: 2, rounds: 2, durationS: 5 },
    argv: [],
    machine: { nproc: 2, cpu: "AMD EPYC", node: "v20.20.2", kernel: "Linux 6" },
    tool: "wrk",
    toolVersion: "wrk 4.1.0",
    apacheVersion: null,
    pinned: true,
    notices: ["Apache missing"],
    results,
    upload: { mib: 1024, bytes: 999999999, capped: true, baselineBytes: 50 * 2 ** 20, peakBytes: 60 * 2 ** 20, growthBytes: 10 * 2 ** 20, sendingGrowthBytes: 3 * 2 ** 20, seconds: 2, mibPerS: 512, status: 200, note: null },
    micro: [{ file: "engine-micro.js", skipped: "not present yet" }],
    limits: "# Limits\n\nThe worker hop costs a wake-up.\n",
    seconds: 100,
    date: new Date("2026-01-02T03:04:05Z"),
  });
  assert.match(md, /\| in-thread \/ raw uWS \| 0\.78 \(0\.75–0\.80\) \| ≥ 0\.7 \| PASS \| 0\.78 \|/);
  assert.match(md, /\| worker group \/ raw uWS \| 0\.40 \(0\.40–0\.40\) \| ≥ 0\.55 \| MISS \|/);
  assert.match(md, /\| worker group \/ fastify \| – \| ≥ 1\.5 \| n\/a \(fastify did not start\) \|/);
  assert.match(md, /999,999,999-byte streamed upload .*\| 10\.0 MiB \| < 64 MiB \| PASS/);
  assert.match(md, /growth \*\*10\.0 MiB\*\* \(3\.0 MiB while the body was being sent;/);
  assert.match(md, /ten or more digits/);
  assert.match(md, /did not start: fastify is not installed/);
  assert.match(md, /\| CPUs \(nproc\) \| 2 \|/);
  assert.match(md, /Regenerated by `npm run bench` .* on 2026-01-02 03:04:05 UTC/);
  assert.match(md, /> Notice: Apache missing/);
  assert.match(md, /## What limits the missed targets\n\n_From bench\/LIMITS\.md[^\n]*\n\nThe worker hop costs a wake-up\./);
  assert.match(md, /The load generator shares the machine/);
});

test("report: the worker and daemon uploads are reported apart from the targets, each process of a daemon on its own", () => {
  const M = 2 ** 20;
  const md = renderReport({
    opts: { quick: false, connections: 100, warmupS: 2, rounds: 1, durationS: 5 },
    argv: ["--rows", "upload"],
    machine: { nproc: 2, cpu: "AMD EPYC", node: "v20.20.2", kernel: "Linux 6" },
    tool: "wrk",
    toolVersion: "wrk 4.1.0",
    apacheVersion: null,
    pinned: true,
    notices: [],
    results: [],
    upload: null,
    groupUploads: [
      { id: "upload-worker", label: "worker group", mib: 1024, bytes: 999999999, baselineBytes: 80 * M, peakBytes: 122 * M, growthBytes: 42 * M, sendingGrowthBytes: 7 * M, processes: [{ pid: 10, role: "server", baselineBytes: 80 * M, peakBytes: 122 * M, growthBytes: 42 * M }], seconds: 1, mibPerS: 953.7, status: 200, note: null },
      { id: "upload-daemon1", label: "daemon processes=1", mib: 1024, bytes: 999999999, baselineBytes: 120 * M, peakBytes: 163 * M, growthBytes: 43 * M, sendingGrowthBytes: 40 * M, processes: [{ pid: 10, role: "server", baselineBytes: 68 * M, peakBytes: 73.5 * M, growthBytes: 5.5 * M }, { pid: 11, role: "child", baselineBytes: 52 * M, peakBytes: 90 * M, growthBytes: 38 * M }], seconds: 3, mibPerS: 333, status: 200, note: null },
      { id: "upload-x", label: "broken", mib: 1024, skipped: "did not start: no" },
    ],
    micro: [],
    limits: null,
    seconds: 10,
    date: new Date("2026-01-02T03:04:05Z"),
  });
  const targets = md.split("## Targets")[1].split("\n## ")[0];
  assert.doesNotMatch(targets, /worker group \|.*MiB|daemon processes=1 \|/, "not in the targets table");
  assert.match(md, /\| worker group \| 80\.0 → 122\.0 \(\*\*42\.0\*\*\) \| – \| \*\*42\.0 MiB\*\* \| 7\.0 MiB \| 954 \| 200 \|/);
  assert.match(md, /\| daemon processes=1 \| 68\.0 → 73\.5 \(\*\*5\.5\*\*\) \| 52\.0 → 90\.0 \(\*\*38\.0\*\*\) \| \*\*43\.0 MiB\*\* \|/);
  assert.match(md, /\| broken \| – \| – \| – \| – \| – \| did not start: no \|/);
  assert.match(md, /- \*\*Streamed upload\*\*: .*each of its descendants/);
});

test("wrk script: distinct paths cycle through letter suffixes on the base path", () => {
  const s = wrkScript({ path: "/rx9/hello", distinctPaths: 8192 });
  assert.match(s, /request = function\(\) n = \(n \+ 1\) % 8192; return wrk\.format\(nil, "\/rx9\/hello" \.\. suffix\(n\)\) end/);
  assert.doesNotMatch(wrkScript({ path: "/" }), /request = function/);
});

test("site-loop: drives Site.handle in-thread and in a worker group, every request answered 200", () => {
  const { execFileSync } = require("node:child_process");
  const script = require("node:path").join(__dirname, "..", "site-loop.js");
  for (const mode of ["in-thread", "worker"]) {
    const out = execFileSync(process.execPath, [script, "--mode", mode, "--rounds", "1", "--requests", "500"], { encoding: "utf8" });
    assert.match(out, new RegExp(`^${mode} native /: CPU per request median \\d+ ns, best \\d+ ns \\(1 rounds of 500\\)`));
  }
  assert.throws(() => execFileSync(process.execPath, [script, "--mode", "daemon"], { stdio: "pipe" }), /in-thread or worker/);
});
