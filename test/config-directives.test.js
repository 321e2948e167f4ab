"use strict";
// Directive semantics: WSGIDaemonProcess, WSGI aliases, Options merging, DirSettings merging, .htaccess.
const test = require("node:test");
const assert = require("node:assert/strict");
const { parseConfigText, parseHtaccess, mergeDirSettings, defaultDirSettings, effectiveOptions, resolveEnv, ConfigErrors } = require("../dist/config");

function errorsOf(text) {
  try {
    parseConfigText(text, "t.conf");
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors;
    throw e;
  }
  assert.fail("expected errors");
}

test("WSGIDaemonProcess: mod_wsgi defaults, explicit processes, quoted values", () => {
  const cfg = parseConfigText('WSGIDaemonProcess a\nWSGIDaemonProcess b processes=1 threads=0 maximum-requests=100 python-path="/x y:/z" display-name=%{GROUP} umask=0022\n', "t.conf");
  const a = cfg.daemonProcesses.get("a");
  assert.equal(a.processes, 1);
  assert.equal(a.processesExplicit, false);
  assert.equal(a.threads, 15);
  assert.equal(a.gracefulTimeout, 15);
  assert.equal(a.shutdownTimeout, 5);
  assert.equal(a.deadlockTimeout, 300);
  assert.equal(a.connectTimeout, 15);
  assert.equal(a.listenBacklog, 100);
  assert.deepEqual(a.where, { file: "t.conf", line: 1 });
  const b = cfg.daemonProcesses.get("b");
  assert.equal(b.processesExplicit, true);
  assert.equal(b.threads, 0);
  assert.equal(b.maximumRequests, 100);
  assert.deepEqual(b.pythonPath, ["/x y", "/z"]);
  assert.equal(b.displayName, "%{GROUP}");
  assert.equal(b.umask, 0o22);
});

test("WSGIDaemonProcess: unknown options, bad values and duplicates are errors", () => {
  const errs = errorsOf([
    "WSGIDaemonProcess a proceses=2",
    "WSGIDaemonProcess b processes=0",
    "WSGIDaemonProcess c threads=lots",
    "WSGIDaemonProcess d header-buffer-size=100",
    "WSGIDaemonProcess e home=relative",
    "WSGIDaemonProcess f script-user=a script-group=b",
    "WSGIDaemonProcess g threads",
    "WSGIDaemonProcess h",
    "WSGIDaemonProcess h",
    "WSGIDaemonProcess processes=2",
  ].join("\n"));
  assert.deepEqual(errs.map((e) => e.line), [1, 2, 3, 4, 5, 6, 7, 9, 10]);
  assert.match(errs[0].message, /unknown option 'proceses' \(did you mean processes\?\)/);
  assert.match(errs[1].message, /processes must be at least 1/);
  assert.match(errs[7].message, /duplicates the WSGIDaemonProcess at t\.conf:8/);
  for (const e of errs.slice(0, 8)) assert.equal(e.code, "E_CONFIG_VALUE");
});

test("WSGIScriptAlias options, WSGIImportScript requirements, group expressions", () => {
  const cfg = parseConfigText([
    "WSGIDaemonProcess g",
    "WSGIScriptAlias /app /srv/app.wsgi process-group=g application-group=%{GLOBAL} callable-object=app pass-authorization=On",
    "WSGIScriptAliasMatch ^/x/([^/]+) /srv/$1.wsgi",
    "Alias /static/ /srv/static/",
    "WSGIImportScript /srv/app.wsgi process-group=g application-group=%{GLOBAL}",
    "WSGIHandlerScript h /srv/h.wsgi process-group=g",
  ].join("\n"), "t.conf");
  const [a, m, s] = cfg.main.aliases;
  assert.deepEqual(a.options, { processGroup: "g", applicationGroup: "%{GLOBAL}", callableObject: "app", passAuthorization: true });
  assert.equal(a.isScript, true);
  assert.equal(m.kind, "WSGIScriptAliasMatch");
  assert.equal(m.compiled.regexp.exec("/x/foo/bar")[1], "foo");
  assert.equal(s.kind, "Alias");
  assert.equal(s.isScript, false);
  // %{GLOBAL} is stored as "", the name the groups use for the main interpreter.
  assert.deepEqual(cfg.importScripts.map((i) => [i.processGroup, i.applicationGroup]), [["g", ""]]);
  assert.equal(cfg.main.handlerScripts.get("h").options.processGroup, "g");

  const errs = errorsOf([
    "WSGIScriptAlias /a /x bogus=1",
    "WSGIImportScript /x process-group=g",
    "WSGIScriptAlias /b /x process-group=%{NOPE}",
    "WSGIScriptAlias /c /x pass-authorization=maybe",
    "WSGIScriptAlias /d",
  ].join("\n"));
  assert.deepEqual(errs.map((e) => [e.line, e.code]), [[1, "E_CONFIG_VALUE"], [2, "E_CONFIG_ARGS"], [3, "E_CONFIG_VALUE"], [4, "E_CONFIG_VALUE"], [5, "E_CONFIG_ARGS"]]);
});

test("an undefined literal process group is a notice, not an error", () => {
  const cfg = parseConfigText("WSGIScriptAlias / /x process-group=nope\n", "t.conf");
  assert.ok(cfg.notices.some((n) => /t\.conf:1: .*nope/.test(n)));
});

test("Options: +/- merging as httpd, mixed forms rejected", () => {
  const parse = (lines) => parseConfigText(lines.map((l, i) => `<Directory /d${i}>\n${l}\n</Directory>`).join("\n"), "o.conf").main.sections.map((s) => s.settings);
  const [abs, plus, minus, none] = parse(["Options Indexes ExecCGI", "Options +MultiViews -ExecCGI", "Options -Indexes", "Options None"]);
  const chain = (...ds) => effectiveOptions(ds.reduce((b, d) => mergeDirSettings(b, d), defaultDirSettings()));
  assert.deepEqual([...chain()].sort(), ["FollowSymLinks"]);
  assert.deepEqual([...chain(abs)].sort(), ["ExecCGI", "Indexes"]);
  assert.deepEqual([...chain(plus)].sort(), ["FollowSymLinks", "MultiViews"]);
  assert.deepEqual([...chain(abs, plus)].sort(), ["Indexes", "MultiViews"]);
  assert.deepEqual([...chain(abs, plus, minus)].sort(), ["MultiViews"]);
  assert.deepEqual([...chain(plus, abs)].sort(), ["ExecCGI", "Indexes"]);
  assert.deepEqual([...chain(abs, none, plus)].sort(), ["MultiViews"]);
  assert.deepEqual([...effectiveOptions(parse(["Options All"])[0])].sort(), ["ExecCGI", "FollowSymLinks", "Includes", "Indexes", "SymLinksIfOwnerMatch"]);

  const errs = errorsOf("<Directory /a>\nOptions +Indexes FollowSymLinks\nOptions Indexes -ExecCGI\nOptions Indexes None\nOptions +All\nOptions Bogus\n</Directory>\n");
  assert.deepEqual(errs.map((e) => e.line), [2, 3, 4, 5, 6]);
  assert.match(errs[0].detail, /Either all Options must start with \+ or -, or no Option may\./);
  assert.match(errs[4].detail, /Illegal option Bogus/);
});

test("mergeDirSettings: per-directive rules", () => {
  const cfg = parseConfigText([
    "SetEnv top 1",
    "<Directory /a>",
    "  AddHandler wsgi-script .wsgi .py",
    "  SetEnv x 1",
    "  Require all granted",
    "  WSGIProcessGroup g1",
    "  LimitRequestBody 10",
    "  RewriteEngine On",
    "  RewriteRule ^a$ b",
    "</Directory>",
    "<Directory /a/b>",
    "  RemoveHandler .py",
    "  SetEnv y 2",
    "  UnsetEnv x",
    "  Require valid-user",
    "  RewriteRule ^c$ d",
    "</Directory>",
    "<Directory /a/c>",
    "  AuthMerging And",
    "  Require ip 10.0.0.0/8",
    "  RewriteOptions Inherit",
    "  RewriteRule ^e$ f",
    "</Directory>",
  ].join("\n"), "m.conf");
  const [a, ab, ac] = cfg.main.sections.map((s) => s.settings);
  const base = mergeDirSettings(defaultDirSettings(), cfg.main.dir);
  const m1 = mergeDirSettings(mergeDirSettings(base, a), ab);
  assert.equal(m1.addHandlers.get("wsgi").value, "wsgi-script");
  assert.equal(m1.addHandlers.get("py").value, "");
  assert.deepEqual([...resolveEnv(m1.env)], [["top", "1"], ["y", "2"]]);
  assert.equal(m1.authz.items[0].provider, "valid-user");
  assert.equal(m1.authz.items.length, 1);
  assert.equal(m1.processGroup.value, "g1");
  assert.equal(m1.limitRequestBody.value, 10);
  assert.equal(m1.rewrite.engine, true);
  assert.deepEqual(m1.rewrite.rules.map((r) => r.pattern), ["^c$"]);
  const m2 = mergeDirSettings(mergeDirSettings(base, a), ac);
  assert.equal(m2.authz.kind, "all");
  assert.deepEqual(m2.rewrite.rules.map((r) => r.pattern), ["^e$", "^a$"]);
  // A section without mod_rewrite directives keeps the inherited rules untouched.
  const m3 = mergeDirSettings(mergeDirSettings(base, a), {});
  assert.deepEqual(m3.rewrite.rules.map((r) => r.pattern), ["^a$"]);
  assert.equal(a.addHandlers.get("py").value, "wsgi-script", "inputs are not modified");
});

test("Require: providers, negation only inside RequireAll/RequireNone, containers", () => {
  const cfg = parseConfigText("<Directory /a>\n<RequireAll>\nRequire ip 10.1 192.168.0.0/16 ::1\nRequire not ip 10.1.2.3\n<RequireAny>\nRequire user bob\nRequire valid-user\n</RequireAny>\n</RequireAll>\n</Directory>\n", "r.conf");
  const top = cfg.main.sections[0].settings.authz;
  assert.equal(top.kind, "any");
  const all = top.items[0];
  assert.equal(all.kind, "all");
  assert.deepEqual(all.items.map((i) => i.kind === "require" ? `${i.negated ? "!" : ""}${i.provider}` : i.kind), ["ip", "!ip", "any"]);
  const errs = errorsOf("<Directory /a>\nRequire not ip 10.0.0.1\nRequire all maybe\nRequire ip 300.1.1.1\nRequire nobody\n</Directory>\n");
  assert.deepEqual(errs.map((e) => e.line), [2, 3, 4, 5]);
  assert.match(errs[0].detail, /negative Require directive has no effect in <RequireAny> directive/);
});

test("RewriteCond attaches to the next RewriteRule; flags parsed and validated", () => {
  const cfg = parseConfigText("RewriteEngine On\nRewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} !-f\nRewriteCond %{HTTP_HOST} ^www\\. [NC,OR]\nRewriteRule ^(.*)$ /site.wsgi$1 [QSA,PT,L,E=APP:x,R=301]\nRewriteRule . - [E=A:b]\n", "rw.conf");
  const [r1, r2] = cfg.main.rewrite.rules;
  assert.equal(cfg.main.rewrite.engine, true);
  assert.deepEqual(r1.conditions.map((c) => [c.test, c.negated, c.flags.nocase, c.flags.ornext]), [["-f", true, false, false], ["regex", false, true, true]]);
  assert.ok(r1.conditions[1].compiled.regexp.test("WWW.example"));
  assert.equal(r1.flags.qsAppend && r1.flags.passThrough && r1.flags.last, true);
  assert.deepEqual(r1.flags.env, ["APP:x"]);
  assert.equal(r1.flags.redirect, 301);
  assert.equal(r2.conditions.length, 0);
  const errs = errorsOf("RewriteRule ^a b [Q]\nRewriteRule ^a b [P]\nRewriteCond a b [XX]\nRewriteRule ^a b\nRewriteBase /x\n");
  assert.deepEqual(errs.map((e) => [e.line, e.code]), [[1, "E_CONFIG_VALUE"], [2, "E_CONFIG_UNSUPPORTED"], [3, "E_CONFIG_VALUE"], [5, "E_CONFIG_CONTEXT"]]);
});

test("ignored directives give one-line notices; LoadModule of an implemented module is silent", () => {
  const cfg = parseConfigText("LoadModule wsgi_module modules/mod_wsgi.so\nLoadModule ssl_module modules/mod_ssl.so\nUser www-data\nHostnameLookups Off\nWSGIPythonHome /venv\n", "n.conf");
  assert.equal(cfg.notices.length, 4);
  assert.match(cfg.notices[0], /^n\.conf:2: LoadModule ssl_module: /);
  assert.match(cfg.notices[1], /^n\.conf:3: User: ignored/);
  for (const n of cfg.notices) assert.ok(!n.includes("\n"));
});

test("server-level values: Listen, LogLevel, limits, paths relative to ServerRoot", () => {
  const cfg = parseConfigText("ServerRoot /srv/web\nListen 8080\nListen 127.0.0.1:8081\nListen [::1]:8082\nLogLevel info rewrite:trace3\nErrorLog logs/error.log\nLimitRequestFieldSize 1000\nAllowEncodedSlashes NoDecode\nTimeout 30\n", "s.conf");
  assert.deepEqual(cfg.listen.map((l) => [l.host, l.port]), [[undefined, 8080], ["127.0.0.1", 8081], ["::1", 8082]]);
  assert.equal(cfg.logLevel, "info");
  assert.equal(cfg.errorLog, "/srv/web/logs/error.log");
  assert.equal(cfg.main.errorLog.where.line, 6);
  assert.equal(cfg.main.limitRequestFieldSize.value, 1000);
  assert.equal(cfg.main.allowEncodedSlashes.value, "nodecode");
  assert.equal(cfg.main.timeout.value, 30);
  const errs = errorsOf("Listen 70000\nListen 80\nListen 80\nLogLevel loud\n");
  assert.deepEqual(errs.map((e) => e.line), [1, 3, 4]);
});

test(".htaccess: honours AllowOverride, returns errors instead of throwing", () => {
  const text = "Options +Indexes\nAuthType Basic\nAuthName x\nRequire valid-user\nSetHandler wsgi-script\nWSGIDaemonProcess g\nBogus 1\n<Files a.txt>\nRequire all denied\n</Files>\n";
  const r = parseHtaccess(text, "/srv/.htaccess", { allowOverride: ["AuthConfig"] });
  assert.deepEqual(r.errors.map((e) => [e.line, e.code]), [[1, "E_CONFIG_CONTEXT"], [5, "E_CONFIG_CONTEXT"], [6, "E_CONFIG_CONTEXT"], [7, "E_CONFIG_UNKNOWN_DIRECTIVE"]]);
  assert.match(r.errors[0].message, /^\/srv\/\.htaccess:1: Options: not allowed here \(needs AllowOverride Options\)$/);
  assert.equal(r.settings.authType.value, "Basic");
  assert.equal(r.files[0].kind, "Files");
  const all = parseHtaccess("Options +Indexes\nSetHandler wsgi-script\n", "/srv/.htaccess", { allowOverride: ["Options", "FileInfo"] });
  assert.deepEqual(all.errors, []);
  assert.equal(all.settings.handler.value, "wsgi-script");
  const listed = parseHtaccess("SetHandler wsgi-script\nOptions ExecCGI\n", "/srv/.htaccess", { allowOverride: [], allowOverrideList: ["SetHandler"] });
  assert.deepEqual(listed.errors.map((e) => e.line), [2]);
  // AllowOverride Options=Indexes limits which options .htaccess may set.
  const cfg = parseConfigText("<Directory /srv>\nAllowOverride Options=Indexes,MultiViews AuthConfig\n</Directory>\n", "a.conf");
  const ao = cfg.main.sections[0].settings.allowOverride;
  assert.deepEqual(ao.classes.sort(), ["AuthConfig", "Options"]);
  const lim = parseHtaccess("Options +Indexes\nOptions +ExecCGI\n", "/srv/.htaccess", { allowOverride: ao });
  assert.deepEqual(lim.errors.map((e) => e.line), [2]);
});

test("ServerName: a port outside 1..65535 is refused with the file and line; a scheme with an IPv6 address is accepted", () => {
  const { parseConfigText: parse, ConfigErrors: Errors } = require("../dist/config");
  const errorOf = (text) => {
    try {
      parse(text, "names.conf");
    } catch (e) {
      assert.ok(e instanceof Errors, String(e));
      return e.message;
    }
    return null;
  };
  assert.match(errorOf("ServerName a.test:0\n"), /names\.conf:1: ServerName: .*port number "0" is outside the appropriate range/);
  assert.match(errorOf("\nServerName https://a.test:70000\n"), /names\.conf:2: ServerName: .*"70000"/);
  assert.match(errorOf("ServerName a.test:x\n"), /names\.conf:1: ServerName: 'a.test:x' is not a host name/);
  for (const ok of ["a.test", "a.test:65535", "https://a.test", "[::1]:8080", "https://[::1]:8443"]) assert.equal(errorOf(`ServerName ${ok}\n`), null, ok);
});
