/**
 * `nodewsgi setup-server SCRIPT --server-root DIR [options]`: write what start-server would
 * serve, plus the files to run it for real: DIR/apachectl, DIR/nodewsgi.service (systemd) and
 * DIR/nginx.conf (nginx in front). The nodewsgi configuration trusts nginx's X-Forwarded-*
 * headers from 127.0.0.1 unless --trust-proxy-header / --trust-proxy say otherwise.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateApachectl, generateNginxConfig, generateSystemdUnit, withNginxTrust, type ControlContext } from "./express-config";
import { describeSetup, prepareServer } from "./start-server";

/** The CLI entry that apachectl and the systemd unit run. */
const BIN = path.resolve(__dirname, "..", "..", "bin", "nodewsgi.js");

export function runSetupServer(argv: readonly string[]): number {
  const prepared = prepareServer(argv, "setup-server", withNginxTrust);
  if (typeof prepared === "number") return prepared;
  const { options, paths, aliasKind } = prepared;
  const ctx: ControlContext = { node: process.execPath, bin: BIN, workingDirectory: process.cwd() };
  const apachectl = path.join(paths.serverRoot, "apachectl");
  const unit = path.join(paths.serverRoot, "nodewsgi.service");
  const nginx = path.join(paths.serverRoot, "nginx.conf");
  try {
    fs.writeFileSync(apachectl, generateApachectl(paths, ctx), { mode: 0o755 });
    fs.chmodSync(apachectl, 0o755);
    fs.writeFileSync(unit, generateSystemdUnit(options, paths, ctx));
    fs.writeFileSync(nginx, generateNginxConfig(options, aliasKind));
  } catch (err) {
    process.stderr.write(`nodewsgi setup-server: cannot write the server root: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(describeSetup(prepared));
  process.stdout.write(
    `${"Control script:".padEnd(18)}${apachectl} start|stop|restart|graceful|configtest\n` +
      `${"systemd unit:".padEnd(18)}${unit}\n` +
      `${"nginx server:".padEnd(18)}${nginx} (listens on ${options.nginxPort}; include it in nginx's http {} block)\n`,
  );
  return 0;
}
