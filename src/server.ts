/**
 * A running nodewsgi server: one front end listening on every `Listen` address, handing each
 * request to the Site built from the configuration. Owns graceful shutdown.
 */
import type { ServerConfig } from "./config";
import type { Engine } from "./engine/types";
import type { ErrorLog } from "./log/error-log";
import type { FrontEnd, ListenAddress } from "./http/front-end";
import { createFrontEnd, type FrontEndChoice } from "./http/create-front-end";
import { Site } from "./site";

export interface ServerOptions {
  readonly engine: Engine;
  readonly frontEnd: FrontEndChoice;
  readonly errorLog: ErrorLog;
  /** Largest request header block, in bytes. */
  readonly maxHeaderBytes?: number;
  /** Where one-line operational notices go (stderr for the CLI). */
  readonly notice?: (message: string) => void;
}

export class Server {
  private constructor(
    readonly frontEnd: FrontEnd,
    readonly site: Site,
    readonly addresses: readonly ListenAddress[],
    private readonly errorLog: ErrorLog,
  ) {}

  /** Build the site, bind every Listen address, and start serving. Nothing is left bound on failure. */
  static async start(config: ServerConfig, options: ServerOptions): Promise<Server> {
    const notice = options.notice ?? ((m: string) => process.stderr.write(m + "\n"));
    const site = new Site(config, options.engine, options.errorLog, notice);
    try {
      await site.start();
    } catch (err) {
      await site.close();
      throw err;
    }
    const frontEnd = createFrontEnd(
      options.frontEnd,
      (req, res) => site.handle(req, res),
      { maxHeaderBytes: options.maxHeaderBytes ?? 16384 },
      notice,
    );
    const addresses: ListenAddress[] = [];
    try {
      for (const l of config.listen) addresses.push(await frontEnd.listen(l.host ?? "0.0.0.0", l.port));
    } catch (err) {
      frontEnd.stopListening();
      await site.close();
      throw err;
    }
    return new Server(frontEnd, site, addresses, options.errorLog);
  }

  /**
   * Graceful stop: stop accepting, let requests in flight finish (up to `graceMs`), then
   * release the site's resources. Resolves true when every request finished in time.
   */
  async stop(graceMs = 10_000): Promise<boolean> {
    this.frontEnd.stopListening();
    this.frontEnd.draining = true;
    const deadline = Date.now() + graceMs;
    while (this.frontEnd.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const clean = this.frontEnd.inFlight === 0;
    if (!clean) this.errorLog.log("warn", "core", `shutdown: ${this.frontEnd.inFlight} request(s) still running after ${graceMs} ms`);
    await this.site.close();
    return clean;
  }
}
