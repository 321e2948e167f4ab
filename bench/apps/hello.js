"use strict";
// The nodewsgi hello world: 12 bytes, the same response every server in the table sends.
const body = Buffer.from("Hello World!");
exports.application = (environ, start_response) => {
  start_response("200 OK", [
    ["Content-Type", "text/plain"],
    ["Content-Length", "12"],
  ]);
  return [body];
};
