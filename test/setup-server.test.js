"use strict";
// `nodewsgi setup-server`: the generated server root driven through its own apachectl, then
// the generated nginx.conf in front of it (a real nginx; skipped only when nginx is absent).
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { request, freePort } = require("./helpers/http");
const { spawn, spawnSync } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "bin", "nodewsgi.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-setup-server-"));

const ENVIRON_APP = `exports.application = (environ, start_response) => {
  const out = {};
  for (const [k, v] of Object.entries(environ)) if (typeof v !== "object" && typeof v !== "function") out[k] = v;
  start_response("200 OK", [["Content-Type", "application/json"], ["X-App", "environ"]]);
  return [JSON.stringify(out)];
};
`;

function write(rel, text) {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}


function findNginx() {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) if (fs.existsSync(p)) return p;
  const r = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

const serverRoot = path.join(tmp, "server-root");
const apachectl = (...args) => spawnSync(path.join(serverRoot, "apachectl"), args, { encoding: "utf8", timeout: 60_000 });
let backendPort;
let nginxPort;

test.before(async () => {
  backendPort = await freePort();
  nginxPort = await freePort();
  write("site/app.js", ENVIRON_APP);
  write("site/docs/hello.txt", "static hello\n");
  write("site/assets/style.css", "body{}\n");
  const r = spawnSync(process.execPath, [
    BIN, "setup-server", "app.js", "--server-root", serverRoot, "--host", "127.0.0.1", "--port", String(backendPort),
    "--document-root", "docs", "--url-alias", "/assets", "assets", "--nginx-port", String(nginxPort),
  ], { cwd: path.join(tmp, "site"), encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Control script: +\S+apachectl/);
});

test.after(() => {
  apachectl("stop");
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("setup-server writes the configuration, apachectl, a systemd unit and nginx.conf", () => {
  for (const f of ["nodewsgi.conf", "handler.mjs", "apachectl", "nodewsgi.service", "nginx.conf", "htdocs"]) {
    assert.ok(fs.existsSync(path.join(serverRoot, f)), f);
  }
  assert.ok(fs.statSync(path.join(serverRoot, "apachectl")).mode & 0o100, "apachectl is executable");
  const conf = fs.readFileSync(path.join(serverRoot, "nodewsgi.conf"), "utf8");
  assert.match(conf, /^WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto X-Forwarded-Host X-Forwarded-Port$/m);
  assert.match(conf, /^WSGITrustedProxies 127\.0\.0\.1$/m);
  const unit = fs.readFileSync(path.join(serverRoot, "nodewsgi.service"), "utf8");
  assert.ok(unit.includes(`serve -f ${path.join(serverRoot, "nodewsgi.conf")}`));
  assert.match(fs.readFileSync(path.join(serverRoot, "nginx.conf"), "utf8"), /proxy_http_version 1\.1;/);
});

test("setup-server without --server-root: one line, exit status 1", () => {
  const r = spawnSync(process.execPath, [BIN, "setup-server", path.join(tmp, "site/app.js")], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "nodewsgi setup-server: --server-root DIR is required\n");
});

test("apachectl configtest, start, serve, stop", async () => {
  const check = apachectl("configtest");
  assert.equal(check.status, 0, check.stderr);
  assert.equal(check.stdout, "Syntax OK\n");

  const start = apachectl("start");
  assert.equal(start.status, 0, start.stderr + start.stdout);
  assert.match(start.stdout, /started \(pid \d+\)/);
  const pid = Number(fs.readFileSync(path.join(serverRoot, "nodewsgi.pid"), "utf8"));
  assert.equal(apachectl("status").status, 0);
  const again = apachectl("start");
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already running/);

  const env = JSON.parse((await request(backendPort, "/some/path?q=1")).body);
  assert.equal(env.PATH_INFO, "/some/path");
  assert.equal(env.QUERY_STRING, "q=1");
  assert.equal((await request(backendPort, "/hello.txt")).body, "static hello\n");

  const stop = apachectl("stop");
  assert.equal(stop.status, 0, stop.stderr);
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
  assert.ok(!fs.existsSync(path.join(serverRoot, "nodewsgi.pid")), "the pid file is removed");
  assert.equal(apachectl("status").status, 3);
  await assert.rejects(request(backendPort, "/"), /ECONNREFUSED/);
});

test("nginx in front: static files by nginx, the application through the proxy with the client's view", async (t) => {
  const nginx = findNginx();
  if (!nginx) {
    t.skip("nginx is not installed (apt-get install -y nginx)");
    return;
  }
  const ngx = path.join(tmp, "nginx");
  fs.mkdirSync(path.join(ngx, "logs"), { recursive: true });
  const main = path.join(ngx, "nginx-main.conf");
  fs.writeFileSync(main, [
    "daemon off;",
    // One process as the current user: no worker user switch, no extra processes to reap.
    "master_process off;",
    `pid ${ngx}/nginx.pid;`,
    `error_log ${ngx}/logs/error.log warn;`,
    "events { worker_connections 64; }",
    "http {",
    "    types { text/plain txt; text/css css; }",
    "    access_log off;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((n) => `    ${n}_temp_path ${ngx}/${n}_temp;`),
    `    include ${path.join(serverRoot, "nginx.conf")};`,
    "}",
    "",
  ].join("\n"));
  const check = spawnSync(nginx, ["-t", "-p", ngx, "-c", main, "-e", `${ngx}/logs/error.log`], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stderr);

  assert.equal(apachectl("start").status, 0);
  const proc = spawn(nginx, ["-p", ngx, "-c", main, "-e", `${ngx}/logs/error.log`], { stdio: ["ignore", "ignore", "pipe"] });
  let nginxErr = "";
  proc.stderr.on("data", (d) => (nginxErr += d));
  t.after(() => {
    proc.kill("SIGKILL");
    apachectl("stop");
  });
  // Wait until nginx accepts connections.
  for (let i = 0; ; i++) {
    try {
      await request(nginxPort, "/hello.txt");
      break;
    } catch (err) {
      if (i > 600 || proc.exitCode !== null) throw new Error(`nginx did not start: ${nginxErr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const file = await request(nginxPort, "/hello.txt");
  assert.equal(file.status, 200);
  assert.equal(file.body, "static hello\n");
  assert.match(file.headers.server, /^nginx/);
  assert.equal(file.headers["x-app"], undefined, "served by nginx, not proxied");
  const css = await request(nginxPort, "/assets/style.css");
  assert.equal(css.body, "body{}\n");
  assert.equal(css.headers["x-app"], undefined);

  // The client is 127.0.0.2; nginx reaches nodewsgi from 127.0.0.1, a trusted proxy. A forged
  // X-Forwarded-For from the client is replaced by nginx.
  const res = await request(nginxPort, "/app/path?x=1", {
    localAddress: "127.0.0.2",
    headers: { Host: `example.test:${nginxPort}`, "X-Forwarded-For": "6.6.6.6" },
  });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers["x-app"], "environ", "the application answered through the proxy");
  const env = JSON.parse(res.body);
  assert.equal(env.REMOTE_ADDR, "127.0.0.2");
  assert.equal(env.HTTP_HOST, "example.test");
  assert.equal(env.SERVER_PORT, String(nginxPort));
  assert.equal(env["wsgi.url_scheme"], "http");
  assert.equal(env.PATH_INFO, "/app/path");
  assert.equal(env.QUERY_STRING, "x=1");
  assert.equal(env.SERVER_PROTOCOL, "HTTP/1.1");

  // A directory (no file) under the document root is the application's, as without nginx.
  assert.equal(JSON.parse((await request(nginxPort, "/")).body).PATH_INFO, "/");

  // With nodewsgi stopped, nginx still serves the static files itself; the application is 502.
  assert.equal(apachectl("stop").status, 0);
  assert.equal((await request(nginxPort, "/hello.txt")).body, "static hello\n");
  assert.equal((await request(nginxPort, "/assets/style.css")).body, "body{}\n");
  assert.equal((await request(nginxPort, "/app/path")).status, 502);
});
