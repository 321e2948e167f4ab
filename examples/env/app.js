"use strict";
// Shows what an application sees: the environ mod_wsgi would give it, as plain text.
exports.application = (environ, start_response) => {
  const lines = Object.entries(environ)
    .filter(([, v]) => typeof v !== "object")
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} = ${v}`);
  const body = Buffer.from(lines.join("\n") + "\n");
  start_response("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
};
