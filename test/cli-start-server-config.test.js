"use strict";
// Unit tests for the pure half of start-server/setup-server: option parsing and generation.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const {
  parseExpressArgs,
  expressHelp,
  generateApacheConfig,
  generateHandlerScript,
  generateNginxConfig,
  generateSystemdUnit,
  generateApachectl,
  generatedPaths,
  withNginxTrust,
  EXPRESS_OPTIONS,
  quote,
  escapeRegex,
} = require("../dist/cli/express-config.js");

const CWD = "/srv/site";
const parse = (argv, cmd = "start-server") => parseExpressArgs(argv, CWD, cmd);
const dirs = (p) => (p.endsWith(".css") || p.endsWith(".ico") ? "file" : "directory");

test("defaults are mod_wsgi-express's", () => {
  const o = parse(["app.js"]);
  assert.equal(o.entryPoint, "/srv/site/app.js");
  assert.equal(o.port, 8000);
  assert.equal(o.host, undefined);
  assert.equal(o.processes, undefined);
  assert.equal(o.threads, 5);
  assert.equal(o.requestTimeout, 60);
  assert.equal(o.gracefulTimeout, 15);
  assert.equal(o.limitRequestBody, 10485760);
  assert.equal(o.mountPoint, "/");
  assert.equal(o.callableObject, "application");
});

test("options: values, --name=value, repeatable pairs, relative paths", () => {
  const o = parse([
    "--port=0", "app.js", "--processes", "3", "--threads", "7", "--url-alias", "/static", "static",
    "--url-alias", "/favicon.ico", "/x/favicon.ico", "--setenv", "A", "1 2", "--trust-proxy", "10.0.0.0/8",
    "--trust-proxy-header", "X-Forwarded-For", "--mount-point", "/app/", "--document-root", "docs",
    "--reload-on-changes", "--access-log", "--log-level", "info", "--include-file", "extra.conf",
  ]);
  assert.equal(o.port, 0);
  assert.equal(o.processes, 3);
  assert.equal(o.threads, 7);
  assert.deepEqual(o.urlAliases, [{ url: "/static", path: "/srv/site/static" }, { url: "/favicon.ico", path: "/x/favicon.ico" }]);
  assert.deepEqual(o.setenv, [["A", "1 2"]]);
  assert.deepEqual(o.trustProxies, ["10.0.0.0/8"]);
  assert.deepEqual(o.trustProxyHeaders, ["X-Forwarded-For"]);
  assert.equal(o.mountPoint, "/app");
  assert.equal(o.documentRoot, "/srv/site/docs");
  assert.equal(o.reloadOnChanges, true);
  assert.equal(o.accessLog, true);
  assert.equal(o.logLevel, "info");
  assert.deepEqual(o.includeFiles, ["/srv/site/extra.conf"]);
});

test("bad options are one-line usage errors", () => {
  const cases = [
    [["app.js", "--bogus"], /unknown option '--bogus'/],
    [["app.js", "-x"], /unknown option '-x'/],
    [["app.js", "--port", "eighty"], /--port expects a non-negative integer/],
    [["app.js", "--port", "70000"], /out of range/],
    [["app.js", "--processes", "0"], /at least 1/],
    [["app.js", "--url-alias", "/static"], /needs URL PATH/],
    [["app.js", "--log-level", "loud"], /must be one of/],
    [["app.js", "--mount-point", "app"], /must start with '\/'/],
    [["app.js", "--access-log=yes"], /takes no value/],
    [["app.js", "other.js"], /one SCRIPT only/],
    [[], /SCRIPT is required/],
    [["--application-type", "static"], /needs --document-root/],
    [["app.js", "--callable-object", "a.b"], /not an identifier/],
    [["app.js", "--nginx-port", "8080"], /unknown option '--nginx-port'/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => parse(argv), (err) => err.code === "E_USAGE" && re.test(err.message) && !err.message.includes("\n"), argv.join(" "));
  }
  assert.equal(parse(["app.js", "--nginx-port", "8080"], "setup-server").nginxPort, 8080);
});

test("--help lists every option with its default", () => {
  const help = expressHelp("start-server");
  for (const s of EXPRESS_OPTIONS) {
    if (s.setupOnly) assert.ok(!help.includes(`--${s.name} `), s.name);
    else assert.ok(help.includes(`--${s.name}`), s.name);
  }
  assert.match(help, /Default: 8000\./);
  assert.match(help, /Default: 5\./);
  assert.match(expressHelp("setup-server"), /--nginx-port NUMBER/);
  assert.ok(help.split("\n").every((l) => l.length <= 100), "lines wrap at 100 columns");
});

test("the Apache configuration: daemon group, handler, static files win", () => {
  const o = parse(["app.js", "--port", "8080", "--host", "127.0.0.1", "--processes", "2", "--url-alias", "/static", "/s", "--setenv", "NAME", 'say "hi"']);
  const paths = generatedPaths(o, "/tmp/root");
  const conf = generateApacheConfig(o, paths, dirs);
  assert.match(conf, /^Listen 127\.0\.0\.1:8080$/m);
  assert.match(conf, /^WSGIDaemonProcess "127\.0\.0\.1:8080" processes=2 threads=5 .*request-timeout=60 graceful-timeout=15/m);
  assert.match(conf, /^WSGIHandlerScript wsgi-handler "\/tmp\/root\/handler\.mjs" process-group="127\.0\.0\.1:8080" application-group=%\{GLOBAL\}$/m);
  assert.match(conf, /^WSGIImportScript "\/tmp\/root\/handler\.mjs"/m);
  assert.match(conf, /^DocumentRoot "\/tmp\/root\/htdocs"$/m);
  assert.match(conf, /^Alias "\/static" "\/s"$/m);
  assert.match(conf, /^RewriteCond %\{REQUEST_URI\} "!\^\/static\(\/\|\$\)"$/m);
  assert.match(conf, /^RewriteCond "\/tmp\/root\/htdocs\$1" !-f$/m);
  assert.match(conf, /^RewriteRule "\^\(\/\.\*\)\$" - \[H=wsgi-handler\]$/m);
  assert.match(conf, /^SetEnv NAME "say \\"hi\\""$/m);
  assert.match(conf, /^ErrorLog "\/tmp\/root\/error_log"$/m);
  assert.match(conf, /^LimitRequestBody 10485760$/m);
  // processes= only when given: wsgi.multiprocess follows mod_wsgi.
  assert.doesNotMatch(generateApacheConfig(parse(["app.js"]), paths, dirs), /processes=/);
  assert.doesNotMatch(generateApacheConfig(parse(["app.js", "--log-to-terminal"]), paths, dirs), /ErrorLog/);
});

test("the Apache configuration: mount point, static type, includes", () => {
  const o = parse(["app.js", "--mount-point", "/my.app", "--document-root", "/d"]);
  const conf = generateApacheConfig(o, generatedPaths(o, "/r"), dirs);
  assert.match(conf, /^DocumentRoot "\/r\/htdocs"$/m);
  assert.match(conf, /^Alias "\/my\.app" "\/d"$/m);
  assert.match(conf, /^RewriteCond "\/d\$1" !-f$/m);
  // `\\` in a quoted word is one backslash to the config parser (as to httpd's ap_getword_conf).
  // mod_rewrite reads its arguments without unescaping (parseargline): one backslash, as httpd needs.
  assert.match(conf, /^RewriteRule "\^\/my\\\.app\(\/\.\*\)\?\$" - \[H=wsgi-handler\]$/m);
  const s = parse(["--application-type", "static", "--document-root", "/d", "--include-file", "/x.conf"]);
  const sconf = generateApacheConfig(s, generatedPaths(s, "/r"), dirs);
  assert.doesNotMatch(sconf, /WSGI|Rewrite/);
  assert.match(sconf, /^DocumentRoot "\/d"$/m);
  assert.match(sconf, /^Include "\/x\.conf"$/m);
});

test("the handler script names the application, callable and mount point", () => {
  const o = parse(["app.js", "--callable-object", "app", "--mount-point", "/m", "--reload-on-changes"]);
  const src = generateHandlerScript(o, "/dist/app/loader.js");
  assert.match(src, /const SCRIPT = "\/srv\/site\/app\.js";/);
  assert.match(src, /const CALLABLE = "app";/);
  assert.match(src, /const MOUNT_POINT = "\/m";/);
  assert.match(src, /const RELOAD_ON_CHANGES = true;/);
  assert.match(src, /export function handle_request/);
});

test("nginx: static files by nginx, the rest over HTTP/1.1 with forwarded headers", () => {
  const o = withNginxTrust(parse(["app.js", "--port", "9000", "--document-root", "/d", "--url-alias", "/static", "/s", "--url-alias", "/favicon.ico", "/f/favicon.ico", "--nginx-port", "8080"], "setup-server"));
  assert.deepEqual(o.trustProxies, ["127.0.0.1"]);
  assert.deepEqual(o.trustProxyHeaders, ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port"]);
  const conf = generateNginxConfig(o, dirs);
  assert.match(conf, /server 127\.0\.0\.1:9000;/);
  assert.match(conf, /listen 8080;/);
  assert.match(conf, /location \^~ \/static\/ \{\s+alias \/s\/;/);
  assert.match(conf, /location = \/favicon\.ico \{\s+alias \/f\/favicon\.ico;/);
  assert.match(conf, /root \/d;\s+try_files \$uri @nodewsgi;/);
  assert.match(conf, /proxy_http_version 1\.1;/);
  for (const h of ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port"]) assert.match(conf, new RegExp(`proxy_set_header ${h} `));
  // The user's own trust settings are kept.
  const mine = withNginxTrust(parse(["app.js", "--trust-proxy", "10.1.1.1"], "setup-server"));
  assert.deepEqual(mine.trustProxies, ["10.1.1.1"]);
});

test("systemd unit and apachectl run serve -f on the generated file", () => {
  const o = parse(["app.js"], "setup-server");
  const paths = generatedPaths(o, "/etc/nodewsgi");
  const ctx = { node: "/usr/bin/node", bin: "/opt/nodewsgi/bin/nodewsgi.js", workingDirectory: "/srv/site" };
  const unit = generateSystemdUnit(o, paths, ctx);
  assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/nodewsgi\/bin\/nodewsgi\.js serve -f \/etc\/nodewsgi\/nodewsgi\.conf$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  const ctl = generateApachectl(paths, ctx);
  assert.match(ctl, /^CONFIG='\/etc\/nodewsgi\/nodewsgi\.conf'$/m);
  assert.match(ctl, /graceful\)/);
  assert.match(ctl, /kill -HUP/);
});

test("quoting helpers", () => {
  assert.equal(quote('a "b" \\c'), '"a \\"b\\" \\\\c"');
  assert.equal(escapeRegex("/a.b(c)"), "/a\\.b\\(c\\)");
  assert.equal(path.isAbsolute(parse(["x"]).entryPoint), true);
});
