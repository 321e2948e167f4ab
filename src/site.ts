/**
 * A site: one loaded configuration, ready to answer requests. `handle` runs the map phase
 * (src/map/mapper.ts) and serves what it decided: an application in its group, a static
 * file, a directory listing, a redirect or an error page.
 */
import type { DigestState } from "./auth/digest";
import * as path from "node:path";
import { refusalHeaders } from "./http/request-checks";
import { rulesOf, withResponseHeaderRules } from "./http/header-rules";
import type { ServerConfig, DirSettings } from "./config/model";
import type { Engine } from "./engine/types";
import { textOf, toByteString } from "./engine/byte-string";
import type { ErrorLog } from "./log/error-log";
import type { IncomingRequest, RequestBody, ResponseSink, HeaderPair } from "./http/types";
import { writeErrorHead } from "./http/write-head";
import type { ApplicationHost, AppRequest } from "./groups/types";
import { Mapper, type MapResult, type WsgiTarget } from "./map/mapper";
import { exprContext, withEditedFields } from "./map/expr-context";
import { ProcessHost } from "./groups/process-host";
import { DaemonPool } from "./groups/daemon-pool";
import { serveFile, serveDirectoryListing, sendErrorPage, errorPageHead, withErrorStatus, withServerErrors, withClosingHeader, MimeTable, reasonPhrase } from "./static";
import { requestLogPrefix } from "./log/request-id";
import { LoggedResponse, type AccessLog } from "./log/access-log";
import { hostSendTimeouts } from "./map/send-timeout";
import { hostBodyReadLimits } from "./map/body-read-limits";
import { withReadLimit, type BodyReadLimit } from "./http/body-read-timeout";
import { HtaccessFiles } from "./map/htaccess";
import { sendTrace } from "./static/trace";
import { withDefaultCharset } from "./static/default-charset";
import { withContentLanguage, withExtraHeaders } from "./http/extra-headers";
import type { ServeFileOptions, StaticPage } from "./static/serve-file";
import { fileType } from "./static/file-type";
import { fileETagParts } from "./config/file-etag";
import { runDispatch } from "./map/dispatch-script";

/**
 * Requests a worker-thread application group of the front-end process may have in flight
 * (async applications; a synchronous application handles one at a time regardless).
 */
const EMBEDDED_THREADS = 15;

/** %{GLOBAL} names the main group (""); other names are literal, as byte strings (map/groups.ts). */
function groupName(value: string): string {
  return value === "%{GLOBAL}" ? "" : toByteString(value);
}

function isLiteralGroup(value: string): boolean {
  return value === "%{GLOBAL}" || !value.includes("%{");
}

const NO_RULES: readonly never[] = [];

export class Site {
  readonly mapper: Mapper;
  /** Applications of this process (embedded mode): %{GLOBAL} in this thread, others in workers. */
  private readonly embedded: ProcessHost;
  /** WSGIDaemonProcess groups: child processes under a supervisor. */
  private readonly daemons: DaemonPool;
  private readonly mime: MimeTable;
  /** A request's Timeout for its sends when virtual hosts differ in it (null: the front end's). */
  private readonly sendTimeoutOf: ((req: IncomingRequest) => number) | null;
  /** RequestReadTimeout body= of a request (null: no request has one). */
  private readonly bodyReadLimitOf: ((req: IncomingRequest) => BodyReadLimit | null) | null;

  constructor(
    readonly config: ServerConfig,
    readonly engine: Engine,
    private readonly log: ErrorLog,
    notice: (message: string) => void,
    /** CustomLog files; null when none is configured (then requests are not wrapped at all). */
    private readonly accessLog: AccessLog | null = null,
    /** mod_auth_digest's secret and clients, which outlive a graceful restart; the site's own when absent. */
    digest?: DigestState,
  ) {
    // Apache's Timeout bounds how long a request body may stop arriving (408).
    const timeout = config.main.timeout?.value;
    this.embedded = new ProcessHost({ log, threads: EMBEDDED_THREADS, ...(timeout !== undefined ? { bodyIdleMs: timeout * 1000 } : {}) });
    // Hook scripts (WSGIAccessScript, WSGIAuth*Script, WSGIDispatchScript) run in this process's
    // application groups, never in a daemon process.
    this.mapper = new Mapper(config, engine, { log, htaccess: new HtaccessFiles(log, config.main.accessFileName?.value, config.serverRoot), hooks: this.embedded, ...(digest ? { digest } : {}) });
    for (const rule of this.mapper.jsEvaluatedAliasRules()) {
      notice(`nodewsgi: notice: ${rule}: the native engine cannot run this regex; it is evaluated with JavaScript`);
    }
    const reloading = config.main.dir.scriptReloading?.value;
    this.daemons = new DaemonPool(config, log, {
      ...(timeout !== undefined ? { apacheTimeout: timeout } : {}),
      ...(reloading !== undefined ? { scriptReloading: reloading } : {}),
    });
    this.mime = MimeTable.load();
    this.sendTimeoutOf = hostSendTimeouts(config);
    this.bodyReadLimitOf = hostBodyReadLimits(config);
  }

  /**
   * Start the daemon process groups and run WSGIImportScript lines, before the first request.
   * Script paths go to the groups as byte strings, the form requests name them in.
   */
  async start(): Promise<void> {
    await this.daemons.start(this.config.importScripts);
    const preloads = this.config.importScripts
      .filter((s) => s.processGroup === "" && !this.config.restrictEmbedded)
      .map((s) => this.embedded.preload(toByteString(s.script), "", toByteString(s.applicationGroup)));
    // mod_wsgi preloads a WSGIScriptAlias* script whose process and application groups are
    // both given literally (and whose target has no $N substitution) when its process starts.
    for (const host of [this.config.main, ...this.config.virtualHosts]) {
      for (const a of host.aliases) {
        const pg = a.options.processGroup;
        const ag = a.options.applicationGroup;
        if (!a.isScript || pg === undefined || ag === undefined || a.target.includes("$")) continue;
        if (!isLiteralGroup(pg) || !isLiteralGroup(ag)) continue;
        const callable = a.options.callableObject ?? "application";
        const embedded = groupName(pg) === "";
        // Script code runs only where its requests would: not in an undefined group's stead,
        // and not in the front-end process when embedded mode is restricted.
        if (embedded && this.config.restrictEmbedded) continue;
        const target: ApplicationHost | undefined = embedded ? this.embedded : this.daemons.get(groupName(pg));
        if (!target) continue;
        preloads.push(
          target.preload(toByteString(a.target), callable, groupName(ag)).catch((err: unknown) => {
            this.log.log("error", "wsgi", `Failed to preload ${a.target} (${a.where.file}:${a.where.line}): ${(err as Error).message}`);
          }),
        );
      }
    }
    await Promise.all(preloads);
  }

  handle(req: IncomingRequest, res: ResponseSink): void {
    if (this.sendTimeoutOf !== null) res.setSendTimeout?.(this.sendTimeoutOf(req));
    const sink = this.accessLog === null ? res : this.accessLog.begin(req, res);
    // Mapping and an in-thread application often finish synchronously: no promise then.
    let pending: Promise<unknown> | void;
    try {
      const result = this.mapper.map(req);
      pending = result instanceof Promise ? result.then((r) => this.serve(req, sink, r)) : this.serve(req, sink, result);
    } catch (err) {
      this.internalError(req, sink, err);
      return;
    }
    if (pending) pending.catch((err: unknown) => this.internalError(req, sink, err));
  }

  private internalError(req: IncomingRequest, sink: ResponseSink, err: unknown): void {
    this.log.log("error", "core", `${requestLogPrefix(req)}internal error serving ${req.target}: ${(err as Error)?.stack ?? err}`);
    if (!sink.aborted) {
      try {
        sendErrorPage(sink, 500, { method: req.method, ...this.mapper.pageIdentity(req, null) });
      } catch {
        sink.destroy();
      }
    }
  }

  /**
   * A close under way (the site is retiring after a graceful restart) ends within `graceMs`
   * from now at the latest, whatever eviction-timeout or grace period it was given.
   */
  hurry(graceMs: number): void {
    this.embedded.hurry(graceMs);
    this.daemons.hurry(graceMs);
  }

  /**
   * Stop the groups: requests in flight get `graceMs` to finish. `evicting`: a graceful restart
   * replaced this site (a daemon group's eviction-timeout then applies instead).
   */
  async close(graceMs = 10_000, evicting = false): Promise<void> {
    await Promise.all([this.embedded.close(graceMs), this.daemons.close(graceMs, evicting)]);
  }

  private serve(req: IncomingRequest, sink: ResponseSink, result: MapResult): Promise<unknown> | void {
    const logged = sink instanceof LoggedResponse ? sink : null;
    if (logged) logged.result = result;
    // AddDefaultCharset applies after mod_headers (httpd's header filter runs last).
    const charset = result.settings?.addDefaultCharset?.value;
    if (charset && (result.kind === "wsgi" || result.kind === "static")) sink = withDefaultCharset(sink, charset);
    // mod_headers' Header rules apply to every response of the section, error pages included.
    const headerRules = result.settings?.headers ? rulesOf(result.settings.headers, "Header") : NO_RULES;
    if (headerRules.length > 0) {
      const env = result.kind === "wsgi" || result.kind === "static" ? result.env : new Map<string, string>();
      const notes = logged?.notes;
      const mapped = result.exprRequest && result.requestHeaders ? withEditedFields(result.exprRequest, result.requestHeaders) : result.exprRequest;
      const exprs = mapped ? exprContext(mapped, this.log, req) : {};
      // `echo` reads the request's fields as RequestHeader left them (httpd's r->headers_in).
      sink = withResponseHeaderRules(sink, headerRules, { env, requestHeaders: result.requestHeaders ?? req.headers, startMicros: Date.now() * 1000, ...(notes ? { notes } : {}), ...exprs, ...(result.kind === "static" ? { byteRanges: true } : {}) });
    }
    // mod_rewrite's Vary and cookies are set before mod_headers runs, so its rules see them.
    if (result.responseHeaders) sink = withExtraHeaders(sink, result.responseHeaders);
    // mod_mime's languages of the script file reach an application's answer too.
    if (result.kind === "wsgi" && (result.settings.defaultLanguage || result.settings.addLanguages)) {
      const languages = this.scriptLanguages(result.settings, result.script);
      if (languages !== "") sink = withContentLanguage(sink, languages);
    }
    switch (result.kind) {
      case "wsgi":
        return this.runApplication(req, result, sink);
      case "static":
        // The default handler reads the fields as RequestHeader left them (Range, If-*).
        return serveFile(result.requestHeaders ? { method: req.method, headers: result.requestHeaders } : req, result.file, result.stat, sink, {
          ...this.fileOptions(result),
          ...(charset ? { defaultCharset: charset } : {}),
          log: this.log,
          page: () => this.staticPage(req, result.settings),
        });
      case "trace":
        return sendTrace(req, sink, result.extended, this.mapper.pageIdentity(req, null).signature);
      case "inline":
        return this.sendInlineVariant(req, sink, result);
      case "listing":
        return serveDirectoryListing(req, result.dir, result.uri, sink, { page: () => this.staticPage(req, result.settings) });
      case "redirect":
        return this.sendError(req, sink, result.status, result.settings, [["Location", result.location]], result.location);
      case "server-options":
        // An empty 200, as httpd answers it.
        sink.writeHead(200, reasonPhrase(200), [["Content-Length", "0"]]);
        sink.end();
        return;
      case "error":
        if (result.reason) {
          // Reasons name mapped paths, byte strings: logged as their text, so the log holds the
          // path's own bytes, as httpd's does.
          this.log.log("error", result.reasonModule ?? "core", `${requestLogPrefix(req)}${textOf(result.reason)}`);
        }
        return this.sendError(req, sink, result.status, result.settings, result.headers ?? [], undefined, result.variantList);
    }
  }

  private runApplication(req: IncomingRequest, target: WsgiTarget, sink: ResponseSink): Promise<void> | void {
    // Without a body there is nothing to refuse (and no need to ask the engine).
    const body = req.body;
    const verdict = body.declaredLength <= 0 && !body.chunked ? 0 : this.engine.bodyVerdict(body.declaredLength, body.chunked, target.bodyLimit, target.acceptChunked);
    if (verdict !== 0) {
      // The body is never read: a small one is skipped, a large one costs the connection.
      return this.sendError(req, sink, verdict, target.settings, refusalHeaders(body.declaredLength, body.chunked));
    }
    if (target.dispatch !== undefined) {
      // WSGIDispatchScript (./map/dispatch-script.ts): after the body checks, before the group is checked.
      const route = target.dispatch;
      return runDispatch(route, target, {
        runner: this.embedded,
        log: this.log,
        timeoutMs: this.mapper.hookTimeoutMs(),
        logPrefix: requestLogPrefix(req),
        https: req.scheme === "https",
      }).then((routing) => {
        if (routing === null) return this.sendError(req, sink, 500, target.settings, []);
        if (sink.aborted) return;
        return this.runTarget(req, routing === target ? target : { ...target, ...routing }, sink);
      });
    }
    return this.runTarget(req, target, sink);
  }

  /** The handler's checks of the chosen process group, then the application in its group. */
  private runTarget(req: IncomingRequest, target: WsgiTarget, sink: ResponseSink): Promise<void> | void {
    // WSGIRestrictProcess: the chosen group (by configuration, %{ENV:...} or a dispatch script),
    // embedded mode ("", listed as %{GLOBAL}) included, must be one of the list.
    const allowed = target.settings.restrictProcess?.value;
    if (allowed !== undefined && !allowed.some((g) => (g === "%{GLOBAL}" ? "" : toByteString(g)) === target.processGroup)) {
      this.log.log("error", "wsgi", `${requestLogPrefix(req)}Daemon process called '${textOf(target.processGroup)}' cannot be accessed by this WSGI application as not a member of allowed groups: ${textOf(target.script)}`);
      return this.sendError(req, sink, 500, target.settings, []);
    }
    if (target.processGroup === "" && this.config.restrictEmbedded) {
      this.log.log("error", "wsgi", `${requestLogPrefix(req)}Embedded mode of mod_wsgi disabled by runtime configuration: ${textOf(target.script)}`);
      return this.sendError(req, sink, 500, target.settings, []);
    }
    const host: ApplicationHost | undefined = target.processGroup === "" ? this.embedded : this.daemons.get(target.processGroup);
    if (!host) {
      this.log.log("error", "wsgi", `${requestLogPrefix(req)}No WSGI daemon process called '${textOf(target.processGroup)}' has been configured: ${textOf(target.script)}`);
      return this.sendError(req, sink, 500, target.settings, []);
    }
    const appRequest: AppRequest = {
      script: target.script,
      callable: target.callable,
      applicationGroup: target.applicationGroup,
      processGroup: target.processGroup,
      method: req.method,
      environ: target.environ,
      urlScheme: target.urlScheme,
      // Embedded mode reports what Apache's threaded MPM does.
      multithread: true,
      multiprocess: true,
      runOnce: false,
      bodyLimit: target.bodyLimit,
      logPrefix: requestLogPrefix(req),
      scriptMtimeMs: target.scriptMtimeMs,
    };
    // httpd applies ErrorDocument to the errors answered where the application runs too (a
    // script that fails to load, an application that fails before its head, a daemon that
    // does not answer), not to the application's own responses.
    const settings = target.settings;
    const out = settings.errorDocuments === undefined || settings.errorDocuments.size === 0 ? sink : withServerErrors(sink, (status, headers) => {
      if (errorDocument(settings, status) === undefined) return false;
      this.sendError(req, sink, status, settings, headers);
      return true;
    });
    // Nothing waits for the end: no promise unless one is under way (a body being read).
    return host.dispatchDetached(appRequest, this.limitedBody(req), out);
  }

  /** The request's body, with its RequestReadTimeout body= limit when it has a body and there is one. */
  private limitedBody(req: IncomingRequest): RequestBody {
    const body = req.body;
    if (this.bodyReadLimitOf === null || (body.declaredLength <= 0 && !body.chunked)) return body;
    const limit = this.bodyReadLimitOf(req);
    if (limit === null) return body;
    return withReadLimit(body, limit, () => this.log.log("info", "reqtimeout", `${requestLogPrefix(req)}AH01382: Request body read timeout`));
  }

  /** An error response: ErrorDocument when one is configured, else Apache's canned page. */
  private sendError(
    req: IncomingRequest,
    sink: ResponseSink,
    status: number,
    settings: DirSettings | null,
    headers: readonly HeaderPair[],
    location?: string,
    variantList?: string,
  ): void {
    if (sink.aborted) return;
    const text = errorDocument(settings, status);
    if (text !== undefined) {
      // What reaches the client is the configuration's bytes, as httpd sends them.
      const doc = toByteString(text);
      if (/^https?:\/\//i.test(doc)) {
        sendErrorPage(sink, 302, { method: req.method, location: doc }, [["Location", doc]]);
        return;
      }
      if (doc.startsWith("/")) {
        // A configured document changes the page, not httpd's closing of the connection.
        void this.sendLocalErrorDocument(req, sink, status, doc, withClosingHeader(status, headers));
        return;
      }
      // A literal message (Apache drops a leading quote), with the canned page's head.
      const message = Buffer.from(doc.startsWith('"') ? doc.slice(1) : doc, "latin1");
      const head = req.method === "HEAD";
      writeErrorHead(sink, status, reasonPhrase(status), errorPageHead(status, headers, head ? null : message.length));
      if (head) sink.end();
      else sink.end(message);
      return;
    }
    sendErrorPage(sink, status, { method: req.method, ...(location ? { location } : {}), ...(variantList ? { variantList } : {}), ...this.mapper.pageIdentity(req, settings) }, headers);
  }

  /**
   * `ErrorDocument CODE /path`: a static page there is sent with the error's status (Apache's
   * internal redirect). Anything else at that path (an application, another error) gets the
   * canned page, as Apache's "additionally ... while trying to use an ErrorDocument" does.
   * `doc` is a byte string, as request targets are.
   */
  private async sendLocalErrorDocument(req: IncomingRequest, sink: ResponseSink, status: number, doc: string, headers: readonly HeaderPair[]): Promise<void> {
    try {
      const method = req.method === "HEAD" ? "HEAD" : "GET";
      const result = await this.mapper.map({ ...req, method, target: doc, body: { declaredLength: -1, chunked: false } });
      if (sink.aborted) return;
      if (result.kind === "static") {
        await serveFile({ method, headers: [] }, result.file, result.stat, withErrorStatus(sink, status, headers), {
          ...this.fileOptions(result),
          log: this.log,
        });
        return;
      }
    } catch (err) {
      this.log.log("error", "core", `${requestLogPrefix(req)}ErrorDocument ${textOf(doc)}: ${(err as Error).message}`);
    }
    if (!sink.aborted) sendErrorPage(sink, status, { method: req.method, ...this.mapper.pageIdentity(req, null) }, headers);
  }

  /** ServerSignature, ServerAdmin and TraceEnable for the static handlers' own answers. */
  private staticPage(req: IncomingRequest, settings: DirSettings): StaticPage {
    return { ...this.mapper.pageIdentity(req, settings), traceEnabled: this.mapper.traceEnabled(req) };
  }

  /**
   * A type map's inline variant, as mod_negotiation's handler sends it: GET and POST (and HEAD)
   * only, else 405 allowing GET, POST and OPTIONS; no validators (httpd sets none).
   */
  private sendInlineVariant(req: IncomingRequest, sink: ResponseSink, result: Extract<MapResult, { kind: "inline" }>): void {
    const method = req.method;
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      const allow = `HEAD,GET,POST,OPTIONS${this.mapper.traceEnabled(req) ? ",TRACE" : ""}`;
      return this.sendError(req, sink, 405, result.settings, [...result.headers, ["Allow", allow]]);
    }
    sink.writeHead(200, reasonPhrase(200), [
      ...result.headers,
      ["Accept-Ranges", "bytes"],
      ["Content-Length", String(result.body.length)],
      ...result.entity,
    ]);
    if (method === "HEAD") sink.end();
    else sink.end(result.body);
  }

  /** Content-Language of a script file (AddLanguage, DefaultLanguage), "" for none: remembered per section and script. */
  private scriptLanguages(settings: DirSettings, script: string): string {
    let bySettings = this.languagesOf.get(settings);
    if (bySettings === undefined) this.languagesOf.set(settings, (bySettings = new Map()));
    let languages = bySettings.get(script);
    if (languages === undefined) {
      languages = fileType(path.basename(script), settings, this.mime).languages.join(",");
      bySettings.set(script, languages);
    }
    return languages;
  }

  private readonly languagesOf = new WeakMap<DirSettings, Map<string, string>>();

  /** What mod_mime, FileETag and MultiViews decided about a static file, for serveFile. */
  private fileOptions(result: Extract<MapResult, { kind: "static" }>): ServeFileOptions {
    const t = fileType(path.basename(result.file), result.settings, this.mime);
    return {
      contentType: t.type ?? null,
      // ForceType (or a rewrite's T=) wins over everything, a directory's own type included.
      ...(result.forcedType ? { forceType: result.forcedType } : {}),
      ...(t.encoding ? { encoding: t.encoding } : {}),
      languages: t.languages,
      fileETag: fileETagParts(result.settings.fileETag?.value),
      ...(result.negotiated ? { leadingHeaders: result.negotiated.headers, variantListDir: result.negotiated.dirStat } : {}),
    };
  }
}


/**
 * The section's ErrorDocument for `status`, or undefined: none configured, or `default`, which
 * restores the canned page (httpd compares it case-insensitively).
 */
function errorDocument(settings: DirSettings | null, status: number): string | undefined {
  const text = settings?.errorDocuments?.get(status)?.value;
  return text === undefined || status < 400 || text.toLowerCase() === "default" ? undefined : text;
}

export type { MapResult };
