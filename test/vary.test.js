"use strict";
// Vary as httpd 2.4.71 sends it (http_filters.c's fixup_vary): one field of unique names,
// mod_rewrite's first, joined with ",", whatever the application and the rewrite conditions gave.
const test = require("node:test");
const assert = require("node:assert/strict");
const { withMergedVary, varyNames } = require("../dist/http/vary");
const { writeSite, startServer, exchange } = require("./helpers/raw-http");

test("fixup_vary: names split at commas and blanks, kept once without regard to case, first spelling", () => {
  assert.deepEqual(varyNames(["Accept", "Cookie, accept", " ,User-Agent\tcookie"]), ["Accept", "Cookie", "User-Agent"]);
  assert.deepEqual(withMergedVary([["A", "1"], ["Vary", "Accept"], ["B", "2"], ["vary", "Cookie, accept"]], ["User-Agent"]),
    [["A", "1"], ["Vary", "User-Agent,Accept,Cookie"], ["B", "2"]]);
  const none = [["A", "1"]];
  assert.equal(withMergedVary(none), none);
  assert.deepEqual(withMergedVary(none, ["Accept"]), [["A", "1"], ["Vary", "Accept"]]);
});

for (const frontEnd of ["node", "uws"]) {
  test(`an application's Vary fields and a rewrite condition's Vary make one field (${frontEnd} front end)`, async () => {
    const site = writeSite("nodewsgi-vary-", ({ htdocs }) => ({
      files: {
        "htdocs/app.wsgi": "exports.application = (e, s) => { s('200 OK', [['Content-Type', 'text/plain'], ['Vary', 'Accept'], ['Vary', 'Cookie, accept'], ['Content-Length', '2']]); return [Buffer.from('ok')]; };",
      },
      config: `<Directory "${htdocs}">
    Require all granted
</Directory>
<Files app.wsgi>
    SetHandler wsgi-script
    Options +ExecCGI
</Files>
RewriteEngine On
RewriteCond %{HTTP:User-Agent} ^ua
RewriteRule ^/app\\.wsgi -
`,
    }));
    const { server, port } = await startServer(frontEnd, site);
    try {
      const vary = async (extra) => {
        const r = await exchange(port, `GET /app.wsgi HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
        return r.raw.toString("latin1").split("\r\n").filter((l) => /^vary:/i.test(l));
      };
      // What httpd 2.4.71 sent for the same application and rule.
      assert.deepEqual(await vary(""), ["Vary: Accept,Cookie"]);
      assert.deepEqual(await vary("User-Agent: ua1\r\n"), ["Vary: User-Agent,Accept,Cookie"]);
    } finally {
      await server.stop();
    }
  });
}
