"use strict";
// RewriteCond -U/-F lookups of a location behind Basic authentication: the subrequest carries
// the request's credentials (httpd 2.4.71; the rewrite-lookup-auth conformance scenario has the
// answers), and logs what httpd's subrequest logs.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { writeSite, startServer, exchange, parseResponses } = require("./helpers/raw-http");

const PW = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="; // "password"
const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");

test("-U and -F through Basic authentication and Require group, with httpd's log lines", async () => {
  const site = writeSite("nodewsgi-lookup-auth-", ({ work, htdocs }) => ({
    files: {
      "htdocs/yes.txt": "yes\n", "htdocs/no.txt": "no\n", "htdocs/priv/f.txt": "p\n", "htdocs/grp/f.txt": "g\n",
      "conf/htpasswd": `alice:${PW}\nbob:${PW}\n`, "conf/groups": "staff: bob\n",
    },
    config: `<Directory "${htdocs}">
    Require all granted
</Directory>
<Directory "${htdocs}/priv">
    AuthType Basic
    AuthName P
    AuthUserFile "${work}/conf/htpasswd"
    Require valid-user
</Directory>
<Directory "${htdocs}/grp">
    AuthType Basic
    AuthName G
    AuthUserFile "${work}/conf/htpasswd"
    AuthGroupFile "${work}/conf/groups"
    Require group staff
</Directory>
RewriteEngine On
RewriteCond /priv/f.txt -U
RewriteRule ^/t/u$ /yes.txt [L]
RewriteRule ^/t/u$ /no.txt [L]
RewriteCond ${htdocs}/priv/f.txt -F
RewriteRule ^/t/f$ /yes.txt [L]
RewriteRule ^/t/f$ /no.txt [L]
RewriteCond /grp/f.txt -U
RewriteRule ^/t/g$ /yes.txt [L]
RewriteRule ^/t/g$ /no.txt [L]
`,
  }));
  const { server, port } = await startServer("node", site);
  const body = async (target, auth) => {
    const r = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\n${auth ? `Authorization: ${auth}\r\n` : ""}Connection: close\r\n\r\n`);
    return parseResponses(r.raw)[0].body.toString().trim();
  };
  try {
    assert.equal(await body("/t/u"), "no");
    assert.equal(await body("/t/u", basic("alice", "password")), "yes");
    assert.equal(await body("/t/u", basic("alice", "wrong")), "no");
    assert.equal(await body("/t/f", basic("carol", "password")), "no");
    assert.equal(await body("/t/f", "Bearer x"), "no");
    assert.equal(await body("/t/f", basic("bob", "password")), "yes");
    assert.equal(await body("/t/g", basic("alice", "password")), "no");
    assert.equal(await body("/t/g", basic("bob", "password")), "yes");
  } finally {
    await server.stop();
  }
  const log = fs.readFileSync(path.join(site.work, "error.log"), "latin1");
  assert.match(log, /\[auth_basic:error\] .*AH01617: user alice: authentication failure for "\/priv\/f\.txt": Password Mismatch\n/);
  // The file lookup has no URI.
  assert.match(log, /\[auth_basic:error\] .*AH01618: user carol not found: \n/);
  assert.match(log, /\[auth_basic:error\] .*AH01614: client used wrong authentication scheme: \n/);
  assert.match(log, /\[authz_core:error\] .*AH01631: user alice: authorization failure for "\/grp\/f\.txt": \n/);
});

test("-U lookups evaluate the looked-up location's Require expr (as located there), nest at most LimitInternalRecursion deep, and name the hook providers they cannot run", async () => {
  const site = writeSite("nodewsgi-lookup-expr-", ({ work, htdocs }) => ({
    files: {
      "htdocs/yes.txt": "yes\n", "htdocs/no.txt": "no\n", "htdocs/ex/f.txt": "e\n", "htdocs/ex2/f.txt": "e\n", "htdocs/ex3/f.txt": "e\n",
      "htdocs/rec/f.txt": "r\n", "htdocs/wg/f.txt": "w\n", "conf/htpasswd": `alice:${PW}\n`,
    },
    config: `<Directory "${htdocs}">
    Require all granted
</Directory>
<Directory "${htdocs}/ex">
    Require expr "%{REMOTE_ADDR} == '127.0.0.1'"
</Directory>
<Directory "${htdocs}/ex2">
    Require expr "%{REMOTE_ADDR} == '10.9.9.9'"
</Directory>
<Directory "${htdocs}/ex3">
    Require expr "%{REQUEST_FILENAME} =~ m#/ex3/f\\.txt$#"
</Directory>
<Directory "${htdocs}/rec">
    Require expr "-U '/rec/f.txt'"
</Directory>
<Directory "${htdocs}/wg">
    AuthType Basic
    AuthName W
    AuthUserFile "${work}/conf/htpasswd"
    Require wsgi-group admins
</Directory>
RewriteEngine On
RewriteCond /ex/f.txt -U
RewriteRule ^/t/ex$ /yes.txt [L]
RewriteRule ^/t/ex$ /no.txt [L]
RewriteCond /ex2/f.txt -U
RewriteRule ^/t/ex2$ /yes.txt [L]
RewriteRule ^/t/ex2$ /no.txt [L]
RewriteCond /ex3/f.txt -U
RewriteRule ^/t/ex3$ /yes.txt [L]
RewriteRule ^/t/ex3$ /no.txt [L]
RewriteCond /rec/f.txt -U
RewriteRule ^/t/rec$ /yes.txt [L]
RewriteRule ^/t/rec$ /no.txt [L]
RewriteCond /wg/f.txt -U
RewriteRule ^/t/wg$ /yes.txt [L]
RewriteRule ^/t/wg$ /no.txt [L]
`,
  }));
  const { server, port } = await startServer("node", site);
  const body = async (target, auth) => {
    const r = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\n${auth ? `Authorization: ${auth}\r\n` : ""}Connection: close\r\n\r\n`);
    return parseResponses(r.raw)[0].body.toString().trim();
  };
  try {
    assert.equal(await body("/t/ex"), "yes");
    assert.equal(await body("/t/ex2"), "no");
    assert.equal(await body("/t/ex3"), "yes");
    assert.equal(await body("/t/rec"), "no");
    assert.equal(await body("/t/wg", basic("alice", "password")), "no");
    // The looked-up locations themselves answer as their expressions say.
    assert.equal(await body("/ex/f.txt"), "e");
  } finally {
    await server.stop();
  }
  const log = fs.readFileSync(path.join(site.work, "error.log"), "latin1");
  assert.match(log, /AH00125: Request exceeded the limit of 10 subrequest nesting levels/);
  assert.match(log, /\[wsgi:error\] .*Require wsgi-group cannot be evaluated in a RewriteCond -U\/-F or ap_expr -U\/-A\/-F lookup of \/wg\/f\.txt: hook scripts do not run there/);
});
