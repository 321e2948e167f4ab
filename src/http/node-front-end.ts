/**
 * The node:http front end: the fallback when the uWS binary cannot load, and the choice for
 * deployments that must serve HTTP/1.0 clients or header names uWS refuses (see
 * uws-front-end.ts). Same contract, same framing checks.
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { FrontEnd, FrontEndOptions, ListenAddress, RequestHandler } from "./front-end";
import type { HeaderPair, IncomingRequest, RequestBody, ResponseSink } from "./types";
import { NodewsgiError } from "../errors";
import { conflictingContentLength, parseDeclaredLength } from "./request-checks";

export class NodeFrontEnd implements FrontEnd {
  readonly kind = "node" as const;
  draining = false;
  private readonly servers: http.Server[] = [];
  private active = 0;

  constructor(
    private readonly handler: RequestHandler,
    private readonly options: FrontEndOptions,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  listen(host: string, port: number): Promise<ListenAddress> {
    const server = http.createServer(
      {
        maxHeaderSize: this.options.maxHeaderBytes,
        // Apache's KeepAliveTimeout default.
        keepAliveTimeout: 5000,
        requestTimeout: 0,
      },
      (req, res) => this.accept(req, res),
    );
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return;
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const text = status === 431 ? "Request Header Fields Too Large" : "Bad Request";
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    return new Promise((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new NodewsgiError("E_LISTEN", `could not bind to ${host}:${port}: ${err.code ?? err.message}`, { cause: err })),
      );
      server.listen(port, host, () => {
        this.servers.push(server);
        resolve({ host, port: (server.address() as AddressInfo).port });
      });
    });
  }

  stopListening(): void {
    for (const s of this.servers.splice(0)) {
      s.close();
      s.closeIdleConnections();
    }
  }

  private accept(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.active++;
    const sink = new NodeSink(req, res, this);
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push(raw[i].toLowerCase(), raw[i + 1]);

    const declared = parseDeclaredLength(headers);
    if (conflictingContentLength(headers) || declared.invalid) {
      sink.writeHead(400, "Bad Request", [["Content-Length", "0"], ["Connection", "close"]]);
      sink.end();
      return;
    }
    const socket = req.socket;
    const request: IncomingRequest = {
      method: req.method ?? "GET",
      target: req.url ?? "/",
      protocol: `HTTP/${req.httpVersion}`,
      headers,
      remoteAddress: stripMappedPrefix(socket.remoteAddress ?? ""),
      remotePort: socket.remotePort ?? 0,
      localAddress: stripMappedPrefix(socket.localAddress ?? ""),
      localPort: socket.localPort ?? 0,
      scheme: "http",
      body: new NodeBody(req, declared.length, declared.chunked),
    };
    this.handler(request, sink);
  }

  settle(): void {
    this.active--;
  }
}

function stripMappedPrefix(addr: string): string {
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

class NodeBody implements RequestBody {
  private started = false;

  constructor(
    private readonly req: http.IncomingMessage,
    readonly declaredLength: number,
    readonly chunked: boolean,
  ) {
    // Hold the stream until a consumer starts: nothing is read that nobody asked for.
    req.pause();
  }

  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    if (this.started) throw new NodewsgiError("E_BODY_STARTED", "request body already being read");
    this.started = true;
    if (this.req.complete && this.req.readableLength === 0) {
      onChunk(new Uint8Array(0), true);
      return;
    }
    this.req.on("data", (chunk: Buffer) => onChunk(chunk, false));
    this.req.on("end", () => onChunk(new Uint8Array(0), true));
    this.req.resume();
  }

  pause(): void {
    this.req.pause();
  }

  resume(): void {
    if (this.started) this.req.resume();
  }
}

class NodeSink implements ResponseSink {
  aborted = false;
  private finished = false;
  private abortHandlers: (() => void)[] = [];

  constructor(
    req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly owner: NodeFrontEnd,
  ) {
    res.on("close", () => {
      if (!this.finished) {
        this.aborted = true;
        this.finished = true;
        this.owner.settle();
        for (const cb of this.abortHandlers.splice(0)) cb();
      }
    });
    if (req.method === "HEAD") this.headOnly = true;
  }

  private readonly headOnly: boolean = false;

  onAbort(cb: () => void): void {
    if (this.aborted) cb();
    else this.abortHandlers.push(cb);
  }

  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    if (this.owner.draining) flat.push("Connection", "close");
    this.res.writeHead(status, reason, flat);
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.finished || this.headOnly) return true;
    return this.res.write(chunk);
  }

  drain(): Promise<void> {
    if (this.aborted || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
  }

  end(chunk?: Uint8Array): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.owner.settle();
    if (chunk && chunk.length > 0 && !this.headOnly) this.res.end(chunk);
    else this.res.end();
  }

  destroy(): void {
    if (this.finished) return;
    this.finished = true;
    this.owner.settle();
    this.res.destroy();
  }
}
