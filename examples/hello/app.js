// The smallest nodewsgi application: `nodewsgi start-server examples/hello/app.js`
// then open http://localhost:8000/.
"use strict";

exports.application = (environ, start_response) => {
  const body = Buffer.from(`Hello World! (${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO})\n`);
  start_response("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
};
