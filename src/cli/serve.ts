/** `nodewsgi serve -f FILE`: serve in the foreground until SIGTERM/SIGINT. */
import * as fs from "node:fs";
import type { CommonOptions } from "./main";
import type { ServerConfig } from "../config";
import { loadConfigOrReport } from "./load-config";
import { loadEngine } from "../engine/load";
import { ApacheErrorLog } from "../log/apache-error-log";
import { routeConsole } from "../log/console-redirect";
import { logExitCalls, logProcessFaults } from "../log/process-faults";
import type { LogLevel } from "../log/error-log";
import { frontEndChoiceFromEnv } from "../http/create-front-end";
import { Server } from "../server";
import { readPackageVersion } from "./version";

export async function runServe(options: CommonOptions): Promise<number> {
  const config = loadConfigOrReport(options);
  if (!config) return 1;

  let errorLog: ApacheErrorLog;
  try {
    errorLog = new ApacheErrorLog(config.errorLog ?? 2, { level: config.logLevel, ...moduleLevels(config) });
  } catch (err) {
    process.stderr.write(`nodewsgi: cannot open ErrorLog ${config.errorLog}: ${(err as Error).message}\n`);
    return 1;
  }

  let server: Server;
  try {
    const engine = loadEngine();
    server = await Server.start(config, { engine, frontEnd: frontEndChoiceFromEnv(), errorLog });
  } catch (err) {
    process.stderr.write(`nodewsgi: ${(err as Error).message}\n`);
    errorLog.close();
    return 1;
  }

  if (config.pidFile) {
    try {
      fs.writeFileSync(config.pidFile, `${process.pid}\n`);
    } catch (err) {
      process.stderr.write(`nodewsgi: cannot write PidFile ${config.pidFile}: ${(err as Error).message}\n`);
      await server.stop(0);
      errorLog.close();
      return 1;
    }
  }

  const version = readPackageVersion();
  const where = server.addresses.map((a) => `http://${a.host === "0.0.0.0" ? "127.0.0.1" : a.host}:${a.port}/`).join(" ");
  const how = `engine ${server.site.engine.name}, front end ${server.frontEnd.kind}, pid ${process.pid}`;
  errorLog.log("notice", "core", `nodewsgi/${version} configured -- resuming normal operations (${how})`);
  process.stdout.write(`nodewsgi ${version}: serving ${where} (${how})\n`);

  // As mod_wsgi sends sys.stdout/sys.stderr to the error log, console output of applications
  // in this process (%{GLOBAL}) goes there too; NODEWSGI_CONSOLE=stdio keeps the console as is.
  const restoreConsole = process.env.NODEWSGI_CONSOLE === "stdio" ? () => undefined : routeConsole((line) => errorLog.log("error", "wsgi", line));
  // A stray error of an application in this process (%{GLOBAL}) is logged, not the end of the server.
  const stopLoggingFaults = logProcessFaults(errorLog, "the front-end process");
  // logrotate's postrotate: `kill -USR1 $(cat PidFile)` opens the log files again.
  const reopen = () => {
    server.reopenLogs();
    errorLog.log("notice", "core", "caught SIGUSR1, log files reopened");
  };
  process.on("SIGUSR1", reopen);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stopLoggingExits = logExitCalls(errorLog, () => stopping);
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal means: do not wait.
        process.exit(1);
      }
      stopping = true;
      errorLog.log("notice", "core", `caught ${signal}, shutting down gracefully`);
      // From here on an uncaught error means the stop itself failed: Node's default (exit 1)
      // again, not "serving goes on" with the listeners closed and nothing left to end it.
      stopLoggingFaults();
      const finished = async (code: number) => {
        process.off("SIGUSR1", reopen);
        stopLoggingExits();
        restoreConsole();
        await errorLog.closeAsync().catch(() => undefined);
        resolve(code);
        // Idle keep-alive connections must not hold the process open.
        setImmediate(() => process.exit(code));
      };
      server
        .stop(config.shutdownTimeoutMs ?? 10_000)
        .then(() => {
          if (config.pidFile) fs.rmSync(config.pidFile, { force: true });
        })
        .then(
          () => finished(0),
          (err: unknown) => {
            errorLog.log("crit", "core", `shutdown failed: ${(err as Error)?.stack ?? String(err)}`);
            return finished(1);
          },
        );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    // SIGHUP: re-read the configuration and swap to it gracefully; a bad file changes nothing.
    let reloading = Promise.resolve();
    process.on("SIGHUP", () => {
      reloading = reloading.then(async () => {
        if (stopping) return;
        errorLog.log("notice", "core", "SIGHUP received.  Attempting to restart");
        const next = loadConfigOrReport(options, (line) => errorLog.log("error", "core", line));
        if (!next) {
          errorLog.log("error", "core", "graceful restart failed: the configuration has errors; still serving the previous one");
          return;
        }
        try {
          // Only the swap is waited for: the next SIGHUP must not queue behind the old site's
          // drain (eviction-timeout may be long); the server retires several sites at once.
          await server.swap(next, next.shutdownTimeoutMs ?? 10_000);
          errorLog.log("notice", "core", `nodewsgi/${version} configured -- resuming normal operations`);
        } catch (err) {
          // A stop during the restart closes the new site too: nothing more to say then.
          if (stopping) errorLog.log("notice", "core", "graceful restart abandoned: shutting down");
          else errorLog.log("error", "core", `graceful restart failed: ${(err as Error).message}; still serving the previous configuration`);
        }
      });
    });
  });
}

/** Per-module LogLevel entries (`LogLevel warn wsgi:info`). */
function moduleLevels(config: ServerConfig): { moduleLevels?: ReadonlyMap<string, LogLevel> } {
  return config.moduleLogLevels.size > 0 ? { moduleLevels: config.moduleLogLevels } : {};
}
