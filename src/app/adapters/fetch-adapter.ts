/**
 * A WHATWG fetch handler (`fetch(request, env, ctx) => Response`, as Hono, itty-router and
 * Workers-style modules export) as a WSGI-style callable.
 *
 * - The Request: method, the full URL (`wsgi.url_scheme://Host` + SCRIPT_NAME + PATH_INFO +
 *   `?QUERY_STRING`: the URL the client used, mount point included), headers from HTTP_* and
 *   CONTENT_*, and for methods other than GET/HEAD a body streamed from `wsgi.input`.
 * - The second argument is the environ itself (Hono exposes it as `c.env`), the third a small
 *   execution context: `waitUntil(promise)` (rejections go to wsgi.errors) and
 *   `passThroughOnException()` (a no-op).
 * - The Response: status and reason (statusText, else the standard phrase), every header
 *   (each Set-Cookie kept separate; hop-by-hop fields dropped, the server frames the body), and
 *   the body streamed as an async iterable whose `close()` cancels the stream when the client
 *   goes away.
 */
import { STATUS_CODES } from "node:http";
import type { Environ } from "../environ";
import type { WsgiApplication } from "../loader";
import { HOP_BY_HOP, hasBody, inputChunks, requestHeaders, requestUrl } from "./environ-http";

export type FetchHandler = (request: Request, env?: unknown, ctx?: unknown) => Response | Promise<Response>;

type StartResponse = (status: string, headers: [string, string][]) => unknown;

/** Wrap a fetch handler; `thisArg` is the object that holds it (a Hono app). */
export function fetchToWsgi(handler: FetchHandler, thisArg?: unknown): WsgiApplication {
  return async function fetchApplication(environ: Environ, startResponse: StartResponse) {
    const request = buildRequest(environ);
    const ctx = executionContext(environ);
    const response = (await handler.call(thisArg, request, environ, ctx)) as unknown;
    if (!isResponse(response)) {
      throw new TypeError(`fetch handler must return a Response, not ${response === null ? "null" : typeof response}`);
    }
    startResponse(statusLine(response.status, response.statusText), responseHeaders(response.headers));
    return responseBody(response);
  };
}

/** The Request a fetch handler sees for this environ. */
export function buildRequest(environ: Environ): Request {
  const method = typeof environ.REQUEST_METHOD === "string" ? environ.REQUEST_METHOD : "GET";
  const init: RequestInit & { duplex?: "half" } = { method, headers: requestHeaders(environ) };
  if (method !== "GET" && method !== "HEAD" && hasBody(environ)) {
    init.body = streamFrom(inputChunks(environ));
    init.duplex = "half";
  }
  let url = requestUrl(environ);
  try {
    new URL(url);
  } catch {
    // A Host header that is not a valid authority: fall back to the server's own name.
    url = requestUrl({ ...environ, HTTP_HOST: "" });
  }
  return new Request(url, init);
}

function streamFrom(it: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = await it.next();
      if (step.done) controller.close();
      else controller.enqueue(step.value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

function executionContext(environ: Environ): { waitUntil(p: unknown): void; passThroughOnException(): void } {
  return {
    waitUntil(p: unknown) {
      Promise.resolve(p).catch((err: unknown) => {
        const errors = environ["wsgi.errors"] as { write?: (s: string) => void } | undefined;
        errors?.write?.(`waitUntil() promise rejected: ${err instanceof Error ? err.stack : String(err)}\n`);
      });
    },
    passThroughOnException() {},
  };
}

function isResponse(v: unknown): v is Response {
  if (v instanceof Response) return true;
  // A Response from another realm or polyfill: duck-typed.
  return v !== null && typeof v === "object" && typeof (v as Response).status === "number" && typeof (v as Response).headers === "object";
}

function statusLine(status: number, statusText: string): string {
  const reason = statusText !== "" ? statusText : (STATUS_CODES[status] ?? "");
  return `${status} ${reason}`;
}

/** Response headers as WSGI pairs; Set-Cookie values stay separate, hop-by-hop fields go. */
export function responseHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  const cookies = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : null;
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) return;
    if (lower === "set-cookie" && cookies !== null) return;
    out.push([name, value]);
  });
  if (cookies !== null) for (const c of cookies) out.push(["set-cookie", c]);
  return out;
}

interface ClosableAsyncIterable extends AsyncIterable<Uint8Array> {
  close(): Promise<void>;
}

/**
 * The body as the server wants it. A body that is already complete after its first chunk (a
 * Response built from a string or buffer) becomes a one-item array, so the server can send a
 * Content-Length; anything else streams, with only one macrotask turn of delay spent looking.
 */
async function responseBody(response: Response): Promise<Uint8Array[] | ClosableAsyncIterable> {
  const body = response.body;
  if (body === null) return [];
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) return [];
  const next = reader.read();
  next.catch(() => {}); // observed later by the iterator; never an unhandled rejection
  const peeked = await Promise.race([next, new Promise<null>((resolve) => setImmediate(resolve, null))]);
  if (peeked !== null && peeked.done) return [first.value];
  let done = false;
  const cancel = async (): Promise<void> => {
    if (done) return;
    done = true;
    try {
      await reader.cancel();
    } catch {
      /* already errored or closed */
    }
  };
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield first.value;
        let step = await next;
        while (!step.done) {
          yield step.value;
          step = await reader.read();
        }
        done = true;
      } finally {
        await cancel();
      }
    },
    close: cancel,
  };
}
