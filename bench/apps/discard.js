"use strict";
// Reads the request body chunk by chunk and keeps nothing but the count: the 1 MB POST row and the
// 1 GB streamed-upload memory check. Memory growth beyond one chunk is the server's, not the app's.
exports.application = async (environ, start_response) => {
  let received = 0;
  for await (const chunk of environ["wsgi.input"]) received += chunk.length;
  const body = Buffer.from(String(received));
  start_response("200 OK", [
    ["Content-Type", "text/plain"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
};
