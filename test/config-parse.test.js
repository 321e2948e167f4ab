"use strict";
// The Apache-syntax layer: words, quotes, continuation, comments, sections, includes, conditionals, errors.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText, loadConfig, splitWords, parseText, ConfigErrors, ConfigError } = require("../dist/config");

function errorsOf(fn) {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors;
    throw e;
  }
  assert.fail("expected configuration errors");
}

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-config-"));
}

test("words: quotes and backslashes as ap_getword_conf", () => {
  assert.deepEqual(splitWords(`a "b c" 'd e' f`), ["a", "b c", "d e", "f"]);
  assert.deepEqual(splitWords(`"say \\"hi\\"" 'it\\'s'`), ['say "hi"', "it's"]);
  assert.deepEqual(splitWords(`%{REQUEST_FILENAME}\\.py C:\\\\x`), ["%{REQUEST_FILENAME}\\.py", "C:\\x"]);
  assert.deepEqual(splitWords(`"a"b`), ["a", "b"]);
  assert.equal(splitWords(`"open`), null);
});

test("continuation lines, comments only at line start, line numbers", () => {
  const { nodes, errors } = parseText("# c1\n  # indented comment\nSetEnv A \\\n   b\nSetEnv X #notacomment\n\nServerName h\n", "f.conf");
  assert.deepEqual(errors, []);
  assert.equal(nodes.length, 3);
  assert.deepEqual(nodes[0].args, ["A", "b"]);
  assert.equal(nodes[0].where.line, 3);
  assert.deepEqual(nodes[1].args, ["X", "#notacomment"]);
  assert.equal(nodes[2].where.line, 7);
});

test("sections nest and keep file and line; Files inside Directory stays with its parent", () => {
  const cfg = parseConfigText(
    [
      "<Directory /srv/app>",
      "  Options None",
      "  <Files secret.txt>",
      "    Require all denied",
      "  </Files>",
      "</Directory>",
      "<DirectoryMatch ^/srv/(a|b)>",
      "</DirectoryMatch>",
      "<Directory ~ \"\\.git\">",
      "</Directory>",
      "<Location /a>",
      "</Location>",
      "<LocationMatch ^/b>",
      "</LocationMatch>",
      "<FilesMatch \\.(py|wsgi)$>",
      "</FilesMatch>",
    ].join("\n"),
    "/etc/x.conf",
  );
  const s = cfg.main.sections;
  assert.deepEqual(s.map((x) => [x.kind, x.isRegex, x.pattern, x.where.line]), [
    ["Directory", false, "/srv/app/", 1],
    ["DirectoryMatch", true, "^/srv/(a|b)", 7],
    ["Directory", true, "\\.git", 9],
    ["Location", false, "/a", 11],
    ["LocationMatch", true, "^/b", 13],
    ["FilesMatch", true, "\\.(py|wsgi)$", 15],
  ]);
  assert.equal(s[0].files.length, 1);
  assert.equal(s[0].files[0].kind, "Files");
  assert.equal(s[0].files[0].settings.authz.items[0].provider, "all");
  assert.equal(s[0].where.file, "/etc/x.conf");
  assert.ok(s[1].compiled.regexp.test("/srv/b/x"));
});

test("mismatched and unclosed sections are syntax errors with lines", () => {
  const errs = errorsOf(() => parseConfigText("<Directory /a>\n</Location>\n<Location /b>\n", "m.conf"));
  // A wrong close tag closes the innermost section (no cascade); the later one stays open.
  assert.deepEqual(errs.map((e) => [e.code, e.line]), [
    ["E_CONFIG_SYNTAX", 2],
    ["E_CONFIG_SYNTAX", 3],
  ]);
  assert.match(errs[0].message, /^m\.conf:2: <\/Location>: Expected <\/Directory> but saw <\/Location>$/);
  assert.match(errs[1].message, /<Location> was not closed/);
  const stray = errorsOf(() => parseConfigText("</Directory>\n", "s.conf"));
  assert.match(stray[0].message, /without matching <Directory> section/);
  const noGt = errorsOf(() => parseConfigText("<Directory /a\n</Directory>\n", "g.conf"));
  assert.match(noGt[0].message, /missing closing '>'/);
});

test("VirtualHost: addresses, own settings, only at top level", () => {
  const cfg = parseConfigText("<VirtualHost *:80 127.0.0.1:8080 [::1]:81>\n ServerName a.example\n ServerAlias b.example *.c.example\n WSGIScriptAlias / /srv/a.wsgi\n</VirtualHost>\n", "v.conf");
  const vh = cfg.virtualHosts[0];
  assert.deepEqual(vh.addresses, [{ host: "*", port: 80 }, { host: "127.0.0.1", port: 8080 }, { host: "::1", port: 81 }]);
  assert.equal(vh.serverName.value, "a.example");
  assert.deepEqual(vh.serverAliases, ["b.example", "*.c.example"]);
  assert.equal(vh.aliases[0].target, "/srv/a.wsgi");
  assert.equal(cfg.main.aliases.length, 0);
  const errs = errorsOf(() => parseConfigText("<Directory /a>\n<VirtualHost *:80>\n</VirtualHost>\n</Directory>\nServerAlias x\n", "v.conf"));
  assert.deepEqual(errs.map((e) => [e.code, e.line, e.directive]), [
    ["E_CONFIG_CONTEXT", 2, "<VirtualHost>"],
    ["E_CONFIG_CONTEXT", 5, "ServerAlias"],
  ]);
});

test("IfModule: implemented modules present, others absent; IfDefine with -D and Define", () => {
  const cfg = parseConfigText(
    [
      "<IfModule mod_wsgi.c>", "SetEnv a 1", "</IfModule>",
      "<IfModule wsgi_module>", "SetEnv b 1", "</IfModule>",
      "<IfModule !rewrite_module>", "SetEnv c 1", "</IfModule>",
      "<IfModule mod_ssl.c>", "SSLEngine on", "</IfModule>",
      "<IfModule !mod_ssl.c>", "SetEnv d 1", "</IfModule>",
      "<IfDefine DEBUG>", "SetEnv e 1", "</IfDefine>",
      "<IfDefine !PROD>", "SetEnv f 1", "</IfDefine>",
      "Define LATER /srv", "<IfDefine LATER>", "SetEnv g ${LATER}", "</IfDefine>",
    ].join("\n"),
    "i.conf",
    { defines: ["DEBUG"] },
  );
  assert.deepEqual(cfg.main.dir.env.map((e) => e.name + "=" + e.value), ["a=1", "b=1", "d=1", "e=1", "f=1", "g=/srv"]);
});

test("Include and IncludeOptional: ServerRoot-relative, wildcards sorted, directories, nesting in sections", () => {
  const dir = tmpdir();
  fs.mkdirSync(path.join(dir, "conf.d"));
  fs.writeFileSync(path.join(dir, "conf.d", "20-b.conf"), "SetEnv b 2\n");
  fs.writeFileSync(path.join(dir, "conf.d", "10-a.conf"), "SetEnv a 1\n");
  fs.writeFileSync(path.join(dir, "conf.d", "skip.txt"), "SetEnv skipped 1\n");
  fs.writeFileSync(path.join(dir, "inner.conf"), "Require all granted\nSetEnv inner yes\n");
  fs.writeFileSync(path.join(dir, "bad.conf"), "\n\nWSGIScriptAlais / /x\n");
  const main = path.join(dir, "main.conf");
  fs.writeFileSync(main, "Include conf.d/*.conf\nIncludeOptional nothing/*.conf\nIncludeOptional missing.conf\n<Directory /srv>\nInclude inner.conf\n</Directory>\n");
  const cfg = loadConfig(main);
  assert.equal(cfg.serverRoot, dir);
  assert.deepEqual(cfg.main.dir.env.map((e) => e.name), ["a", "b"]);
  assert.equal(cfg.main.sections[0].settings.env[0].name, "inner");
  assert.equal(cfg.main.sections[0].settings.env[0].where.file, path.join(dir, "inner.conf"));
  assert.equal(cfg.main.sections[0].settings.env[0].where.line, 2);
  assert.deepEqual(cfg.files, [main, path.join(dir, "conf.d", "10-a.conf"), path.join(dir, "conf.d", "20-b.conf"), path.join(dir, "inner.conf")]);

  fs.writeFileSync(main, "Include missing.conf\nInclude none/*.conf\nInclude bad.conf\nInclude main.conf\n");
  const errs = errorsOf(() => loadConfig(main));
  assert.deepEqual(errs.map((e) => [e.code, path.basename(e.file), e.line]), [
    ["E_CONFIG_INCLUDE", "main.conf", 1],
    ["E_CONFIG_INCLUDE", "main.conf", 2],
    ["E_CONFIG_INCLUDE", "main.conf", 4],
    ["E_CONFIG_UNKNOWN_DIRECTIVE", "bad.conf", 3],
  ]);
  assert.match(errs[2].message, /recursive Include/);

  // ServerRoot moves the base for later relative paths.
  fs.writeFileSync(path.join(dir, "conf.d", "20-b.conf"), "ServerRoot /nonexistent-root\n");
  fs.writeFileSync(main, "Include conf.d/20-b.conf\nPidFile run/x.pid\n");
  assert.equal(loadConfig(main).pidFile, "/nonexistent-root/run/x.pid");
});

test("unknown directive: Apache's message plus a suggestion, with file and line", () => {
  const errs = errorsOf(() => parseConfigText("ServerName x\n\nWSGIScriptAlais / /srv/app.wsgi\nFrobnicate yes\n<Directroy /a>\n</Directroy>\n", "/etc/site.conf"));
  assert.equal(errs.length, 3);
  const e = errs[0];
  assert.ok(e instanceof ConfigError);
  assert.equal(e.code, "E_CONFIG_UNKNOWN_DIRECTIVE");
  assert.equal(e.file, "/etc/site.conf");
  assert.equal(e.line, 3);
  assert.equal(e.directive, "WSGIScriptAlais");
  assert.equal(
    e.message,
    "/etc/site.conf:3: WSGIScriptAlais: Invalid command 'WSGIScriptAlais', perhaps misspelled or defined by a module not included in the server configuration (did you mean WSGIScriptAlias?)",
  );
  assert.doesNotMatch(errs[1].message, /did you mean/);
  assert.match(errs[2].message, /did you mean <Directory>\?/);
});

test("every error kind carries code, file and line; all are collected", () => {
  const text = [
    "Listen", // 1 args
    "Require all granted", // 2 context (server)
    "KeepAlive maybe", // 3 value
    "AliasMatch ^/(x /y", // 4 regex
    "ScriptAlias /cgi-bin/ /x/", // 5 unsupported
    'SetEnv "open', // 6 syntax
    "<Location /a>", // 7
    "  ServerName x.test", // 8 context (Location; AllowOverride there is only useless, as in httpd)
    "  WSGIDaemonProcess g", // 9 context
    "</Location>",
  ].join("\n");
  const errs = errorsOf(() => parseConfigText(text, "all.conf"));
  assert.deepEqual(errs.map((e) => [e.line, e.code]), [
    [1, "E_CONFIG_ARGS"],
    [2, "E_CONFIG_CONTEXT"],
    [3, "E_CONFIG_VALUE"],
    [4, "E_CONFIG_REGEX"],
    [5, "E_CONFIG_UNSUPPORTED"],
    [6, "E_CONFIG_SYNTAX"],
    [8, "E_CONFIG_CONTEXT"],
    [9, "E_CONFIG_CONTEXT"],
  ]);
  for (const e of errs) assert.match(e.message, /^all\.conf:\d+: /);
  assert.match(errs[2].message, /^all\.conf:3: KeepAlive: KeepAlive must be On or Off, got 'maybe'$/);
  assert.match(errs[7].message, /WSGIDaemonProcess: cannot occur within <Location> section/);
});

test("bad regexes in every place that takes one are config errors with their line", () => {
  const lines = [
    "WSGIScriptAliasMatch ^/(a /x.wsgi",
    "RewriteRule [ /x",
    "RewriteCond %{REQUEST_URI} a{2,1}",
    "RewriteRule ^ok$ /x",
    "<LocationMatch x++>",
    "</LocationMatch>",
    "<FilesMatch (?<n>x>",
    "</FilesMatch>",
    "SetEnvIf User-Agent * x=1",
    "RedirectMatch 301 ( http://x/",
  ];
  const errs = errorsOf(() => parseConfigText(lines.join("\n"), "re.conf"));
  assert.deepEqual(errs.map((e) => e.line), [1, 2, 3, 5, 7, 9, 10]);
  for (const e of errs) assert.equal(e.code, "E_CONFIG_REGEX");
});

test("PCRE spellings are translated: (?i), (?P<name>), \\A", () => {
  const cfg = parseConfigText("AliasMatch (?i)^/IMG/(?P<f>.*)\\.PNG$ /srv/$1\nAliasMatch \\A/x /y\n", "p.conf");
  const [a, b] = cfg.main.aliases;
  assert.ok(a.compiled.regexp.test("/img/a.png"));
  assert.ok(a.compiled.regexp.test("/Img/A.Png"));
  // Apache's DOTALL; case folding is ASCII-only and spelled in the source, not a flag.
  assert.equal(a.compiled.flags, "s");
  assert.ok(b.compiled.regexp.test("/x"));
  assert.ok(!b.compiled.regexp.test("A/x"));
  assert.equal(errorsOf(() => parseConfigText("AliasMatch (?>a) /b\n", "p.conf"))[0].code, "E_CONFIG_REGEX");
});

test("${VAR} substitution from Define and the environment; undefined gives a notice", () => {
  process.env.NODEWSGI_TEST_ROOT = "/from-env";
  const cfg = parseConfigText("Define APP /srv/app\nWSGIScriptAlias /a ${APP}/a.wsgi\nAlias /e ${NODEWSGI_TEST_ROOT}/e\nAlias /u ${NOPE_NOT_SET}/u\n", "d.conf");
  assert.equal(cfg.main.aliases[0].target, "/srv/app/a.wsgi");
  assert.equal(cfg.main.aliases[1].target, "/from-env/e");
  // An unset variable stays as written (and a relative target resolves against ServerRoot).
  assert.equal(cfg.main.aliases[2].target, path.join(cfg.serverRoot, "${NOPE_NOT_SET}/u"));
  assert.ok(cfg.notices.some((n) => /d\.conf:4: .*NOPE_NOT_SET/.test(n)));
});
