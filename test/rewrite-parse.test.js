"use strict";
// mod_rewrite's directives are parsed once, when read (src/config/rewrite-rule.ts): the model
// holds what the rules run with, every refusal is a configuration error with file, line and
// directive (in <Directory> and .htaccess too, not when a request first needs the rules).
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText, parseHtaccess, ConfigErrors } = require("../dist/config");
const { HostTables } = require("../dist/map/host-tables");

function errorsOf(text) {
  try {
    parseConfigText(text, "t.conf");
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors;
    throw e;
  }
  assert.fail("expected errors");
}

const noEngine = { compileAliasTable: () => ({}) };

test("the compiled rules are the parsed ones: server and every directory share them, nothing is compiled again", () => {
  const cfg = parseConfigText(
    "RewriteEngine On\nRewriteCond %{HTTP_HOST} ^www\\. [NC]\nRewriteRule ^/a(.*)$ /b$1 [PT,E=X:caf\u00e9]\n" +
      "<Directory /srv>\nRewriteEngine On\nRewriteRule ^x$ y?z [L]\n</Directory>\n",
    "t.conf",
  );
  const tables = new HostTables(cfg, cfg.main, noEngine);
  const [rule] = cfg.main.rewrite.rules;
  assert.equal(tables.serverRewrite.rules[0], rule);
  assert.equal(rule.conditions[0].compiled.regexp.test("WWW.x"), true);
  // Literals are the byte strings requests are matched as, once.
  assert.deepEqual(rule.flags.env, ["X:caf\u00c3\u00a9"]);
  const dirRules = cfg.main.sections[0].settings.rewrite;
  const a = tables.perDirRules(dirRules, "/srv/a");
  const b = tables.perDirRules(dirRules, "/srv/b");
  assert.equal(a.rules[0], dirRules.rules[0]);
  assert.equal(b.rules[0].compiled, a.rules[0].compiled);
  assert.deepEqual([a.rules[0].output, a.rules[0].flags.qsNone], ["y?z", false]);
});

test("RewriteMaps are compiled once per definition: every context and every host inheriting them shares one map (and its txt cache)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-maps-"));
  fs.writeFileSync(path.join(dir, "m.txt"), "a one\nb two\n");
  const cfg = parseConfigText(
    `RewriteMap m txt:${dir}/m.txt\nRewriteMap up int:toupper\nRewriteEngine On\nRewriteOptions InheritDown\nRewriteRule ^/s/(.*) /\${m:$1} [PT]\n` +
      "<Directory /srv>\nRewriteRule ^x$ ${m:a} [L]\n</Directory>\n<Directory /srv/sub>\nRewriteRule ^y$ ${m:b} [L]\n</Directory>\n" +
      "<VirtualHost *:80>\nServerName v.test\nRewriteRule ^/v ${m:a} [PT]\n</VirtualHost>\n<VirtualHost *:80>\nServerName w.test\nRewriteMap m txt:" + dir + "/m.txt\n</VirtualHost>\n",
    "t.conf",
  );
  const main = new HostTables(cfg, cfg.main, noEngine);
  const [v, w] = cfg.virtualHosts.map((h) => new HostTables(cfg, h, noEngine));
  const map = main.serverRewrite.maps.get("m");
  assert.equal(map.lookup("a"), "one");
  for (const [i, d] of [[0, "/srv"], [1, "/srv/sub"], [1, "/srv/other"]]) {
    assert.equal(main.perDirRules(cfg.main.sections[i].settings.rewrite, d).maps.get("m"), map, d);
    assert.equal(v.perDirRules(cfg.main.sections[i].settings.rewrite, d).maps.get("m"), map, `v.test ${d}`);
  }
  assert.equal(v.serverRewrite.maps.get("m"), map);
  // A host's own definition of the name is a map of its own.
  assert.notEqual(w.perDirRules(cfg.main.sections[0].settings.rewrite, "/srv").maps.get("m"), map);
  fs.rmSync(dir, { recursive: true });
});

test("flag, regex and expression errors name file, line and directive, with mod_rewrite's wording", () => {
  const cases = [
    ["RewriteRule ^a b [L,FOO]", "E_CONFIG_VALUE", "RewriteRule: unknown flag 'FOO'"],
    ["RewriteRule ^a b [DX]", "E_CONFIG_VALUE", "RewriteRule: unknown flag 'DX'"],
    ["RewriteRule ^a b [L", "E_CONFIG_VALUE", "RewriteRule: bad flag delimiters: third argument must end with ']' but found 'L'"],
    ["RewriteRule ^a b L", "E_CONFIG_VALUE", "RewriteRule: flags 'L' must be written [FLAG,FLAG=value,...]"],
    ["RewriteRule ^a b [R=299]", "E_CONFIG_VALUE", "RewriteRule: invalid HTTP response code '299' for flag 'R'"],
    ["RewriteRule ^a b [R=200]", "E_CONFIG_VALUE", "RewriteRule: redirect status 200 must be 3xx, 4xx or 5xx"],
    ["RewriteRule ^a b [R=abc]", "E_CONFIG_VALUE", "RewriteRule: R= status must be an integer, got 'abc'"],
    ["RewriteRule ^a b [BNE]", "E_CONFIG_VALUE", "RewriteRule: flag 'BNE' wants a list of characters (i.e. [BNE=...])"],
    ["RewriteRule ^a b []", "E_CONFIG_VALUE", "RewriteRule: unknown flag ''"],
    ["RewriteRule ^a b [P]", "E_CONFIG_UNSUPPORTED", "RewriteRule: the [P] (proxy) flag is not supported by nodewsgi"],
    ["RewriteRule ^a b [S=0]", "E_CONFIG_VALUE", "RewriteRule: S= count must be at least 1, got 0"],
    ["RewriteRule ^a b [E]", "E_CONFIG_VALUE", "RewriteRule: E= needs variable[:value]"],
    ["RewriteRule ^a b [H=]", "E_CONFIG_VALUE", "RewriteRule: H= needs a handler name"],
    ["RewriteRule ^a b [T]", "E_CONFIG_VALUE", "RewriteRule: T= needs a media type"],
    ['RewriteRule ^a ""', "E_CONFIG_VALUE", "RewriteRule: bad argument line: at least two arguments required"],
    ["RewriteRule !( b", "E_CONFIG_REGEX", "RewriteRule: bad regular expression '(': Invalid regular expression: /(/: Unterminated group"],
    ["RewriteCond a b [XX]", "E_CONFIG_VALUE", "RewriteCond: unknown flag 'XX' (NC, OR, NV)"],
    ["RewriteCond a b []", "E_CONFIG_VALUE", "RewriteCond: unknown flag '' (NC, OR, NV)"],
    ["RewriteCond a ( [NC]", "E_CONFIG_REGEX", "RewriteCond: bad regular expression '(': Invalid regular expression: /(?:(?=[A-Za-z])(?:)|)(/: Unterminated group"],
    ['RewriteCond expr "%{FOO}"', "E_CONFIG_VALUE", `RewriteCond: cannot compile expression "%{FOO}" syntax error, unexpected $end: Variable 'FOO' does not exist`],
  ];
  for (const [line, code, message] of cases) {
    for (const [text, n] of [[`RewriteEngine On\n${line}\nRewriteRule ^ -\n`, 2], [`<Directory /srv>\nRewriteEngine On\n${line}\nRewriteRule ^ -\n</Directory>\n`, 3]]) {
      const errs = errorsOf(text);
      assert.equal(errs.length, 1, line);
      if (!message.includes("(?:")) assert.equal(errs[0].message, `t.conf:${n}: ${message}`, line);
      else assert.match(errs[0].message, new RegExp(`^t\\.conf:${n}: RewriteCond: bad regular expression '\\('`), line);
      assert.equal(errs[0].code, code, line);
    }
  }
});

test("what httpd accepts and nodewsgi runs is accepted: UNC, BackRefEscaping, BackRefErNoPlus, integer comparisons", () => {
  const cfg = parseConfigText("RewriteEngine On\nRewriteCond %{X} -lt(\nRewriteCond %{Y} !-ne3\nRewriteRule ^a b [UNC,backrefescaping,backrefernoplus,R=gone]\n", "t.conf");
  const [rule] = cfg.main.rewrite.rules;
  assert.equal(rule.flags.unc && rule.flags.escapeBackrefs && rule.flags.escapeNoPlus, true);
  assert.deepEqual(rule.conditions.map((c) => [c.test, c.pattern, c.negated]), [["-lt", "(", false], ["-eq", "3", false]]);
});

test(".htaccess rewrite lines go through the same parser: errors with the file and line", () => {
  const r = parseHtaccess("RewriteEngine On\nRewriteCond %{HTTP_HOST} x [NC,OR]\nRewriteRule ^a$ b [L,BNE]\nRewriteRule ^c$ d [QSA]\n", "/srv/.htaccess", { allowOverride: ["FileInfo"] });
  assert.deepEqual(r.errors.map((e) => e.message), ["/srv/.htaccess:3: RewriteRule: flag 'BNE' wants a list of characters (i.e. [BNE=...])"]);
  assert.deepEqual(r.settings.rewrite.rules.map((x) => [x.pattern, x.flags.qsAppend]), [["^c$", true]]);
});

test("mod_rewrite inside <If>: rules carry httpd's `*If` directory; RewriteEngine anywhere (at server level and in <Location> it switches the server-context rules too)", () => {
  const cfg = parseConfigText(
    '<If "true">\nRewriteRule ^ /a [L]\n</If>\n<Directory /srv>\nRewriteBase /b/\nRewriteRule ^x$ y\n<If "false">\nRewriteEngine Off\nRewriteRule ^ /c\n</If>\n<Else>\nRewriteOptions MergeBase\nRewriteRule ^ /d\n</Else>\n</Directory>\n',
    "t.conf",
  );
  assert.deepEqual([cfg.main.dir.ifSections[0].settings.rewrite.directory, cfg.main.dir.ifSections[0].settings.rewrite.rules.length], ["*If", 1]);
  const dir = cfg.main.sections[0].settings;
  assert.equal(dir.rewrite.directory, undefined);
  const [ifSec, elseSec] = dir.ifSections;
  assert.equal(ifSec.settings.rewrite.engine, false);
  // Merged over the <Directory>: the <If>'s rules and directory; RewriteBase only under MergeBase.
  const { mergeDirSettings } = require("../dist/config");
  const withIf = mergeDirSettings(dir, ifSec.settings).rewrite;
  assert.deepEqual([withIf.directory, withIf.base, withIf.rules.map((r) => r.substitution)], ["*If", undefined, ["/c"]]);
  const withElse = mergeDirSettings(dir, elseSec.settings).rewrite;
  assert.deepEqual([withElse.directory, withElse.base], ["*If", "/b/"]);
  // At server level and in a <Location> too: httpd merges those before translating the URL, so
  // they switch the server-context rules (the rewrite-location-engine conformance scenarios).
  for (const text of ['<If "true">\nRewriteEngine On\n</If>\n', '<Location /y>\n<If "true">\nRewriteEngine Off\n</If>\n</Location>\n']) {
    assert.doesNotThrow(() => parseConfigText(text, "t.conf"), text);
  }
  assert.equal(parseHtaccess('<If "true">\nRewriteEngine On\nRewriteRule ^ /z\n</If>\n', "/srv/.htaccess", { allowOverride: ["FileInfo"] }).errors.length, 0);
  // A RewriteCond left at the end of an <If> is reported like one anywhere else.
  const dangling = parseConfigText('<Directory /x>\n<If "true">\nRewriteCond a b\n</If>\n</Directory>\n', "t.conf");
  assert.deepEqual(dangling.notices, ["t.conf:3: RewriteCond: not followed by a RewriteRule; ignored"]);
});

test("an inheriting <If>'s rule list is one array per pair of lists, so its per-request merge finds the compiled rules cached", () => {
  const { mergeDirSettings } = require("../dist/config");
  const cfg = parseConfigText('<Directory /srv>\nRewriteEngine On\nRewriteRule ^a$ b\n<If "true">\nRewriteOptions Inherit\nRewriteRule ^c$ d\n</If>\n</Directory>\n', "t.conf");
  const dir = cfg.main.sections[0].settings;
  const first = mergeDirSettings(dir, dir.ifSections[0].settings).rewrite;
  const again = mergeDirSettings(dir, dir.ifSections[0].settings).rewrite;
  assert.deepEqual(first.rules.map((r) => r.substitution), ["d", "b"]);
  assert.equal(again.rules, first.rules);
});
