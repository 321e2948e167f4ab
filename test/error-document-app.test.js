"use strict";
// ErrorDocument for the errors answered where the application runs: a script that fails to
// load, an application that fails before its head, a missing callable, a worker thread or
// daemon process that dies before answering. httpd + mod_wsgi 4.9 applies the section's
// ErrorDocument to all of them, in embedded and daemon mode alike, and never to an
// application's own error response (recorded with Apache 2.4 side by side). Here for an
// application in the front-end thread (%{GLOBAL}), in a worker thread and in a daemon process.
// Also: httpd closes the connection after an application's own 400/413/500/503 as after its
// own pages (ap_status_drops_connection), and keeps it after a 404.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { startServer, exchange, inTurn, parseResponses, writeSite } = require("./helpers/raw-http");

const APP = `"use strict";
exports.application = (environ, start_response) => {
  switch (environ.PATH_INFO) {
    case "/raise":
      throw new Error("boom before start_response");
    case "/own500":
      start_response("500 Internal Server Error", [["Content-Type", "text/plain"]]);
      return ["the application's own 500\\n"];
    case "/status":
      start_response(environ.QUERY_STRING + " Chosen", [["Content-Type", "text/plain"], ["Content-Length", "3"]]);
      return ["abc"];
    case "/exit":
      process.exit(3);
    default:
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return ["ok"];
  }
};
`;

/** [mount, where the application runs, the section's directives]. */
const MOUNTS = [
  ["/g", "in the front-end thread", "WSGIApplicationGroup %{GLOBAL}"],
  ["/w", "in a worker thread", "WSGIApplicationGroup workers"],
  ["/d", "in a daemon process", "WSGIProcessGroup errdoc\n    WSGIApplicationGroup %{GLOBAL}"],
];

function errorDocumentSite() {
  return writeSite("nodewsgi-errdoc-", ({ work }) => {
    const sections = [];
    for (const [mount, , directives] of MOUNTS) {
      sections.push(`WSGIScriptAlias ${mount}/ "${work}/app/"
<Location ${mount}/>
    ${directives}
    ErrorDocument 500 "custom 500 text"
    ErrorDocument 404 "custom 404 text"
</Location>
WSGIScriptAlias /local${mount}/ "${work}/app/"
<Location /local${mount}/>
    ${directives}
    ErrorDocument 500 /err/500.html
</Location>`);
    }
    return {
      files: {
        "app/app.js": APP,
        "app/fail.js": `throw new Error("fails to load");\n`,
        "app/nocall.js": `exports.other = () => [];\n`,
        "htdocs/err/500.html": "<p>local 500 page</p>\n",
      },
      config: `<Directory "${work}">
    Require all granted
</Directory>
WSGIDaemonProcess errdoc threads=4
ErrorDocument 500 "server-level text"
RewriteEngine On
RewriteCond %{HTTP:X-Probe} =1
RewriteRule ^/plain/ - [E=probed:1]
WSGIScriptAlias /plain/ "${work}/app/"
<Location /plain/>
    WSGIApplicationGroup %{GLOBAL}
    ErrorDocument 500 Default
</Location>
${sections.join("\n")}
`,
    };
  });
}

async function get(port, target) {
  const r = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, { timeoutMs: 10_000, until: (b) => parseResponses(b)[0]?.complete === true });
  const [res] = parseResponses(r.raw);
  assert.ok(res, `no response to ${target}: ${JSON.stringify(r.raw.toString("latin1"))}`);
  return res;
}

for (const frontEnd of ["uws", "node"]) {
  describe(`ErrorDocument for errors where the application runs (${frontEnd} front end)`, () => {
    let server;
    let port;
    let site;
    before(async () => {
      site = errorDocumentSite();
      ({ server, port } = await startServer(frontEnd, site));
      for (const [mount] of MOUNTS) assert.equal((await get(port, `${mount}/app.js/ok`)).status, 200, `${mount} warms up`);
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    });

    for (const [mount, where] of MOUNTS) {
      describe(`application ${where}`, () => {
        it("a script that fails to load gets the section's 500 document, and the connection closes", async () => {
          const res = await get(port, `${mount}/fail.js`);
          assert.equal(res.status, 500);
          assert.equal(res.body.toString(), "custom 500 text");
          assert.equal(res.headers.connection, "close");
          assert.equal(res.headers["content-type"], "text/html; charset=iso-8859-1");
        });

        it("an application that fails before its head gets the 500 document", async () => {
          const res = await get(port, `${mount}/app.js/raise`);
          assert.equal(res.status, 500);
          assert.equal(res.body.toString(), "custom 500 text");
        });

        it("a missing callable gets the 404 document in embedded mode, the 500 one in a daemon (as mod_wsgi)", async () => {
          const res = await get(port, `${mount}/nocall.js`);
          if (mount === "/d") {
            assert.equal(res.status, 500);
            assert.equal(res.body.toString(), "custom 500 text");
          } else {
            assert.equal(res.status, 404);
            assert.equal(res.body.toString(), "custom 404 text");
          }
        });

        it("a local ErrorDocument is served from disk with the error's status", async () => {
          const res = await get(port, `/local${mount}/app.js/raise`);
          assert.equal(res.status, 500);
          assert.equal(res.body.toString(), "<p>local 500 page</p>\n");
          assert.equal(res.headers["content-type"], "text/html");
        });

        it("the application's own 500 passes through untouched, and closes the connection as httpd does", async () => {
          const res = await get(port, `${mount}/app.js/own500`);
          assert.equal(res.status, 500);
          assert.equal(res.body.toString(), "the application's own 500\n");
          assert.equal(res.headers.connection, "close");
        });

        it("an application's own 400/413/503 closes the connection; its 404 keeps it", async () => {
          for (const code of [400, 413, 503]) {
            const r = await exchange(port, `GET ${mount}/app.js/status?${code} HTTP/1.1\r\nHost: a\r\n\r\n`, { timeoutMs: 5000 });
            const [res] = parseResponses(r.raw);
            assert.equal(res.status, code);
            assert.equal(res.body.toString(), "abc");
            assert.equal(res.headers.connection, "close", `${code} says it closes`);
            assert.equal(r.closed, true, `${code} closes`);
          }
          const rs = await inTurn(port, [`GET ${mount}/app.js/status?404 HTTP/1.1\r\nHost: a\r\n\r\n`, `GET ${mount}/app.js/ok HTTP/1.1\r\nHost: a\r\n\r\n`]);
          assert.deepEqual(rs.map((r) => r.status), [404, 200]);
          assert.notEqual(rs[0].headers.connection, "close");
        });

        if (mount !== "/g") {
          it("a process or thread that dies before answering gets the 500 document, and the group serves on", async () => {
            const res = await get(port, `${mount}/app.js/exit`);
            assert.equal(res.status, 500);
            assert.equal(res.body.toString(), "custom 500 text");
            assert.equal((await get(port, `${mount}/app.js/ok`)).status, 200);
          });
        }
      });
    }

    it("a rewrite condition's Vary is on the application's response, not on the server's error page (httpd drops headers_out there)", async () => {
      const probed = async (target) => parseResponses((await exchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\nX-Probe: 1\r\nConnection: close\r\n\r\n`, { timeoutMs: 5000 })).raw)[0];
      assert.equal((await probed("/plain/app.js/ok")).headers.vary, "X-Probe");
      const failed = await probed("/plain/app.js/raise");
      assert.equal(failed.status, 500);
      assert.equal(failed.headers.vary, undefined);
    });

    it("ErrorDocument 500 default restores the canned page over an inherited document", async () => {
      const res = await get(port, "/plain/app.js/raise");
      assert.equal(res.status, 500);
      assert.match(res.body.toString(), /<title>500 Internal Server Error<\/title>/);
    });
  });
}
