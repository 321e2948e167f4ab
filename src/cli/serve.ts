/** `nodewsgi serve -f FILE`: serve in the foreground until SIGTERM/SIGINT. */
import * as fs from "node:fs";
import type { CommonOptions } from "./main";
import { loadConfigOrReport } from "./load-config";
import { loadEngine } from "../engine/load";
import { FileErrorLog, type ErrorLog } from "../log/error-log";
import { frontEndChoiceFromEnv } from "../http/create-front-end";
import { Server } from "../server";
import { readPackageVersion } from "./version";

export async function runServe(options: CommonOptions): Promise<number> {
  const config = loadConfigOrReport(options);
  if (!config) return 1;

  let errorLog: ErrorLog;
  try {
    errorLog = new FileErrorLog(config.errorLog ?? 2, config.logLevel);
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

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal means: do not wait.
        process.exit(1);
      }
      stopping = true;
      errorLog.log("notice", "core", `caught ${signal}, shutting down gracefully`);
      void server.stop(config.shutdownTimeoutMs ?? 10_000).then(() => {
        if (config.pidFile) fs.rmSync(config.pidFile, { force: true });
        errorLog.close();
        resolve(0);
        // Idle keep-alive connections must not hold the process open.
        setImmediate(() => process.exit(0));
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
