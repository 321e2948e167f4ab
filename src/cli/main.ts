/**
 * The `nodewsgi` command line: `serve`, `configtest`, `start-server`, `setup-server`,
 * `--help`, `--version`.
 * Each subcommand lives in its own module; this file only dispatches.
 */
import { parseArgs } from "node:util";
import { readPackageVersion } from "./version";
import { runServe } from "./serve";
import { runConfigtest } from "./configtest";
import { runStartServer } from "./start-server";
import { runSetupServer } from "./setup-server";

const USAGE = `Usage: nodewsgi <command> [options]

Commands:
  serve -f FILE        Serve the Apache-syntax configuration FILE in the foreground until
                       SIGTERM or SIGINT (graceful: requests in flight finish first).
  configtest -f FILE   Check FILE and print "Syntax OK" or every error with file and line.
  start-server SCRIPT [options]
                       Serve one application at / on port 8000 with no configuration file
                       (like mod_wsgi-express); \`nodewsgi start-server --help\` lists the options.
  setup-server SCRIPT --server-root DIR [options]
                       Write start-server's configuration plus DIR/apachectl, a systemd unit
                       and an nginx server block, for a real deployment.

Options (serve, configtest):
  -f, --config FILE    The configuration file (required by serve and configtest).
  -D NAME              Define NAME for <IfDefine NAME> sections (repeatable).
  -h, --help           Show this help.
  -v, --version        Show the version.

Environment:
  NODEWSGI_ENGINE=native|js      The mapping engine (default: native, falling back to js).
  NODEWSGI_FRONTEND=uws|node     The HTTP front end (default: uws, falling back to node).
`;

export interface CommonOptions {
  readonly configFile: string;
  readonly defines: readonly string[];
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === "-v" || command === "--version" || command === "version") {
    process.stdout.write(`nodewsgi ${readPackageVersion()}\n`);
    return 0;
  }
  // These two have their own options (mod_wsgi-express's): they parse them themselves.
  if (command === "start-server") return runStartServer(rest);
  if (command === "setup-server") return runSetupServer(rest);
  if (command !== "serve" && command !== "configtest") {
    process.stderr.write(`nodewsgi: unknown command '${command}'\n\n${USAGE}`);
    return 1;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: {
        config: { type: "string", short: "f" },
        define: { type: "string", short: "D", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
    });
  } catch (err) {
    process.stderr.write(`nodewsgi ${command}: ${(err as Error).message}\n`);
    return 1;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const configFile = parsed.values.config;
  if (!configFile) {
    process.stderr.write(`nodewsgi ${command}: -f FILE is required\n`);
    return 1;
  }
  const options: CommonOptions = { configFile, defines: parsed.values.define ?? [] };
  return command === "serve" ? runServe(options) : runConfigtest(options);
}
