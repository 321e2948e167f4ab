"use strict";
// The least a WSGI-shaped gateway must do per request, on raw uWebSockets.js: the "floor" set's
// rows, to read the in-thread target against. No configuration, no mapping (one
// route, its values fixed), no access log; only what every request needs whatever the server:
//
//   address   raw uWS hello plus reading the client's address (uWS.js 20.30 makes a getpeername
//             call and a new ArrayBuffer for it on every request; REMOTE_ADDR needs it).
//   gateway   the above, plus the request head copied out of uWS, an environ object with the keys
//             nodewsgi gives this request (HTTP_* from the headers, CGI, mod_wsgi.*, wsgi.*),
//             per-request wsgi.errors, start_response and write closures, the status and
//             header checks, bench/apps/hello.js called, its body sent with the head in one write.
//
// usage: node uws-gateway.js PORT address|gateway
const path = require("node:path");

const port = Number(process.argv[2]);
const mode = process.argv[3];
if (mode !== "address" && mode !== "gateway") throw new Error(`mode must be address or gateway, not ${mode}`);
const { uws, listen } = require("../lib/uws.js");
const application = require("../apps/hello.js").application;

const SCRIPT = path.join(__dirname, "..", "apps", "hello.js");
const STATUS = /^(\d{3}) ([^\x00-\x1f\x7f]*)$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const VERSION = Object.freeze([1, 0]);
const EMPTY = Buffer.alloc(0);
/** wsgi.input of a request without a body: nothing to read, so one shared object. */
const NO_INPUT = Object.freeze({ read: () => EMPTY, readline: () => EMPTY, readlines: () => [] });

/** Client addresses as text by their 32-bit value, as nodewsgi's front end keeps them. */
const addresses = new Map();
function remoteAddress(res) {
  const b = new Uint8Array(res.getRemoteAddress());
  if (b.length !== 4) return Buffer.from(b).toString("hex");
  const key = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  let text = addresses.get(key);
  if (text === undefined) {
    text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
    addresses.set(key, text);
  }
  return text;
}

/** Header name -> HTTP_* key, memoised (names with "_" are dropped, as mod_wsgi does). */
const keys = new Map();
function environKey(name) {
  let key = keys.get(name);
  if (key === undefined) {
    key = name.includes("_") ? null : `HTTP_${name.toUpperCase().replace(/-/g, "_")}`;
    keys.set(name, key);
  }
  return key;
}

class Errors {
  constructor(prefix) {
    this.prefix = prefix;
  }
  write(s) {
    process.stderr.write(`${this.prefix}${s}`);
  }
  flush() {}
}

let requests = 0;
let lastMs = -1;
let lastMicros = "";

function gateway(res, req) {
  const headers = [];
  req.forEach((name, value) => {
    headers.push(name, value);
  });
  const method = req.getCaseSensitiveMethod();
  const url = req.getUrl();
  const query = req.getQuery() ?? "";
  const client = remoteAddress(res);
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastMicros = `${ms}000`;
  }
  const id = String(++requests);
  const environ = {
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_METHOD: method,
    QUERY_STRING: query,
    REQUEST_URI: query ? `${url}?${query}` : url,
    SCRIPT_NAME: "",
    PATH_INFO: url,
    SCRIPT_FILENAME: SCRIPT,
    DOCUMENT_ROOT: "/var/www/html",
    CONTEXT_PREFIX: "/",
    CONTEXT_DOCUMENT_ROOT: SCRIPT,
    REQUEST_SCHEME: "http",
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: String(port),
    SERVER_ADDR: "127.0.0.1",
    SERVER_ADMIN: "[no address given]",
    SERVER_SIGNATURE: "",
    SERVER_SOFTWARE: "uws-gateway",
    REMOTE_ADDR: client,
    REMOTE_PORT: "0",
    PATH_TRANSLATED: `${SCRIPT}${url}`,
    "mod_wsgi.script_name": "",
    "mod_wsgi.path_info": url,
    "mod_wsgi.process_group": "",
    "mod_wsgi.application_group": "",
    "mod_wsgi.callable_object": "application",
    "mod_wsgi.request_handler": "wsgi-script",
    "mod_wsgi.handler_script": "",
    "mod_wsgi.script_reloading": "1",
    "mod_wsgi.enable_sendfile": "0",
    "mod_wsgi.ignore_activity": "0",
    "mod_wsgi.listener_host": "127.0.0.1",
    "mod_wsgi.listener_port": String(port),
    "mod_wsgi.request_id": id,
    "mod_wsgi.request_start": lastMicros,
    "mod_wsgi.script_start": lastMicros,
    "wsgi.version": VERSION,
    "wsgi.url_scheme": "http",
    "wsgi.input": NO_INPUT,
    "wsgi.errors": new Errors(`[client ${client}:0] [R:${id}] `),
    "wsgi.multithread": true,
    "wsgi.multiprocess": true,
    "wsgi.run_once": false,
    "wsgi.input_terminated": true,
    "wsgi.file_wrapper": null,
  };
  for (let i = 0; i < headers.length; i += 2) {
    const key = environKey(headers[i]);
    if (key !== null) environ[key] = key in environ ? `${environ[key]}, ${headers[i + 1]}` : headers[i + 1];
  }

  let head = "";
  let length = -1;
  const chunks = [];
  const write = (data) => {
    chunks.push(typeof data === "string" ? Buffer.from(data) : data);
  };
  const startResponse = (status, list) => {
    const m = STATUS.exec(status);
    if (m === null) throw new Error(`invalid status ${JSON.stringify(status)}`);
    head = `${m[1]} ${m[2]}`;
    for (const [name, value] of list) {
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) throw new Error(`invalid header ${JSON.stringify(name)}`);
      // uWS writes Content-Length itself.
      if (name.length === 14 && name.toLowerCase() === "content-length") length = Number(value);
      else head += `\r\n${name}: ${value}`;
    }
    return write;
  };
  try {
    const result = application(environ, startResponse);
    for (const item of result) write(typeof item === "string" ? Buffer.from(item) : item);
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    res.writeStatus(head).end(length >= 0 ? body.subarray(0, length) : body);
  } catch (err) {
    res.writeStatus("500 Internal Server Error").end(String(err));
  }
}

function address(res) {
  remoteAddress(res);
  res.writeStatus("200 OK").writeHeader("Content-Type", "text/plain").end("Hello World!");
}

listen(uws.App().any("/*", mode === "gateway" ? gateway : address), port, "uws-gateway");
