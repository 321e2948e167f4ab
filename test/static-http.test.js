"use strict";
// Static answers as raw bytes on real sockets, on both front ends: methods on files that exist
// or not, directories with and without an index or a listing, and the body limit. Each case is
// what Apache httpd 2.4.71 answered for the same request on the same tree (the comparison rig
// of docs/differences.md). httpd's Allow lists its methods in hash order, which changes from
// one start to the next, so Allow is compared as a set.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { startServer, inTurn, writeSite } = require("./helpers/raw-http");

const H = "Host: localhost\r\n";
const ALLOW = "GET,HEAD,OPTIONS,POST,TRACE";

function staticSite() {
  const files = {
    "a.txt": "0123456789".repeat(10),
    "dir/index.html": "<html>index of dir</html>\n",
    "idx/f.txt": "f\n",
    "noidx/f.txt": "f\n",
    "lim/a.txt": "limited\n",
    "lim/den/f.txt": "denied\n",
    "lim/sub/f.txt": "sub\n",
    "cs/a.txt": "charset dir\n",
    "ft/sub/f.txt": "forced\n",
  };
  return writeSite("nodewsgi-static-http-", ({ htdocs: d }) => ({
    files: Object.fromEntries(Object.entries(files).map(([rel, text]) => [`htdocs/${rel}`, text])),
    config: `<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "${d}">
    Require all granted
</Directory>
<Directory "${d}/idx">
    Options +Indexes
</Directory>
<Directory "${d}/noidx">
    Options -Indexes
</Directory>
<Directory "${d}/lim">
    LimitRequestBody 10
    Options +Indexes
</Directory>
<Directory "${d}/lim/den">
    Require all denied
</Directory>
<Directory "${d}/cs">
    AddDefaultCharset On
</Directory>
<Directory "${d}/ft">
    ForceType text/plain
    Options +Indexes
</Directory>
`,
  }));
}

const sortedAllow = (r) => (r.headers.allow === undefined ? undefined : r.headers.allow.split(",").sort().join(","));
const request = (method, target, extra = "", body = "") =>
  `${method} ${target} HTTP/1.1\r\n${H}${body ? `Content-Length: ${body.length}\r\n` : ""}${extra}\r\n${body}`;

for (const frontEnd of ["node", "uws"]) {
  describe(`static answers over HTTP (${frontEnd} front end)`, () => {
    let server;
    let port;
    let site;
    before(async () => {
      site = staticSite();
      ({ server, port } = await startServer(frontEnd, site));
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    });

    describe("methods (core.c's default_handler, mod_dir, mod_autoindex)", () => {
      // [method, target, status, content type of the answer]: OPTIONS, PUT, DELETE and PATCH are
      // answered from the method alone, whether or not the file exists; a directory without
      // its index is listed or refused only for GET and HEAD.
      const CASES = [
        ["OPTIONS", "/nope.txt", 200, "text/plain"],
        ["OPTIONS", "/nope", 200, undefined],
        ["OPTIONS", "/a.txt/extra", 200, "text/plain"],
        ["OPTIONS", "/dir/", 200, "text/html"],
        ["OPTIONS", "/idx/", 200, "httpd/unix-directory"],
        ["OPTIONS", "/noidx/", 200, "httpd/unix-directory"],
        // ForceType wins over a directory's own type (core_override_type runs after mod_mime).
        ["OPTIONS", "/ft/sub/", 200, "text/plain"],
        ["OPTIONS", "/cs/nope.txt", 200, "text/plain; charset=iso-8859-1"],
        ["PUT", "/nope.txt", 405],
        ["DELETE", "/nope.txt", 405],
        ["PATCH", "/a.txt/extra", 405],
        ["DELETE", "/idx/", 405],
        ["PUT", "/noidx/", 405],
        ["POST", "/idx/", 404],
        ["POST", "/noidx/", 404],
        ["POST", "/nope.txt", 404],
        ["OPTIONS", "/dir", 301],
      ];
      for (const [method, target, status, type] of CASES) {
        it(`${method} ${target}: ${status}${status === 405 || status === 200 ? " with Allow" : ""}`, async () => {
          const body = method === "OPTIONS" ? "" : "x";
          const [r, next] = await inTurn(port, [request(method, target, "", body), request("GET", "/a.txt")]);
          assert.equal(r.status, status);
          if (status === 200) {
            assert.equal(sortedAllow(r), ALLOW);
            assert.equal(r.headers["content-length"], "0");
            assert.equal(r.headers["content-type"], type);
          } else if (status === 405) {
            assert.equal(sortedAllow(r), ALLOW);
            assert.match(r.body.toString(), new RegExp(`<p>The requested method ${method} is not allowed for this URL.</p>`));
          } else {
            assert.equal(r.headers.allow, undefined);
          }
          assert.equal(next.status, 200, "the connection carries on");
        });
      }

      it("GET and HEAD of a directory still list it or refuse it", async () => {
        const rs = await inTurn(port, [request("GET", "/idx/"), request("HEAD", "/idx/"), request("GET", "/noidx/")]);
        assert.deepEqual(rs.map((r) => r.status), [200, 200, 403]);
      });

      it("a Content-Length over LimitRequestBody turns any answer but an application's into 413, as httpd 2.4.71 (limit-body-order scenario)", async () => {
        const body = "01234567890123456789";
        // [target, method, status over the limit, status under it]: a 403 (still logged), mod_dir's 301, a listing, a 404.
        for (const [target, method, over, under] of [["/lim/den/f.txt", "POST", 413, 403], ["/lim/sub", "PUT", 413, 301], ["/lim/", "GET", 413, 200], ["/lim/nope.txt", "GET", 413, 404]]) {
          const [a, b] = await inTurn(port, [request(method, target, "", body), request(method, target, "Connection: close\r\n", "0123")]);
          assert.deepEqual([a.status, b.status], [over, under], `${method} ${target}`);
          // A body of up to 1 MiB is skipped and the connection kept (docs/differences.md); no Location on the 413.
          assert.equal(a.headers.location, undefined);
        }
        // A chunked body is not measured (httpd reads it and answers 413: docs/differences.md): the answer stands.
        const [c] = await inTurn(port, [`POST /lim/den/f.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n14\r\n${body}\r\n0\r\n\r\n`]);
        assert.equal(c.status, 403);
        // The refusal the 413 replaces is what the error log says, as httpd's AH01630 line.
        const log = fs.readFileSync(`${site.work}/error.log`, "latin1");
        assert.match(log, /AH01630: client denied by server configuration: .*\/lim\/den\/f\.txt/);
      });

      it("a body over LimitRequestBody is refused (413) before the method is looked at", async () => {
        for (const method of ["OPTIONS", "PUT", "POST"]) {
          const [r] = await inTurn(port, [request(method, "/lim/nope.txt", "Connection: close\r\n", "01234567890123456789")]);
          assert.equal(r.status, 413, method);
        }
      });
    });

    describe("ranges", () => {
      it("two Range fields: httpd merges them into one value that is no range set, and sends the whole file", async () => {
        const [r] = await inTurn(port, [request("GET", "/a.txt", "Range: bytes=0-9\r\nRange: bytes=20-29\r\n")]);
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 100);
        assert.equal(r.headers["content-range"], undefined);
      });

      it("multipart/byteranges: each part's type carries AddDefaultCharset's charset, as the response's own type would", async () => {
        const [r] = await inTurn(port, [request("GET", "/cs/a.txt", "Range: bytes=0-3,5-6\r\n")]);
        assert.equal(r.status, 206);
        assert.match(r.headers["content-type"], /^multipart\/byteranges; boundary=/);
        const parts = r.body.toString("latin1").match(/Content-type: [^\r]*/g);
        assert.deepEqual(parts, ["Content-type: text/plain; charset=iso-8859-1", "Content-type: text/plain; charset=iso-8859-1"]);
        assert.equal(Number(r.headers["content-length"]), r.body.length);
      });
    });

    describe("HEAD (ap_send_error_response makes no page for HEAD: no Content-Length)", () => {
      // [target, extra request headers, status]
      const CASES = [
        ["/nope.txt", "", 404],
        ["/dir", "", 301],
        ["/noidx/", "", 403],
        ["/a.txt", "Range: bytes=200-300\r\n", 416],
        ["/idx/", "", 200],
      ];
      for (const [target, extra, status] of CASES) {
        it(`HEAD ${target}${extra ? ` (${extra.trim()})` : ""}: ${status}, no Content-Length`, async () => {
          const [r, next] = await inTurn(port, [request("HEAD", target, extra), request("GET", "/a.txt")]);
          assert.equal(r.status, status);
          assert.equal(r.headers["content-length"], undefined);
          assert.equal(r.headers["transfer-encoding"], undefined);
          assert.equal(next.status, 200, "the connection carries on, in step");
          assert.equal(next.body.length, 100);
        });
      }

      it("HEAD of a 412 keeps the file's length (set before the conditions are evaluated); GET's 412 has 0", async () => {
        const [h, g] = await inTurn(port, [request("HEAD", "/a.txt", 'If-Match: "nope"\r\n'), request("GET", "/a.txt", 'If-Match: "nope"\r\n')]);
        assert.deepEqual([h.status, g.status], [412, 412]);
        assert.equal(h.headers["content-length"], "100");
        assert.equal(g.headers["content-length"], "0");
      });

      it("GET of the same error pages still carries their length", async () => {
        const [r] = await inTurn(port, [request("GET", "/nope.txt")]);
        assert.equal(r.status, 404);
        assert.equal(Number(r.headers["content-length"]), r.body.length);
      });
    });
  });
}
