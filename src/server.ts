/**
 * A running nodewsgi server: one front end listening on every `Listen` address, handing each
 * request to the Site built from the configuration. Owns graceful shutdown.
 */
import { DEFAULT_HEADER_STAGE } from "./config/request-read-timeout";
import { DigestState } from "./auth/digest";
import type { ServerConfig } from "./config";
import type { Engine } from "./engine/types";
import type { ErrorLog } from "./log/error-log";
import { DEFAULT_TIMEOUT_S, MAX_TIMER_MS, type FrontEnd, type FrontEndOptions, type ConnectionPolicy, type ListenAddress } from "./http/front-end";
import { defaultLimits } from "./http/request-checks";
import { createFrontEnd, type FrontEndChoice } from "./http/create-front-end";
import { Site } from "./site";
import { AccessLog } from "./log/access-log";
import { serverBanner } from "./map/host";

export interface ServerOptions {
  readonly engine: Engine;
  readonly frontEnd: FrontEndChoice;
  readonly errorLog: ErrorLog;
  /** Largest request header block, in bytes. */
  readonly maxHeaderBytes?: number;
  /** Where one-line operational notices go (stderr for the CLI). */
  readonly notice?: (message: string) => void;
  /**
   * The access log. Omitted: opened from the configuration's CustomLog lines (none: no access
   * logging and no per-request cost); null: no access log whatever the configuration says.
   * The server closes it on stop.
   */
  readonly accessLog?: AccessLog | null;
}

/** LimitRequestLine, LimitRequestFieldSize and LimitRequestFields of the main server, for the front end. */
function frontEndOptions(config: ServerConfig, maxHeaderBytes: number): FrontEndOptions {
  const d = defaultLimits(maxHeaderBytes);
  const m = config.main;
  return {
    maxHeaderBytes,
    limits: {
      requestLine: m.limitRequestLine?.value || d.requestLine,
      fieldSize: m.limitRequestFieldSize?.value || d.fieldSize,
      fields: m.limitRequestFields?.value || d.fields,
      headerBytes: maxHeaderBytes,
    },
  };
}

/** KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests and Timeout of the main server. */
export function connectionPolicy(config: ServerConfig): ConnectionPolicy {
  const m = config.main;
  const timeout = m.keepAliveTimeout?.value;
  const max = m.maxKeepAliveRequests?.value;
  const send = m.timeout?.value;
  return {
    enabled: m.keepAlive?.value ?? true,
    ...(timeout !== undefined ? { timeoutMs: Math.round(timeout * 1000) } : {}),
    ...(max !== undefined ? { maxRequests: max } : {}),
    ...(send !== undefined ? { sendTimeoutMs: Math.min(send * 1000, MAX_TIMER_MS) } : {}),
    headerTimeoutMs: headerTimeoutMs((m.readTimeoutHeader?.value ?? DEFAULT_HEADER_STAGE).initial, send),
  };
}

/**
 * The head's time limit on node:http: mod_reqtimeout's header stage, or with the stage off
 * (`header=0`) httpd's core Timeout, which still bounds each read there (node's 0 is no limit).
 */
function headerTimeoutMs(stageSeconds: number, timeoutSeconds: number | undefined): number {
  const seconds = stageSeconds > 0 ? stageSeconds : timeoutSeconds !== undefined && timeoutSeconds > 0 ? timeoutSeconds : DEFAULT_TIMEOUT_S;
  return Math.min(seconds * 1000, MAX_TIMER_MS);
}

export class Server {
  /** The site requests go to; replaced by `reload`. */
  private current: Site;
  /** The current site's access log (null: none); replaced by `reload` with the site. */
  private currentAccessLog: AccessLog | null;
  /** Set by stop(): a reload whose new site finishes starting after that closes it instead. */
  private stopping = false;
  /** The site a reload is starting (its daemon groups already made their socket directory). */
  private starting: { readonly site: Site; readonly settled: Promise<void> } | null = null;
  /**
   * Old sites reloads are closing, with their closing: stop() hurries them and waits for them,
   * or exiting would cut that short. Several may retire at once (one per reload).
   */
  private readonly retiring = new Map<Site, Promise<void>>();
  /** Each site is closed once, whoever (reload or stop) asks first. */
  private readonly closing = new WeakMap<Site, Promise<void>>();

  private constructor(
    readonly frontEnd: FrontEnd,
    site: Site,
    readonly addresses: readonly ListenAddress[],
    private readonly options: ServerOptions,
    accessLog: AccessLog | null,
    /** mod_auth_digest's secret and clients: kept across reloads, as httpd keeps them across graceful restarts. */
    private readonly digest: DigestState,
  ) {
    this.current = site;
    this.currentAccessLog = accessLog;
  }

  get accessLog(): AccessLog | null {
    return this.currentAccessLog;
  }

  get site(): Site {
    return this.current;
  }

  /** Build the site, bind every Listen address, and start serving. Nothing is left bound on failure. */
  static async start(config: ServerConfig, options: ServerOptions): Promise<Server> {
    const notice = options.notice ?? ((m: string) => process.stderr.write(m + "\n"));
    const accessLog = options.accessLog === undefined ? AccessLog.fromConfig(config, options.errorLog) : options.accessLog;
    const digest = new DigestState(config.authDigestShmemSize?.value);
    const site = new Site(config, options.engine, options.errorLog, notice, accessLog, digest);
    try {
      await site.start();
    } catch (err) {
      await site.close();
      await accessLog?.close();
      throw err;
    }
    let server: Server | undefined;
    const frontEnd = createFrontEnd(
      options.frontEnd,
      (req, res) => (server ? server.current : site).handle(req, res),
      // Refused requests are logged too, in the access log of the site now serving.
      { ...frontEndOptions(config, options.maxHeaderBytes ?? 16384), errorLog: options.errorLog, onRefusal: (r) => (server ? server.accessLog : accessLog)?.recordRefusal(r) },
      notice,
    );
    const addresses: ListenAddress[] = [];
    try {
      for (const l of config.listen) addresses.push(await frontEnd.listen(l.host ?? "0.0.0.0", l.port));
    } catch (err) {
      frontEnd.stopListening();
      await site.close();
      await accessLog?.close();
      throw err;
    }
    frontEnd.serverHeader = serverBanner(config.serverTokens);
    for (const n of frontEnd.setConnectionPolicy(connectionPolicy(config))) notice(`nodewsgi: ${n}`);
    server = new Server(frontEnd, site, addresses, options, accessLog, digest);
    return server;
  }

  /**
   * Graceful restart (SIGHUP, apachectl graceful): build and start a site from `config`, send
   * new requests to it, then let the old site's requests finish and its groups and daemon
   * processes stop. Listen addresses are kept: changing them needs a full restart. Resolves
   * once the old site is closed too; swap() resolves as soon as the new one serves.
   */
  async reload(config: ServerConfig, graceMs = 10_000): Promise<void> {
    const { retired } = await this.swap(config, graceMs);
    await retired;
  }

  /**
   * reload() in two steps: resolves once the new site serves, with `retired`, the old site's
   * closing (up to `graceMs`, or a daemon group's eviction-timeout), which never rejects. The
   * next reload need not wait for it: sites of several generations may retire at once.
   */
  async swap(config: ServerConfig, graceMs = 10_000): Promise<{ retired: Promise<void> }> {
    if (this.stopping) throw new Error("the server is stopping");
    const notice = this.options.notice ?? ((m: string) => process.stderr.write(m + "\n"));
    const nextLog = this.options.accessLog === undefined ? AccessLog.fromConfig(config, this.options.errorLog) : this.options.accessLog;
    if (config.authDigestShmemSize !== undefined && config.authDigestShmemSize.value !== this.digest.shmemSize) {
      const w = config.authDigestShmemSize?.where;
      notice(`nodewsgi: notice: ${w ? `${w.file}:${w.line}: ` : ""}AuthDigestShmemSize: a new size takes effect at a full restart; keeping ${this.digest.shmemSize}`);
    }
    const next = new Site(config, this.options.engine, this.options.errorLog, notice, nextLog, this.digest);
    const started = next.start();
    this.starting = { site: next, settled: started.then(() => undefined, () => undefined) };
    let failure: { error: unknown } | null = null;
    try {
      await started;
    } catch (error) {
      failure = { error };
    } finally {
      this.starting = null;
    }
    // stop() began while the site was starting: it never serves (stop() closes it as well).
    if (failure === null && this.stopping) failure = { error: new Error("the server stopped during the restart") };
    if (failure !== null) {
      // Nothing was sent to it: no grace period to give.
      await this.closeSite(next, 0);
      if (nextLog !== this.options.accessLog) await nextLog?.close();
      throw failure.error;
    }
    const old = this.current;
    const oldLog = this.currentAccessLog;
    this.current = next;
    this.currentAccessLog = nextLog;
    this.frontEnd.serverHeader = serverBanner(config.serverTokens);
    for (const n of this.frontEnd.setConnectionPolicy(connectionPolicy(config))) notice(`nodewsgi: ${n}`);
    const same = config.listen.length === this.addresses.length && config.listen.every((l, i) => l.port === 0 || l.port === this.addresses[i].port);
    if (!same) this.options.errorLog.log("warn", "core", "graceful restart: Listen changes take effect only after a full restart");
    const retired = (async () => {
      try {
        await this.closeSite(old, graceMs, true);
        // Requests of the old site still log into its files until they end.
        if (oldLog !== nextLog) await oldLog?.close();
      } catch (err) {
        this.options.errorLog.log("error", "core", `graceful restart: closing the previous configuration failed: ${(err as Error)?.message ?? err}`);
      } finally {
        this.retiring.delete(old);
      }
    })();
    this.retiring.set(old, retired);
    return { retired };
  }

  /** `evicting`: the site is replaced by a graceful restart, not stopped with the server. */
  private closeSite(site: Site, graceMs: number, evicting = false): Promise<void> {
    let closed = this.closing.get(site);
    if (!closed) {
      closed = site.close(graceMs, evicting);
      this.closing.set(site, closed);
    }
    return closed;
  }

  /**
   * Graceful stop: stop accepting, let requests in flight finish (up to `graceMs`), then
   * release the site's resources. Resolves true when every request finished in time.
   */
  async stop(graceMs = 10_000): Promise<boolean> {
    this.stopping = true;
    // Taken now: once stopping is set, a reload in progress never makes its site current.
    const starting = this.starting;
    this.frontEnd.stopListening();
    this.frontEnd.draining = true;
    const deadline = Date.now() + graceMs;
    // Sites still retiring after a graceful restart get this stop's budget, not what is left
    // of their drain (a daemon group's eviction-timeout may be much longer).
    for (const site of this.retiring.keys()) site.hurry(graceMs);
    while (this.frontEnd.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const clean = this.frontEnd.inFlight === 0;
    if (!clean) this.options.errorLog.log("warn", "core", `shutdown: ${this.frontEnd.inFlight} request(s) still running after ${graceMs} ms`);
    // One grace period for the whole stop, not one per stage.
    const left = () => Math.max(0, deadline - Date.now());
    // A site still starting is closed once its start settles (or the grace period is spent):
    // closing it mid-start could race the processes its start is spawning.
    if (starting) await settledWithin(starting.settled, left());
    await Promise.all([
      this.closeSite(this.current, left()),
      ...(starting ? [this.closeSite(starting.site, left())] : []),
      // A retiring site's closing never rejects (swap() logs its failure).
      ...this.retiring.values(),
    ]);
    // Requests whose processes were just stopped get their answer (500 before the headers) as
    // the links report the loss, which may come just after the close: a moment to send them.
    const answered = Date.now() + ANSWER_AFTER_CLOSE_MS;
    while (this.frontEnd.inFlight > 0 && Date.now() < answered) await new Promise((r) => setTimeout(r, 10));
    await this.currentAccessLog?.close();
    return clean;
  }

  /** Open the log files again under their names (SIGUSR1, after logrotate moved them). */
  reopenLogs(): void {
    this.currentAccessLog?.reopen();
    const log = this.options.errorLog as ErrorLog & { reopen?: () => void };
    if (typeof log.reopen === "function") log.reopen();
  }
}

/** How long a stop waits, once every site is closed, for the answers to requests it cut. */
const ANSWER_AFTER_CLOSE_MS = 500;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
