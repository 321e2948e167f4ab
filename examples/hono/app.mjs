// A Hono application hosted by nodewsgi: the module's default export has a fetch() method,
// which nodewsgi calls with a standard Request (full URL, mount point included) and the WSGI
// environ as Hono's `c.env`.
//   nodewsgi serve -f examples/hono/site.conf   ->  http://127.0.0.1:8080/hono/
import { Hono } from "hono";
import { stream } from "hono/streaming";

// Route relative to the mount point: strip SCRIPT_NAME (an ASCII path) from the URL path.
// Without nodewsgi (no environ), the whole path is used.
function mountRelativePath(request, options) {
  const path = new URL(request.url).pathname;
  const base = options?.env?.SCRIPT_NAME ?? "";
  return base && path.startsWith(base) ? path.slice(base.length) || "/" : path;
}

const app = new Hono({ getPath: mountRelativePath });

app.get("/", (c) => c.text(`Hello from Hono, mounted at ${c.env?.SCRIPT_NAME || "/"}`));

app.get("/json", (c) => c.json({ query: c.req.query(), url: c.req.url, method: c.req.method }));

app.post("/echo", async (c) => c.json({ received: await c.req.json() }, 201));

app.get("/cookies", (c) => {
  c.header("Set-Cookie", "a=1; Path=/", { append: true });
  c.header("Set-Cookie", "b=2; Path=/", { append: true });
  return c.text("two cookies");
});

app.get("/stream", (c) =>
  stream(c, async (s) => {
    for (let i = 0; i < 3; i++) {
      await s.write(`chunk ${i}\n`);
      await s.sleep(10);
    }
    await s.write("done\n");
  }),
);

app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));

export default app;
