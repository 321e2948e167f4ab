"use strict";
// mod_negotiation beyond what the conformance corpus records (negotiation-* scenarios): the
// directives' errors, the type map parser, route plans, a type map's ETag, an application's
// Content-Language, and the fixup that respells Content-Encoding.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { parseConfigText, ConfigErrors } = require("../dist/config");
const fs = require("node:fs");
const path = require("node:path");
const { writeSite } = require("./helpers/raw-http");
const { siteServer } = require("./helpers/site-server");
const { request, get, raw } = require("./helpers/http");
const { availableEngines } = require("./helpers/engines");

function errorsOf(text) {
  try {
    parseConfigText(text, "n.conf");
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors;
    throw e;
  }
  assert.fail("expected errors");
}

describe("negotiation directives", () => {
  it("ForceLanguagePriority: None does not combine; unknown words are errors with file and line", () => {
    const errs = errorsOf(["ForceLanguagePriority None Prefer", "ForceLanguagePriority Fallback None", "ForceLanguagePriority Sometimes", "ForceLanguagePriority Prefer Fallback", "LanguagePriority"].join("\n"));
    assert.deepEqual(errs.map((e) => [e.file, e.line, e.directive, e.code]), [
      ["n.conf", 1, "ForceLanguagePriority", "E_CONFIG_VALUE"],
      ["n.conf", 2, "ForceLanguagePriority", "E_CONFIG_VALUE"],
      ["n.conf", 3, "ForceLanguagePriority", "E_CONFIG_VALUE"],
      ["n.conf", 5, "LanguagePriority", "E_CONFIG_ARGS"],
    ]);
    // httpd's messages, in its order of reading: None first, or None after another word.
    assert.match(errs[0].message, /Cannot combine ForceLanguagePriority options None and Prefer/);
    assert.match(errs[1].message, /Cannot combine ForceLanguagePriority options with None/);
  });

  it("LanguagePriority lines in one section add up; DefaultLanguage keeps its case; none is a notice; CacheNegotiatedDocs is server-wide", () => {
    const cfg = parseConfigText("<Directory /d>\n    LanguagePriority de fr\n    LanguagePriority en\n    DefaultLanguage en-GB\n    ForceLanguagePriority Fallback\n</Directory>\n", "n.conf");
    const s = cfg.main.sections.find((x) => x.settings.languagePriority).settings;
    assert.deepEqual(s.languagePriority.value, ["de", "fr", "en"]);
    assert.equal(s.defaultLanguage.value, "en-GB");
    assert.deepEqual(s.forceLanguagePriority.value, { prefer: false, fallback: true });
    assert.deepEqual(cfg.notices, []);
    const on = parseConfigText("CacheNegotiatedDocs On\n", "n.conf");
    assert.equal(on.main.dir.cacheNegotiatedDocs.value, true);
    assert.deepEqual(errorsOf("<Directory /d>\n    CacheNegotiatedDocs On\n</Directory>\n").map((e) => [e.line, e.code]), [[2, "E_CONFIG_CONTEXT"]]);
  });

  it("type maps: comments, continuation lines, (comments), Description, Body: and a bad Content-Length (which ends the map)", () => {
    const { parseTypeMap } = require("../dist/map/negotiate");
    const map = [
      "# a comment",
      "URI: a.html (the first)",
      "Content-Type: text/html;",
      "  level=3; qs=0.5",
      "Content-Language: en-GB,",
      "# a comment inside a record",
      "  FR",
      "Description: two",
      "   lines",
      "",
      "URI: b.txt",
      "Content-Type: text/plain",
      "Body:--end--",
      "inline (kept)",
      "--end-- anything",
      "",
      "URI: c.txt",
      "Description: no content headers: no variant",
      "",
      "URI: d.txt",
      "Content-Type: text/plain",
      "Content-Length: 12x",
      "",
      "URI: e.txt",
      "Content-Type: text/plain",
      "",
    ].join("\n");
    const parsed = parseTypeMap(Buffer.from(map, "latin1"), "/nonexistent/m.var");
    const vs = parsed.variants;
    assert.deepEqual(vs.map((v) => [v.name, v.type, v.level, v.qs, v.languages.join(","), v.description]), [
      ["a.html", "text/html", 3, 0.5, "en-gb,fr", "two lines"],
      ["m.var", "text/plain", 0, 1, "", ""],
    ]);
    assert.equal(vs[1].body.toString(), "inline (kept)\n");
    assert.equal(vs[1].size, 14);
    assert.equal(vs[0].size, -1);
    // The bad length ends the map: httpd's line names the request's file, which is not always the map.
    assert.equal(parsed.problem.fatal, false);
    assert.equal(parsed.problem.message("/x/doc"), "AH00684: Parse error in type map, Content-Length: '12x' in /x/doc is invalid.");
    const noColon = parseTypeMap(Buffer.from("URI: a.html\nContent-Type: text/html\n\nURI A.html\n"), "/x/m.var");
    assert.equal(noColon.problem.fatal, true);
    assert.equal(noColon.problem.message("/x/m.var"), "AH00681: Syntax error in type map, no ':' in /x/m.var for header uri a.html\\n");
    const noBody = parseTypeMap(Buffer.from("URI: a.html\nContent-Type:\n"), "/x/m.var");
    assert.equal(noBody.problem.message("/x/m.var"), "AH00682: Syntax error in type map --- no header body: /x/m.var for content-type:\\n");
    const noEnd = parseTypeMap(Buffer.from("URI: a.html\nContent-Type: text/html\n\nContent-Type: text/plain\nBody:--end--\nno end\n"), "/x/m.var");
    assert.deepEqual(noEnd.variants.map((v) => v.name), ["a.html"]);
    assert.equal(noEnd.problem.message("/x/m.var"), "AH00685: Syntax error in type map, no end tag '--end--' found in /x/m.var for Body: content.");
    // apr_strtoff: decimal digits within a 64-bit offset; no sign, nothing empty.
    for (const bad of ["+9", "-0", "", "99999999999999999999"]) {
      assert.equal(parseTypeMap(Buffer.from(`URI: a.html\nContent-Type: text/html\nContent-Length: ${bad};\n`), "/m").problem.fatal, false, bad);
    }
    assert.equal(parseTypeMap(Buffer.from("URI: a.html\nContent-Type: text/html\nContent-Length: 9223372036854775807\n"), "/m").problem, undefined);
  });
});

for (const [engineName, engine] of availableEngines()) {
  describe(`negotiation on a server (${engineName} engine)`, () => {
    let htdocsDir;
    const live = siteServer(
      (port) => {
        const site = writeSite("nodewsgi-neg-", ({ htdocs }) => ({
          files: {
            "htdocs/sc/app.wsgi": 'exports.application = (e, s) => { s("200 OK", [["Content-Type", "text/plain"], ...(e.QUERY_STRING === "own" ? [["Content-Language", "x-own"]] : [])]); return ["app"]; };\n',
            "htdocs/sc/app.html": "static\n",
            "htdocs/tm/m.var": "URI: a.html\nContent-Type: text/html\n",
            "htdocs/tm/a.html": "a\n",
            "htdocs/tm/bb.html": "bb\n",
            "htdocs/tm/e.var": "URI: a.html\nContent-Type: text/html\n",
            "htdocs/z/t.txt.gz": "zipped",
          },
          config: `Listen 127.0.0.1:${port}
<Directory "${htdocs}/sc">
    Options MultiViews ExecCGI
    MultiviewsMatch Handlers
    AddHandler wsgi-script .wsgi
    DefaultLanguage de
</Directory>
<Directory "${htdocs}/tm">
    AddHandler type-map .var
</Directory>
AddEncoding x-gzip .gz
`,
        }));
        htdocsDir = site.htdocs;
        return site.configFile;
      },
      engine,
      "node",
    );

    it("MultiViews choosing an application is not remembered as a route plan: the next request negotiates again", async () => {
      for (let i = 0; i < 3; i++) {
        const app = await get(live.port, "/sc/app", { accept: "application/x-httpd-cgi" });
        assert.equal(app.body, "app");
        assert.equal(app.headers["content-location"], "app.wsgi");
        assert.equal(app.headers.tcn, "choice");
        const page = await get(live.port, "/sc/app", { accept: "*/*" });
        assert.equal(page.body, "static\n");
        assert.equal(page.headers["content-location"], "app.html");
      }
    });

    it("an application's answer gets DefaultLanguage's Content-Language, its own after it (as httpd 2.4.71 + mod_wsgi 4.9.4 send it)", async () => {
      const plain = await get(live.port, "/sc/app.wsgi");
      assert.equal(plain.headers["content-language"], "de");
      const own = await get(live.port, "/sc/app.wsgi?own");
      assert.equal(own.headers["content-language"], "de,x-own");
    });

    it("a type map is read again when it changes (parsed maps are kept per file version)", async () => {
      assert.equal((await get(live.port, "/tm/e.var")).body, "a\n");
      assert.equal((await get(live.port, "/tm/e.var")).body, "a\n");
      fs.writeFileSync(path.join(htdocsDir, "tm/e.var"), "URI: bb.html\nContent-Type: text/html\n");
      assert.equal((await get(live.port, "/tm/e.var")).body, "bb\n");
    });

    it("a type map's variant carries the map's ETag as its variant list validator; a missing map is 404", async () => {
      const r = await get(live.port, "/tm/m.var");
      assert.equal(r.body, "a\n");
      assert.equal(r.headers["content-location"], "a.html");
      const map = fs.statSync(path.join(htdocsDir, "tm/m.var"));
      assert.match(r.headers.etag, new RegExp(`^(W/)?"2-[0-9a-f]+;${map.size.toString(16)}-[0-9a-f]+"$`));
      assert.equal((await get(live.port, "/tm/none.var")).status, 404);
    });

    it("HTTP/1.0: what a type map chose gets Expires (httpd's no_cache), a 406 does not, HTTP/1.1 does not", async () => {
      const old = await raw(live.port, "GET /tm/m.var HTTP/1.0\r\nHost: a\r\n\r\n");
      assert.match(old, /^HTTP\/1\.1 200 /);
      assert.match(old, /\r\nExpires: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT\r\n/);
      const refused = await raw(live.port, "GET /tm/m.var HTTP/1.0\r\nHost: a\r\nAccept: image/png\r\n\r\n");
      assert.match(refused, /^HTTP\/1\.1 406 /);
      assert.doesNotMatch(refused, /\r\nExpires:/i);
      const current = await get(live.port, "/tm/m.var");
      assert.equal(current.headers.expires, undefined);
    });

    it("Content-Encoding takes the client's spelling (fix_encoding)", async () => {
      assert.equal((await get(live.port, "/z/t.txt.gz")).headers["content-encoding"], "x-gzip");
      assert.equal((await get(live.port, "/z/t.txt.gz", { "accept-encoding": "gzip" })).headers["content-encoding"], "gzip");
      assert.equal((await get(live.port, "/z/t.txt.gz", { "accept-encoding": "br, x-gzip" })).headers["content-encoding"], "x-gzip");
      assert.equal((await request(live.port, "/z/t.txt.gz", { method: "HEAD", headers: { "accept-encoding": "GZIP;q=0.5" } })).headers["content-encoding"], "gzip");
    });
  });
}

describe("type map syntax errors in the error log (as httpd 2.4 logs them)", () => {
  it("AH00684 and AH00685 on every request, naming the request's file (the missing name under MultiViews); AH00681 with a 500", async () => {
    const { loadConfig } = require("../dist/config");
    const { Server } = require("../dist/server");
    const engine = availableEngines()[0][1];
    const site = writeSite("nodewsgi-tmlog-", ({ htdocs }) => ({
      files: {
        "htdocs/t/en.txt": "en\n",
        "htdocs/t/len.var": "URI: en.txt\nContent-Type: text/plain\n\nURI: fr.txt\nContent-Type: text/plain\nContent-Length: 5x\n",
        "htdocs/t/end.var": "URI: en.txt\nContent-Type: text/plain\n\nContent-Type: text/html\nBody:--x--\n<p>\n",
        "htdocs/t/colon.var": "URI: en.txt\nContent-Type: text/plain\n\nNo Colon\n",
        "htdocs/mv/en.txt": "en\n",
        "htdocs/mv/doc.var": "URI: en.txt\nContent-Type: text/plain\nContent-Length: +2\n\n",
      },
      config: `AddType application/x-type-map .var\n<Directory "${htdocs}/mv">\n    Options +MultiViews\n</Directory>\n`,
    }));
    const lines = [];
    const errorLog = { log: (level, module, message) => lines.push(`${module}:${level} ${message}`), close() {} };
    const server = await Server.start(loadConfig(site.configFile), { engine, frontEnd: "node", errorLog, accessLog: null, notice: () => {} });
    try {
      const port = server.addresses[0].port;
      const h = site.htdocs;
      assert.equal((await get(port, "/t/len.var")).body, "en\n");
      assert.equal((await get(port, "/t/len.var")).body, "en\n");
      assert.equal((await get(port, "/t/end.var")).body, "en\n");
      assert.equal((await get(port, "/t/colon.var")).status, 500);
      assert.equal((await get(port, "/mv/doc")).status, 406);
      const ours = lines.filter((l) => l.startsWith("negotiation:")).map((l) => l.replace(/^(\S+) (\[[^\]]*\] )+/, "$1 "));
      assert.deepEqual(ours, [
        `negotiation:error AH00684: Parse error in type map, Content-Length: '5x' in ${h}/t/len.var is invalid.`,
        `negotiation:error AH00684: Parse error in type map, Content-Length: '5x' in ${h}/t/len.var is invalid.`,
        `negotiation:error AH00685: Syntax error in type map, no end tag '--x--' found in ${h}/t/end.var for Body: content.`,
        `negotiation:error AH00681: Syntax error in type map, no ':' in ${h}/t/colon.var for header no colon\\n`,
        `negotiation:error AH00684: Parse error in type map, Content-Length: '+2' in ${h}/mv/doc is invalid.`,
        `negotiation:error AH00690: no acceptable variant: ${h}/mv/doc`,
      ]);
    } finally {
      await server.stop(1000);
    }
  });
});
