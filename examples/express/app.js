// An Express application hosted by nodewsgi. Written as for plain Node (it ends with
// app.listen), nodewsgi captures that listen() instead of binding port 3000.
//   nodewsgi serve -f examples/express/site.conf   ->  http://127.0.0.1:8080/app/
//   node examples/express/app.js                   ->  http://127.0.0.1:3000/ (standalone)
"use strict";
const express = require("express");

const app = express();
app.use(express.json());

// Routes are relative to the mount point: under `WSGIScriptAlias /app`, GET /app/ lands here
// and req.baseUrl is "/app".
app.get("/", (req, res) => {
  res.send(`<p>Hello from Express, mounted at ${req.baseUrl || "/"}</p>`);
});

app.get("/json", (req, res) => {
  res.json({ query: req.query, path: req.path, baseUrl: req.baseUrl, originalUrl: req.originalUrl, ip: req.ip, protocol: req.protocol });
});

app.post("/echo", (req, res) => {
  res.status(201).json({ received: req.body });
});

app.get("/old", (req, res) => {
  res.redirect(`${req.baseUrl}/json?from=old`);
});

app.get("/cookies", (req, res) => {
  res.cookie("a", "1").cookie("b", "2").send("two cookies");
});

app.get("/stream", async (req, res) => {
  res.type("text/plain");
  for (let i = 0; i < 3; i++) {
    res.write(`chunk ${i}\n`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  res.end("done\n");
});

app.get("/fail", () => {
  throw new Error("something broke");
});

// Express's error handler signature: four arguments.
app.use((err, req, res, _next) => {
  res.status(500).json({ error: err.message });
});

app.listen(process.env.PORT || 3000, () => {
  console.log("express example listening");
});
