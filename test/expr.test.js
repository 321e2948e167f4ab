"use strict";
// ap_expr (src/config/expr): values and messages checked against Apache 2.4.71 (`apache2 -t`
// on each malformed expression; the if-expr-vars conformance scenario evaluates the same kinds
// of expressions on httpd).
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { parseExpr, evaluateExpr } = require("../dist/config/expr");
const { parseConfigText } = require("../dist/config");

function request(over = {}) {
  const vars = { REQUEST_METHOD: "GET", REQUEST_URI: "/a/b", QUERY_STRING: "x=12", REMOTE_ADDR: "10.1.2.3", HTTP_USER_AGENT: "curl/8", ...over.vars };
  const headers = { "user-agent": "curl/8", "x-test": "yes", host: "www.example.com", ...over.headers };
  const varied = [];
  return {
    varied,
    r: {
      remoteAddress: vars.REMOTE_ADDR,
      variable: (n) => vars[n],
      header: (n) => headers[n.toLowerCase()],
      reqenv: (n) => (over.env ?? {})[n],
      vary: (h) => varied.push(h),
    },
  };
}
const run = (src, over) => evaluateExpr(parseExpr(src), request(over).r);

describe("ap_expr evaluation (as httpd)", () => {
  const cases = [
    ["true", true], ["false", false], ["!false && true", true], ["true && false || true", true], ["!true || !false", true],
    ["! 'a' == 'b'", true], ["('a' == 'b' || 'c' == 'c') && true", true],
    ["'10' -lt '9'", false], ["'10' < '9'", true], ["'-5' -lt '3' && ' 7x' -eq 7", true], ["'abc' -eq '0'", true],
    ["'abc' in {'x', 'abc'}", true], ["'a' -in {'b'}", false], ["'a' . 'b' == 'ab'", true],
    ["%{QUERY_STRING} =~ /x=(\\d+)/ && $1 -eq 12 && $0 == 'x=12'", true], ["'$1' == ''", true], ["$1 == ''", true],
    ["'XAY' =~ /a/i && 'XAY' !~ /a/", true], ["'xay' =~ m#a#", true], ["%{REQUEST_URI} =~ m#^/a/(.*)# && \"v$1\" == 'vb'", true],
    ["'/a/b' -fnmatch '/a/*'", true], ["'/a/b/c' -fnmatch '/a/*'", false], ["'/a/b/c' -strmatch '/a/*'", true], ["'ABC' -strcmatch 'a*'", true],
    ["-T 'off'", false], ["-T 'NO'", false], ["-T '0'", false], ["-T '00'", true], ["-T 'yes'", true], ["-z ''", true], ["-n 'x'", true],
    ["%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'", true], ["%{REMOTE_ADDR} -ipmatch '192.168.0.0/16'", false], ["-R '10.1'", true],
    ["tolower('ABC') . toupper('d') == 'abcD'", true], ["escape('a b/\u00fc?') == 'a%20b/%c3%bc%3f'", true],
    ["unescape('a%20b%2fc%41') == 'a b%2fcA'", true], ["unescape('a%zz') == ''", true],
    ["base64('hello') == 'aGVsbG8='", true], ["unbase64('aGVsbG8=') == 'hello'", true],
    ["md5('hello') == '5d41402abc4b2a76b9719d911017c592'", true], ["sha1('hello') == 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'", true],
    ["-d '/tmp' && -e '/tmp' && !-f '/tmp'", true], ["-f '/nonexistent' || -s '/nonexistent'", false],
    ["%{HTTP:X-Test} == 'yes' && req('x-test') == http('X-TEST')", true], ["%{reqenv:V} == 'v'", false],
  ];
  for (const [src, want] of cases) it(src, () => assert.equal(run(src), want));

  it("reads request variables through the request", () => {
    assert.equal(run("%{reqenv:V} == 'v' && env('V') == 'v'", { env: { V: "v" } }), true);
    assert.equal(run("%{request_method} == 'GET'"), true);
  });

  it("names the request headers it read for Vary (not Host)", () => {
    const { r, varied } = request();
    evaluateExpr(parseExpr("%{HTTP_USER_AGENT} != '' && req('Host') != '' && %{HTTP:X-Test} == 'yes'"), r);
    assert.deepEqual(varied, ["User-Agent", "X-Test"]);
  });
});

describe("string-valued expressions (mod_headers' expr= values)", () => {
  const { parseStringExpr, evaluateString } = require("../dist/config/expr");
  const cases = [
    ["%{REQUEST_URI}", "/a/b"], ["x-%{REQUEST_URI}-\"q\" 'y'", "x-/a/b-\"q\" 'y'"], ["", ""],
    ["%{reqenv:X}/%{tolower:ABC}", "e/abc"], ["a\\tb", "a\tb"], ["%{tolower:%{REQUEST_METHOD}}", "get"],
  ];
  for (const [src, want] of cases) it(JSON.stringify(src), () => assert.equal(evaluateString(parseStringExpr(src), request({ env: { X: "e" } }).r), want));
  it("refuses what httpd refuses", () => {
    assert.throws(() => parseStringExpr("%{FOO}"), (e) => e.message === "Variable 'FOO' does not exist");
    assert.throws(() => parseStringExpr("%{REQUEST_URI"), (e) => e.message === "syntax error, unexpected T_ERROR, expecting T_VAR_END or ':': Unterminated string or variable");
  });
});

describe("ap_expr configuration errors (httpd's messages)", () => {
  const bad = [
    ["%{FOO} == 1", "Variable 'FOO' does not exist"],
    ["foo('x') == 1", "Function 'foo' does not exist"],
    ["1 == ", "syntax error, unexpected $end"],
    ["%{FOO}", "syntax error, unexpected $end: Variable 'FOO' does not exist"],
    ["foo", "syntax error, unexpected $end, expecting '('"],
    ["(true", "syntax error, unexpected $end, expecting T_OP_OR or T_OP_AND or ')'"],
    ["%{REQUEST_URI", "syntax error, unexpected T_ERROR, expecting T_VAR_END or ':': Unterminated string or variable"],
    ["true true", "syntax error, unexpected T_TRUE, expecting $end"],
    ["'a' in {'a'", "syntax error, unexpected $end, expecting '}' or ','"],
    ["'a' in 'b'", "syntax error, unexpected T_STR_BEGIN, expecting T_ID or '{'"],
    ["%{REQUEST_URI} =~ 'x'", "syntax error, unexpected T_STR_BEGIN, expecting T_REGEX or T_REGEX_I"],
    ["%{x y}", "syntax error, unexpected T_ERROR, expecting T_VAR_END or ':': Invalid character in variable name ' '"],
    ["%{REQUEST_URI} == /x/", "syntax error, unexpected T_REGEX"],
    ["'a' in listf('x')", "List-returning function 'listf' does not exist"],
    ["%{foo:bar", "Unterminated string or variable"],
    ["-R 10", "-R requires subnet/netmask as constant argument"],
    ["@", "Parse error near '@'"],
    ["-Q 'x'", "Unary operator '-Q' does not exist"],
    ["'a' -foo 'b'", "Binary operator '-foo' does not exist"],
    ["%{QUERY_STRING} =~ /(/", "Failed to compile regular expression"],
    ["%{REMOTE_ADDR} -ipmatch 10", "-ipmatch requires subnet/netmask as constant argument"],
    ["%{REMOTE_ADDR} -ipmatch 'x.y'", "parsing of subnet/netmask failed"],
    ["'abc", "Unterminated string or variable"],
    ["ldap('x') == ''", "Function 'ldap' is not supported by nodewsgi"],
  ];
  for (const [src, msg] of bad) it(src, () => assert.throws(() => parseExpr(src), (e) => e.message === msg));
});

describe("<If>/<ElseIf>/<Else> and Require expr in the configuration", () => {
  const load = (text) => parseConfigText(text, "t.conf");
  const fails = (text, re) => assert.throws(() => load(text), (e) => re.test(e.message));

  it("keeps the chain on the enclosing scope, in order, with nested sections inside", () => {
    const c = load('<Location /x>\n<If "true">\nSetEnv A 1\n<If "false">\nSetEnv B 1\n</If>\n</If>\n<ElseIf "false">\n</ElseIf>\n<Else>\nSetEnv C 1\n</Else>\n</Location>\n');
    const ifs = c.main.sections[0].settings.ifSections;
    assert.deepEqual(ifs.map((s) => s.kind), ["If", "ElseIf", "Else"]);
    assert.equal(ifs[0].settings.ifSections.length, 1);
  });
  it("refuses a malformed condition with file, line and httpd's message", () =>
    fails('\n<If "%{NOPE} == 1">\n</If>\n', /t\.conf:2: <If>: Cannot parse condition clause: Variable 'NOPE' does not exist/));
  it("refuses <Else>/<ElseIf> without a preceding <If>", () => {
    fails("<Else>\n</Else>\n", /t\.conf:1: <Else>: <Else> or <ElseIf> section without previous <If> or <ElseIf> section in same scope/);
    fails('<If "true">\n</If>\n<Else>\n</Else>\n<ElseIf "true">\n</ElseIf>\n', /t\.conf:5: <ElseIf>: <Else> or <ElseIf> section without previous/);
  });
  it("refuses <Else> with an argument, <If> without one, and sections inside", () => {
    fails('<If "true">\n</If>\n<Else x>\n</Else>\n', /<Else> does not take an argument/);
    fails("<If>\n</If>\n", /<If> directive requires additional arguments/);
    fails('<If "true">\n<Location /x>\n</Location>\n</If>\n', /<Location not allowed in <If> context/);
    fails('<If "true">\nWSGIScriptAlias /x /tmp/x\n</If>\n', /t\.conf:2: WSGIScriptAlias: not allowed in <If> context/);
    fails('<If "true" "x">\n</If>\n', /Multiple <If> arguments not supported\./);
    fails('<Directory /x>\n<Limit GET>\n<If "true">\n</If>\n</Limit>\n</Directory>\n', /<If> cannot occur within <Limit> or <LimitExcept> section/);
  });
  it("accepts <Files>/<FilesMatch> and AllowOverride(List) inside <If> without effect, with a notice (httpd 2.4 accepts them; AH00114/AH00115 warn)", () => {
    const c = load('<If "true">\n<Files f.txt>\nRequire all denied\n</Files>\n<FilesMatch "^g">\nSetEnv G 1\n</FilesMatch>\n</If>\n<Directory /x>\n<If "true">\nAllowOverride All\nAllowOverrideList Redirect\nSetEnv A 1\n</If>\n</Directory>\n');
    assert.deepEqual(c.main.dir.ifSections[0].settings, {});
    assert.deepEqual(c.main.sections.map((x) => x.kind), ["Directory"]);
    assert.deepEqual(Object.keys(c.main.sections[0].settings.ifSections[0].settings), ["env"]);
    assert.deepEqual(c.notices, [
      "t.conf:2: <Files> inside <If> has no effect (httpd accepts it and never applies it)",
      "t.conf:5: <FilesMatch> inside <If> has no effect (httpd accepts it and never applies it)",
      "t.conf:11: AllowOverride inside <If> has no effect (httpd: AH00114: Useless use of AllowOverride): only <Directory> sections without regular expressions set it",
      "t.conf:12: AllowOverrideList inside <If> has no effect (httpd: AH00115: Useless use of AllowOverrideList): only <Directory> sections without regular expressions set it",
    ]);
    // What such a section holds is still read: its errors are errors.
    fails('<If "true">\n<Files f>\nNoSuchThing x\n</Files>\n</If>\n', /t\.conf:3: NoSuchThing: Invalid command/);
    // As in httpd: not inside an <If> within <Location>, and AllowOverride in <Location> or <Files> is only useless.
    fails('<Location /x>\n<If "true">\n<Files f>\n</Files>\n</If>\n</Location>\n', /t\.conf:3: <Files>: <Files> cannot occur within <Location> section/);
    assert.deepEqual(load("<Location /x>\nAllowOverride All\n</Location>\n<Files y>\nAllowOverride None\n</Files>\n").notices.map((n) => n.split(" has ")[0]), [
      "t.conf:2: AllowOverride inside <Location>",
      "t.conf:5: AllowOverride inside <Files>",
    ]);
  });
  it("accepts AllowOverride(List) inside <DirectoryMatch> and <Directory ~> without effect, with a notice (httpd 2.4 ignores them there, silently), and checks its arguments wherever it has no effect, as httpd", () => {
    const c = load('<DirectoryMatch "^/x/a">\nAllowOverride All\nAllowOverrideList Redirect\nSetEnv A 1\n</DirectoryMatch>\n<Directory ~ "^/x/b">\nAllowOverride None\n</Directory>\n');
    assert.deepEqual(c.main.sections.map((x) => Object.keys(x.settings)), [["env"], []]);
    assert.deepEqual(c.notices, [
      "t.conf:2: AllowOverride inside <DirectoryMatch> has no effect (httpd ignores it): only <Directory> sections without regular expressions set it",
      "t.conf:3: AllowOverrideList inside <DirectoryMatch> has no effect (httpd ignores it): only <Directory> sections without regular expressions set it",
      "t.conf:7: AllowOverride inside <Directory ~> has no effect (httpd ignores it): only <Directory> sections without regular expressions set it",
    ]);
    // httpd: "Illegal override option Bogus", in <DirectoryMatch> and after AH00114 in <Location>.
    fails('<DirectoryMatch "^/x">\nAllowOverride Bogus\n</DirectoryMatch>\n', /t\.conf:2: AllowOverride: .*Bogus/);
    fails("<Location /x>\nAllowOverride Bogus\n</Location>\n", /t\.conf:2: AllowOverride: .*Bogus/);
    fails('<If "true">\nAllowOverride Options=Bogus\n</If>\n', /t\.conf:2: AllowOverride: .*Bogus/);
    // httpd 2.4.71 discards a name it does not know with a warning (AH00116) and keeps the rest.
    const d = load("<Directory /x>\nAllowOverrideList Bogus header\n</Directory>\n");
    assert.deepEqual(d.main.sections[0].settings.allowOverrideList.value, ["Header"]);
    assert.deepEqual(d.notices, ["t.conf:2: AllowOverrideList: discarding unrecognized directive `Bogus' (httpd: AH00116)"]);
  });
  it("a location-wide Redirect's URL is a string expression; a bad one is refused as httpd does", () => {
    const c = load('<Location /x>\nRedirect permanent "http://h.test%{REQUEST_URI}"\n</Location>\n<Location /y>\nRedirect gone\n</Location>\n');
    assert.equal(c.main.sections[0].settings.locationRedirect.value.status, 301);
    assert.equal(c.main.sections[0].settings.locationRedirect.value.url.source, "http://h.test%{REQUEST_URI}");
    assert.deepEqual(c.main.sections[1].settings.locationRedirect.value, { status: 410 });
    fails('<Location /x>\nRedirect "http://h.test%{NOPE}"\n</Location>\n', /t\.conf:2: Redirect: Cannot parse redirect expression 'http:\/\/h\.test%\{NOPE\}': Variable 'NOPE' does not exist/);
  });
  it("parses Require expr with or without quotes and refuses a bad one", () => {
    load('<Location /x>\nRequire expr "%{REMOTE_ADDR} -ipmatch \'127.0.0.0/8\'"\nRequire expr %{QUERY_STRING} == \'a\'\n</Location>\n');
    fails('<Location /x>\nRequire expr "%{FOO}"\n</Location>\n', /t\.conf:2: Require: Cannot parse expression in require line: syntax error, unexpected \$end: Variable 'FOO' does not exist/);
    fails('SetEnvIfExpr "%{FOO}" X\n', /SetEnvIfExpr: Could not parse expression "%\{FOO\}": syntax error, unexpected \$end: Variable 'FOO' does not exist/);
    fails('RewriteEngine On\nRewriteCond expr "%{FOO}"\nRewriteRule ^ -\n', /RewriteCond: cannot compile expression "%\{FOO\}" syntax error, unexpected \$end: Variable 'FOO'/);
  });
});

describe("evaluation errors in the map phase (as httpd logs them)", () => {
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");
  const { Mapper } = require("../dist/map/mapper");
  const { jsEngine } = require("../dist/engine/js-engine");

  it("an <If> that cannot be evaluated is false and logged (AH00039); a Require expr that cannot is a 500 (AH02320)", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-expr-"));
    try {
      fs.mkdirSync(path.join(root, "apps"));
      fs.writeFileSync(path.join(root, "apps/one.wsgi"), "");
      const config = parseConfigText(
        `ServerName localhost:8080\nWSGIScriptAlias /app ${root}/apps/\n<Directory ${root}>\nRequire all granted\n</Directory>\n` +
          `<Directory ${root}/apps>\n<If "file('${root}/none') == ''">\nSetEnv IFX 1\n</If>\n</Directory>\n` +
          `<Location /app/one.wsgi/r>\nRequire expr "file('${root}/none') == ''"\n</Location>\n`,
        path.join(root, "x.conf"),
      );
      const lines = [];
      const mapper = new Mapper(config, jsEngine, { log: { log: (level, module, msg) => lines.push(`${level} ${module} ${msg}`), close() {} } });
      const req = (target) => ({ method: "GET", target, protocol: "HTTP/1.1", headers: ["host", "localhost:8080"], remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 8080, scheme: "http" });
      const app = await mapper.map(req("/app/one.wsgi"));
      assert.equal(app.kind, "wsgi");
      assert.ok(!app.environ.includes("IFX"));
      const denied = await mapper.map(req("/app/one.wsgi/r"));
      assert.equal(denied.status, 500);
      assert.equal(lines.filter((l) => l.includes(`AH00039: Failed to evaluate <If > condition: Cannot open file ${root}/none`)).length, 2);
      assert.equal(lines.filter((l) => l.includes(`AH02320: Error evaluating expression in 'Require expr': Cannot open file ${root}/none`)).length, 1);
      // The evaluation failure names where the expression was written (line 12 of x.conf), as httpd does.
      assert.equal(lines.filter((l) => l.includes(`Evaluation of expression from ${path.join(root, "x.conf")}:12 failed`)).length, 1, lines.join("\n"));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("a RewriteCond -U lookup walks such an <If> three times more, a -F lookup once (httpd 2.4.71: 6 and 4 in all)", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-expr-"));
    try {
      fs.mkdirSync(path.join(root, "htdocs"));
      for (const f of ["f.txt", "fsub", "usub"]) fs.writeFileSync(path.join(root, "htdocs", f), "x");
      const config = parseConfigText(
        `ServerName localhost\nDocumentRoot ${root}/htdocs\n<Directory ${root}>\nRequire all granted\n</Directory>\n<If "file('${root}/none') == 'a'">\n  Header set X-If 1\n</If>\n` +
          `RewriteEngine On\nRewriteCond ${root}/htdocs/f.txt -F\nRewriteRule ^/fsub$ - [E=F:1]\nRewriteCond /f.txt -U\nRewriteRule ^/usub$ - [E=U:1]\n`,
        path.join(root, "x.conf"),
      );
      const lines = [];
      const mapper = new Mapper(config, jsEngine, { log: { log: (level, module, msg) => lines.push(msg), close() {} } });
      const req = (target) => ({ method: "GET", target, protocol: "HTTP/1.1", headers: ["host", "localhost"], remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 80, scheme: "http" });
      for (const [target, count] of [["/fsub", 4], ["/usub", 6], ["/f.txt", 3]]) {
        lines.length = 0;
        assert.equal((await mapper.map(req(target))).kind, "static");
        assert.equal(lines.filter((l) => l.includes("AH00039")).length, count, `${target}: ${lines.join("\n")}`);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("logs an <If> at server level or in a <Location> that cannot be evaluated three times per request, one in a <Directory> once, in httpd's order", async () => {
    // httpd 2.4.71 (run by hand on this configuration, its error log read): /f.txt logs the
    // server-level <If>'s failure three times; /loc/x that one's and the <Location>'s in turn,
    // three times; /d/y the server-level one three times, then the <Directory>'s once. Each
    // time ap_expr's "Evaluation of expression from FILE:LINE failed", then AH00039. The same
    // whether or not the configuration has sections read before the URL is translated (the
    // early walk here).
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-expr-"));
    try {
      for (const d of ["htdocs/loc", "htdocs/d"]) fs.mkdirSync(path.join(root, d), { recursive: true });
      for (const f of ["htdocs/f.txt", "htdocs/loc/x", "htdocs/d/y", "htdocs/g.txt"]) fs.writeFileSync(path.join(root, f), "x");
      const fail = (n) => `"file('${root}/none${n}') == 'a'"`;
      const text =
        `ServerName localhost\n<If ${fail(1)}>\n  Header set X-If 1\n</If>\n<Location /loc>\n<If ${fail(2)}>\n  Header set X-If 2\n</If>\n</Location>\n` +
        `<Directory ${root}/htdocs/d>\n<If ${fail(3)}>\n  Header set X-If 3\n</If>\n</Directory>\nDocumentRoot ${root}/htdocs\n<Directory ${root}>\nRequire all granted\n</Directory>\n` +
        // Lines 19-28: a nested <If> at server level counts as one there; one in <Files> is in the last walk only,
        // where the sections' own <If>s come before the nested ones (httpd 2.4.71, with only these: 20, 20, 25, 20 for /g.txt).
        `<If "true">\n<If ${fail(4)}>\n  Header set X-If 4\n</If>\n</If>\n<Files g.txt>\n<If ${fail(5)}>\n  Header set X-If 5\n</If>\n</Files>\n`;
      for (const early of ["", "<Location /elsewhere>\nRewriteEngine On\n</Location>\n"]) {
        const config = parseConfigText(text + early, path.join(root, "x.conf"));
        const lines = [];
        const mapper = new Mapper(config, jsEngine, { log: { log: (level, module, msg) => lines.push(`${level} ${module} ${msg}`), close() {} } });
        const req = (target) => ({ method: "GET", target, protocol: "HTTP/1.1", headers: ["host", "localhost"], remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 80, scheme: "http" });
        const fileOf = { 2: 1, 6: 2, 11: 3, 20: 4, 25: 5 };
        for (const [target, order] of [["/f.txt", [2, 20, 2, 20, 2, 20]], ["/loc/x", [2, 6, 20, 2, 6, 20, 2, 6, 20]], ["/d/y", [2, 20, 2, 20, 2, 11, 20]], ["/g.txt", [2, 20, 2, 20, 2, 25, 20]]]) {
          lines.length = 0;
          assert.equal((await mapper.map(req(target))).kind, "static");
          const expected = order.flatMap((line) => [
            `error core Evaluation of expression from ${path.join(root, "x.conf")}:${line} failed: Cannot open file ${root}/none${fileOf[line]}`,
            `error core AH00039: Failed to evaluate <If > condition: Cannot open file ${root}/none${fileOf[line]}`,
          ]);
          assert.deepEqual(lines.map((l) => l.replace(/\[client [^\]]*\] (\[R:[^\]]*\] )?/, "")), expected, `${target}${early ? " (early walk)" : ""}`);
        }
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
