/**
 * The access log (mod_log_config's CustomLog/TransferLog): every configured log, its format
 * compiled once, its file opened once (several CustomLogs naming one file share it) and
 * written through a buffer (./log-file). A request is followed by a LoggedResponse: a
 * ResponseSink wrapper that records status, headers and bytes and writes the entry when the
 * response ends or the client goes away. Site creates it only when some CustomLog exists, so
 * a server without access logs pays nothing.
 *
 * As Apache: a <VirtualHost> with its own CustomLog lines logs only there; one without logs
 * to the main server's. `env=VAR` / `env=!VAR` and `expr=expression` log conditionally.
 */
import type { DirSettings, HostConfig, ServerConfig } from "../config/model";
import { resolveEnv } from "../config/model";
import type { AbortCause, HeaderPair, IncomingRequest, ResponseSink, SentListener } from "../http/types";
import { environPairs } from "../app/environ-pairs";
import type { MapResult } from "../map/mapper";
import { configuredName, requestHost, selectHost, serverBanner, serverIdentity, type ConfiguredName } from "../map/host";
import { NodewsgiError } from "../errors";
import { compileJsonFormat, compileLogFormat, firstHeader, PREDEFINED_FORMATS, type CompiledFormat, type LogSubject } from "./log-format";
import { openLogTarget, type LogTarget } from "./log-file";
import { existingRequestId, requestIdOf } from "./request-id";
import type { RefusedRequest } from "../http/refused-request";
import { RefusalEntry } from "./refusal-entry";
import { jsEngine } from "../engine/js-engine";
import { logConditionHolds } from "./log-condition";
import type { Expr, ExprEvalError } from "../config/expr";
import type { ErrorLog } from "./error-log";
import { requestLogPrefix } from "./request-id";
import { logExprFailure, withEditedFields } from "../map/expr-context";

interface CompiledLog {
  readonly format: CompiledFormat;
  readonly target: LogTarget;
  /** env= condition: log when the variable is set (or, negated, when it is not). */
  readonly condition: { readonly name: string; readonly negate: boolean } | null;
  /** expr= condition: log when the expression is true. */
  readonly expr: Expr | null;
}

export class AccessLog {
  private readonly targets = new Map<string, LogTarget>();
  private readonly mainLogs: CompiledLog[];
  /** Virtual hosts with logs of their own; empty: every request logs to the main server's. */
  private readonly hostLogs = new Map<HostConfig, CompiledLog[]>();
  /** What the front end adds to every head: Date, and Server with ServerTokens' banner. */
  readonly frontEndHeaderBytes: number;

  /**
   * The access log of a configuration, or null when it has no CustomLog at all. `errorLog`
   * hears of `expr=` conditions that fail to evaluate.
   */
  static fromConfig(config: ServerConfig, errorLog?: ErrorLog): AccessLog | null {
    const any = config.main.customLogs.length > 0 || config.virtualHosts.some((v) => v.customLogs.length > 0);
    return any ? new AccessLog(config, errorLog) : null;
  }

  /** Opens every log file; throws NodewsgiError (E_LOG_FORMAT, E_LOG_TARGET) with the config line. */
  constructor(
    readonly config: ServerConfig,
    private readonly errorLog?: ErrorLog,
  ) {
    this.frontEndHeaderBytes = DATE_HEADER_BYTES + `Server: ${serverBanner(config.serverTokens)}\r\n`.length;
    try {
      this.mainLogs = this.compileHost(config.main);
      for (const vh of config.virtualHosts) if (vh.customLogs.length > 0) this.hostLogs.set(vh, this.compileHost(vh));
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  private compileHost(host: HostConfig): CompiledLog[] {
    return host.customLogs.map((cl) => {
      try {
        const format = resolveFormat(cl.format, host, this.config.main);
        const condition = parseCondition(cl.condition);
        let target = this.targets.get(cl.target);
        if (!target) {
          target = openLogTarget(cl.target, true);
          this.targets.set(cl.target, target);
        }
        return { format, target, condition, expr: cl.conditionExpr ?? null };
      } catch (err) {
        const e = err as NodewsgiError;
        throw new NodewsgiError(e.code ?? "E_LOG", `${cl.where.file}:${cl.where.line}: CustomLog: ${e.message}`, { cause: err });
      }
    });
  }

  /** Follow one request: the returned sink stands in for `sink` and logs when it finishes. */
  begin(req: IncomingRequest, sink: ResponseSink): LoggedResponse {
    return new LoggedResponse(req, sink, this);
  }

  /** Write the entries of a finished request. */
  record(r: LoggedResponse): void {
    this.write(r.host, r);
  }

  /**
   * Write the entries of a request the front end refused: httpd logs those too, in the logs
   * of the address's default host (the main server's without virtual hosts).
   */
  recordRefusal(refused: RefusedRequest): void {
    try {
      const entry = new RefusalEntry(refused, this);
      this.write(entry.host, entry);
    } catch {
      // a log line must never break the front end
    }
  }

  /** Bytes of a response head as sent: status line, the front end's Date and Server, `headers`. */
  headBytes(reason: string, headers: readonly HeaderPair[]): number {
    let n = 13 + reason.length + this.frontEndHeaderBytes + 2; // "HTTP/1.1 200 " ... "\r\n"
    for (const [k, v] of headers) n += k.length + v.length + 4;
    return n;
  }

  private write(host: HostConfig, r: LogSubject): void {
    let logs = this.mainLogs;
    if (this.hostLogs.size > 0) {
      const own = this.hostLogs.get(host);
      if (own) logs = own;
    }
    for (const log of logs) {
      if (log.condition !== null && (r.env(log.condition.name) !== undefined) === log.condition.negate) continue;
      if (log.expr !== null && !this.exprHolds(log.expr, r)) continue;
      let line: string;
      try {
        line = log.format(r);
      } catch {
        continue; // a format must never break a response
      }
      log.target.write(line + "\n");
    }
  }

  private exprHolds(expr: Expr, r: LogSubject): boolean {
    const logged = r instanceof LoggedResponse ? r : null;
    const result = logged?.result;
    // The log phase reads the request's fields as RequestHeader left them, as httpd's r->headers_in.
    const mapped = result?.exprRequest && result.requestHeaders ? withEditedFields(result.exprRequest, result.requestHeaders) : result?.exprRequest;
    return logConditionHolds(expr, r, mapped, logged?.headersSent ?? [], (err) => this.conditionFailed(expr, r, err));
  }

  /** mod_log_config's lines for a condition that failed: ap_expr_exec's (error), then AH00644 (warn). */
  private conditionFailed(expr: Expr, r: LogSubject, err: ExprEvalError): void {
    const log = this.errorLog;
    if (log === undefined) return;
    logExprFailure(log, r.req, "log_config", expr, err);
    log.log("warn", "log_config", `${requestLogPrefix(r.req)}AH00644: Error evaluating log condition: ${err.message}`);
  }

  /** Open every file again (SIGUSR1 after logrotate). */
  reopen(): void {
    for (const t of this.targets.values()) t.reopen();
  }

  /** Write out what is buffered and close the files. */
  async close(): Promise<void> {
    const all = [...this.targets.values()];
    this.targets.clear();
    await Promise.all(all.map((t) => t.close()));
  }

  /** The (virtual) host a request was served by, and the name and port its Host header named. */
  hostOf(req: IncomingRequest): { host: HostConfig; name: string | null; sentPort: string | undefined } {
    // Without a Host header (HTTP/1.0) the address's default virtual host answers, as in the map phase.
    const header = firstHeader(req, "host");
    const rh = header === undefined ? null : requestHost(header, "", req.scheme);
    const host = this.config.virtualHosts.length === 0 ? this.config.main : selectHost(this.config, rh?.serverName ?? "", req.localPort);
    return { host, name: rh ? rh.serverName : null, sentPort: rh?.sentPort };
  }

  /**
   * %v and %p: the host's ServerName as httpd keeps it (server_hostname: its case, without
   * scheme or port) and the port given there, if any. A virtual host without a ServerName
   * uses the main server's; without any, the name the map phase reports (SERVER_NAME, group
   * names), so %v always agrees with SERVER_NAME under UseCanonicalName On.
   */
  canonical(host: HostConfig): ConfiguredName {
    return configuredName(this.config, host);
  }

  /** UseCanonicalName in force for a request answered with `settings` (unset is Off). */
  useCanonicalName(host: HostConfig, settings: DirSettings | null | undefined): "on" | "off" | "dns" | undefined {
    return settings?.useCanonicalName?.value ?? host.dir.useCanonicalName?.value ?? this.config.main.dir.useCanonicalName?.value;
  }
}

function resolveFormat(format: string, host: HostConfig, main: HostConfig): CompiledFormat {
  // CustomLog keeps a nickname LogFormat had not defined yet: look again now the whole file is read.
  const named = host.logFormats.get(format) ?? main.logFormats.get(format);
  if (named !== undefined && named !== format) return resolveFormat(named, host, main);
  if (format === "json") return compileJsonFormat();
  return compileLogFormat(PREDEFINED_FORMATS[format] ?? format);
}

/** `env=[!]VAR`; `expr=` conditions were parsed with the configuration (CustomLog.conditionExpr). */
function parseCondition(cond: string | undefined): CompiledLog["condition"] {
  if (cond === undefined || /^expr=/i.test(cond)) return null;
  const m = /^env=(!?)(.+)$/i.exec(cond);
  if (m) return { name: m[2], negate: m[1] === "!" };
  throw new NodewsgiError("E_LOG_CONDITION", `'${cond}': must be env=[!]variable or expr=expression`);
}

/** The header block's size on the wire, less what the front end adds (Date, Server, framing). */
const DATE_HEADER_BYTES = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n".length;

/**
 * A response being written for a request, recorded for the access log; also the LogSubject
 * the formats read. Everything beyond status and byte counts is computed only when a format
 * asks for it.
 */
export class LoggedResponse implements ResponseSink, LogSubject, SentListener {
  status = 200;
  bodyBytes = 0;
  headerBytes = 0;
  durationUs = 0;
  readonly startMs: number;
  /** What the map phase decided (set by Site once known). */
  result: MapResult | null = null;
  private noteMap: Map<string, string> | null = null;

  /** `Header note` notes, for `%{NAME}n`: made only for a request whose Header rules ask for it. */
  get notes(): Map<string, string> {
    return (this.noteMap ??= new Map());
  }
  private responseHeaders: readonly HeaderPair[] = [];
  /** The headers sent (for a CustomLog expr= condition's resp()). */
  get headersSent(): readonly HeaderPair[] {
    return this.responseHeaders;
  }
  private readonly t0: number;
  private finished = false;
  private wasAborted = false;
  private hostInfo: ReturnType<AccessLog["hostOf"]> | null = null;
  private envMap: Map<string, string> | null = null;
  private readonly headOnly: boolean;

  constructor(
    readonly req: IncomingRequest,
    private readonly inner: ResponseSink,
    private readonly log: AccessLog,
  ) {
    this.t0 = performance.now();
    this.startMs = performance.timeOrigin + this.t0;
    this.headOnly = req.method === "HEAD";
    inner.onAbort(() => this.finish(true));
  }

  // ResponseSink --------------------------------------------------------------------------

  /** The client went away (for the log: the response did not complete). */
  get aborted(): boolean {
    return this.finished ? this.wasAborted : this.inner.aborted;
  }

  onAbort(cb: (cause?: AbortCause) => void): void {
    this.inner.onAbort(cb);
  }

  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    this.status = status;
    this.responseHeaders = headers;
    this.headerBytes = this.log.headBytes(reason, headers);
    this.inner.writeHead(status, reason, headers);
  }

  write(chunk: Uint8Array): boolean {
    if (!this.headOnly) this.bodyBytes += chunk.length;
    return this.inner.write(chunk);
  }

  drain(): Promise<void> {
    return this.inner.drain();
  }

  end(chunk?: Uint8Array): void {
    if (chunk && !this.headOnly) this.bodyBytes += chunk.length;
    this.inner.end(chunk);
    // Logged once the response has been sent or given up (a send timeout: %X is X), as httpd.
    if (this.inner.afterSent?.(this) !== true) this.finish(false);
  }

  /** The rest of the response went out (or the connection was closed first): logged now. */
  responseSent(complete: boolean): void {
    this.finish(!complete);
  }

  destroy(): void {
    this.inner.destroy();
    this.finish(true);
  }

  private finish(aborted: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.wasAborted = aborted;
    this.durationUs = (performance.now() - this.t0) * 1000;
    this.log.record(this);
  }

  // LogSubject ----------------------------------------------------------------------------

  get requestId(): string {
    return requestIdOf(this.req);
  }

  get logId(): string | undefined {
    return existingRequestId(this.req);
  }

  get host(): HostConfig {
    return this.hostData().host;
  }

  /** %v: server_hostname, whatever the client asked for. */
  get serverName(): string {
    return this.log.canonical(this.hostData().host).name;
  }

  /** %V: ap_get_server_name, which follows UseCanonicalName in force for the request. */
  get hostName(): string {
    const h = this.hostData();
    const use = this.log.useCanonicalName(h.host, this.result?.settings);
    if (h.name === null || use === "on") return this.serverName;
    const req = this.req;
    return serverIdentity(use, this.log.canonical(h.host), { name: h.name || undefined, port: h.sentPort }, req.scheme, req.localAddress).serverName;
  }

  /** %p: the server's canonical port (ServerName's, else the scheme's default), not the Host header's. */
  get serverPort(): string {
    return this.log.canonical(this.hostData().host).port ?? (this.req.scheme === "https" ? "443" : "80");
  }

  get user(): string | undefined {
    const r = this.result;
    if (r === null) return undefined;
    // r->user: whom authentication attributed the request to, refused or not.
    if (r.user !== undefined) return r.user;
    if (r.kind === "wsgi") return this.env("REMOTE_USER");
    return undefined;
  }

  get filename(): string | undefined {
    const r = this.result;
    if (r === null) return undefined;
    if (r.kind === "wsgi") return r.script;
    if (r.kind === "static" || r.kind === "inline") return r.file;
    if (r.kind === "listing") return r.dir;
    if (r.kind === "error" || r.kind === "redirect") return r.file;
    return undefined;
  }

  get handler(): string | undefined {
    return this.result?.kind === "wsgi" ? "wsgi-script" : undefined;
  }

  get requestHeaders(): readonly string[] {
    return this.result?.requestHeaders ?? this.req.headers;
  }

  /**
   * %U: httpd's r->uri: the path decoded, dot segments removed, slashes merged (as the mapper
   * normalizes it); a directory's index or a MultiViews variant replaces the last segment, as
   * mod_dir's and mod_negotiation's fast redirects change r->uri; an application's is
   * SCRIPT_NAME + PATH_INFO, unless an internal redirect led to it (then the first request's
   * path, as %U logs the original request). A path the mapper refused is logged decoded, as it came.
   */
  get uriPath(): string | undefined {
    const r = this.result;
    if (r?.kind === "wsgi") {
      const e = environPairs(r.environ);
      let script: string | undefined, info: string | undefined, redirected = false;
      for (let i = 0; i < e.length; i += 2) {
        if (e[i] === "SCRIPT_NAME") script = e[i + 1];
        else if (e[i] === "PATH_INFO") info = e[i + 1];
        else if (e[i] === "REDIRECT_URL") redirected = true;
      }
      if (script !== undefined && !redirected) return script + (info ?? "");
    }
    const q = this.req.target.indexOf("?");
    const raw = q < 0 ? this.req.target : this.req.target.slice(0, q);
    const host = this.hostData().host;
    const slashes = host.allowEncodedSlashes?.value ?? this.log.config.main.allowEncodedSlashes?.value ?? "off";
    const norm = jsEngine.normalizePath(raw, slashes);
    if (!norm.ok) return undefined;
    if (r?.kind === "static" && (norm.path.endsWith("/") || (r.negotiated && !r.negotiated.typeMap))) {
      return norm.path.slice(0, norm.path.lastIndexOf("/") + 1) + r.file.slice(r.file.lastIndexOf("/") + 1);
    }
    return norm.path;
  }

  /** What the front end says in Connection when the response did not: close, Keep-Alive (HTTP/1.0), or nothing. */
  get connectionHeader(): string | undefined {
    if (!this.keepAlive) return "close";
    return this.req.protocol === "HTTP/1.0" ? "Keep-Alive" : undefined;
  }

  get keepAlive(): boolean {
    if (this.wasAborted) return false;
    const reqConn = firstHeader(this.req, "connection")?.toLowerCase() ?? "";
    if (reqConn.includes("close")) return false;
    if (this.responseHeader("connection")?.toLowerCase().includes("close")) return false;
    return this.req.protocol === "HTTP/1.1" || reqConn.includes("keep-alive");
  }

  responseHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [k, v] of this.responseHeaders) if (k.toLowerCase() === lower) return v;
    return undefined;
  }

  note(name: string): string | undefined {
    return this.noteMap?.get(name);
  }

  /** The request's environment (SetEnv, rewrite E=, and for applications the whole environ). */
  env(name: string): string | undefined {
    const r = this.result;
    if (r === null) return undefined;
    if (r.kind === "wsgi") {
      const e = environPairs(r.environ);
      for (let i = e.length - 2; i >= 0; i -= 2) if (e[i] === name) return e[i + 1];
      return undefined;
    }
    // A static file's result carries the request's variables (SetEnv, SetEnvIf, rewrite E=).
    if (r.kind === "static") return r.env.get(name);
    if (this.envMap === null) this.envMap = r.settings ? resolveEnv(r.settings.env) : new Map();
    return this.envMap.get(name);
  }

  private hostData(): ReturnType<AccessLog["hostOf"]> {
    if (this.hostInfo === null) this.hostInfo = this.log.hostOf(this.req);
    return this.hostInfo;
  }
}

