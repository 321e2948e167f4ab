/**
 * The access log's view of a request the front end refused (src/http/refused-request.ts), as
 * httpd logs one: no handler, file, user, environment or log id; the virtual host of the
 * address (the Host header's only when the whole head was read); never kept alive.
 */
import type { HostConfig } from "../config/model";
import type { IncomingRequest } from "../http/types";
import type { RefusedRequest } from "../http/refused-request";
import type { AccessLog } from "./access-log";
import type { LogSubject } from "./log-format";

export class RefusalEntry implements LogSubject {
  readonly req: IncomingRequest;
  readonly requestLine: string;
  readonly status: number;
  readonly bodyBytes: number;
  readonly headerBytes: number;
  readonly aborted = false;
  readonly startMs: number;
  readonly durationUs = 0;
  readonly requestId = "";
  readonly user = undefined;
  readonly filename = undefined;
  readonly handler = undefined;
  readonly keepAlive = false;
  readonly host: HostConfig;
  private readonly hostName_: string | null;

  constructor(
    private readonly refused: RefusedRequest,
    private readonly log: AccessLog,
  ) {
    const res = refused.response;
    this.req = refused.req;
    this.requestLine = refused.requestLine;
    this.status = res.status;
    this.bodyBytes = res.body?.length ?? 0;
    this.headerBytes = log.headBytes(res.reason, res.headers);
    this.startMs = refused.time;
    if (refused.hostKnown) {
      const h = log.hostOf(refused.req);
      this.host = h.host;
      this.hostName_ = h.name;
    } else {
      this.host = log.hostOf({ ...refused.req, headers: [] }).host;
      this.hostName_ = null;
    }
  }

  get serverName(): string {
    return this.log.canonical(this.host).name;
  }

  /** %V: the Host header's name once httpd has read it, else the server's. */
  get hostName(): string {
    return this.hostName_ || this.serverName;
  }

  get serverPort(): string {
    return this.log.canonical(this.host).port ?? "80";
  }

  responseHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [k, v] of this.refused.response.headers) if (k.toLowerCase() === lower) return v;
    return undefined;
  }

  env(): string | undefined {
    return undefined;
  }

  note(): string | undefined {
    return undefined;
  }
}
