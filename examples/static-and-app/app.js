"use strict";
// The application behind every URL that is not a static file.
exports.application = (environ, start_response) => {
  const page = `<!DOCTYPE html>
<html><head><link rel="stylesheet" href="/static/css/site.css"><title>static + app</title></head>
<body><h1>The application</h1><p>You asked for <code>${escapeHtml(environ.PATH_INFO)}</code>.
<a href="/robots.txt">robots.txt</a> and <a href="/static/css/site.css">site.css</a> are static files.</p></body></html>
`;
  const body = Buffer.from(page);
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"], ["Content-Length", String(body.length)]]);
  return [body];
};

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
