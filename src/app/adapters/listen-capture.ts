/**
 * Capturing `server.listen()` while a script loads, as Passenger does for Node applications:
 * a script that ends with `app.listen(3000)` (Express, Koa, connect, or plain
 * `http.createServer(handler).listen(port)`) binds no port; its server is recorded so the node
 * adapter can feed it requests through `server.emit("request", req, res)`.
 *
 * `net.Server.prototype.listen` is patched once per isolate, but it only intercepts a call made
 * inside a load's async context (AsyncLocalStorage), so the front end's own listeners and
 * other concurrent loads are never affected. Rules:
 * - Only servers with at least one `request` listener (HTTP-shaped) are intercepted; a plain
 *   `net` server binds as usual.
 * - The first such call inside the load window is captured; later ones bind as usual (a script
 *   may legitimately run a second server, e.g. for metrics).
 * - The window is the script's evaluation plus one macrotask turn, so `await x; app.listen()`
 *   in an async main with already-settled awaits is still caught. A listen() after that binds
 *   normally: the patch is then inert for that script.
 * - A captured server behaves as if listening: the callback runs and `listening` is emitted
 *   on the next tick, `listening` is true and `address()` reports the requested port.
 * While no load is in flight the AsyncLocalStorage is disabled, so the server's hot path pays
 * nothing for it.
 */
import * as net from "node:net";
import { AsyncLocalStorage } from "node:async_hooks";

interface CaptureState {
  open: boolean;
  server: net.Server | null;
}

const storage = new AsyncLocalStorage<CaptureState>();
let inFlight = 0;
let patched = false;

/** Run `load` with listen() capture; returns its result and the captured server, if any. */
export async function withListenCapture<T>(load: () => T | Promise<T>): Promise<{ value: T; server: net.Server | null }> {
  installPatch();
  const state: CaptureState = { open: true, server: null };
  inFlight++;
  try {
    const value = await storage.run(state, async () => {
      const v = await load();
      // One macrotask turn for `async main() { ...; app.listen() }` scripts.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return v;
    });
    return { value, server: state.server };
  } finally {
    state.open = false;
    if (--inFlight === 0) storage.disable();
  }
}

function installPatch(): void {
  if (patched) return;
  patched = true;
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
    const state = storage.getStore();
    if (state === undefined || !state.open || state.server !== null || this.listenerCount("request") === 0) {
      return (original as (...a: unknown[]) => net.Server).apply(this, args);
    }
    state.server = this;
    pretendListening(this, args);
    return this;
  } as typeof original;
}

function pretendListening(server: net.Server, args: unknown[]): void {
  const callback = args.find((a) => typeof a === "function") as (() => void) | undefined;
  const port = requestedPort(args[0]);
  Object.defineProperty(server, "listening", { value: true, configurable: true });
  Object.defineProperty(server, "address", {
    value: () => ({ address: "127.0.0.1", family: "IPv4", port }),
    configurable: true,
    writable: true,
  });
  if (callback) server.once("listening", callback);
  process.nextTick(() => server.emit("listening"));
}

function requestedPort(first: unknown): number {
  if (typeof first === "number") return first;
  if (typeof first === "string" && /^\d+$/.test(first)) return Number(first);
  if (first !== null && typeof first === "object" && "port" in first) return Number((first as { port: unknown }).port) || 0;
  return 0;
}

/** The request listener of a captured server: dispatches through the server's own listeners. */
export function serverListener(server: net.Server): (req: unknown, res: unknown) => void {
  return (req, res) => {
    server.emit("request", req, res);
  };
}
