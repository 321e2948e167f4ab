"use strict";
// node:http hello world, the fallback front end's ceiling.
const http = require("node:http");

const port = Number(process.argv[2]);
const body = Buffer.from("Hello World!");
http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "12" });
    res.end(body);
  })
  .listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
