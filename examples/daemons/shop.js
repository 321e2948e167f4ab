"use strict";
// The shop application: reports which process served it.
exports.application = (environ, start_response) => {
  const body = Buffer.from(
    `shop: served by pid ${process.pid} in process group '${environ["mod_wsgi.process_group"]}'` +
      ` (multiprocess: ${environ["wsgi.multiprocess"]})\n`,
  );
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
