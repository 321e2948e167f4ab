/**
 * `nodewsgi start-server SCRIPT [options]`: mod_wsgi-express's front door. Checks the options
 * and the script, writes a generated configuration into the server root (express-config.ts),
 * and serves it through the same code path as `serve -f`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import {
  ExpressUsageError,
  defaultServerRootName,
  expressHelp,
  generateApacheConfig,
  generateHandlerScript,
  generatedPaths,
  parseExpressArgs,
  processGroupName,
  type AliasKindOf,
  type ExpressOptions,
  type GeneratedPaths,
} from "./express-config";
import { runServe } from "./serve";

type Command = "start-server" | "setup-server";

/** The server's own loader, which the generated handler script uses to load the application. */
export const LOADER_MODULE = path.resolve(__dirname, "..", "app", "loader.js");

/** A problem worth one line and exit status 1. */
class SetupProblem extends Error {}

export interface PreparedServer {
  readonly options: ExpressOptions;
  readonly paths: GeneratedPaths;
  readonly aliasKind: AliasKindOf;
}

/**
 * Parse and check everything, then write the server root (configuration, handler script,
 * htdocs). Returns the exit status instead when there is nothing to serve (help, bad input).
 * `adjust` may change the options before generation (setup-server adds nginx's trust).
 */
export function prepareServer(
  argv: readonly string[],
  command: Command,
  adjust: (o: ExpressOptions) => ExpressOptions = (o) => o,
): PreparedServer | number {
  let options: ExpressOptions;
  try {
    options = parseExpressArgs(argv, process.cwd(), command);
  } catch (err) {
    if (err instanceof ExpressUsageError) return fail(command, `${err.message} (see --help)`);
    throw err;
  }
  if (options.help) {
    process.stdout.write(expressHelp(command));
    return 0;
  }
  if (command === "setup-server" && !options.serverRoot) return fail(command, "--server-root DIR is required");
  try {
    options = adjust(resolveApplication(options));
    checkStaticPaths(options);
    if (options.entryPoint) checkCallable(options.entryPoint, options.callableObject);
    const serverRoot = makeServerRoot(options);
    const paths = generatedPaths(options, serverRoot);
    const aliasKind: AliasKindOf = (p) => (fs.statSync(p).isDirectory() ? "directory" : "file");
    fs.mkdirSync(path.join(serverRoot, "htdocs"), { recursive: true });
    if (options.entryPoint) fs.writeFileSync(paths.handlerScript, generateHandlerScript(options, LOADER_MODULE));
    fs.writeFileSync(paths.configFile, generateApacheConfig(options, paths, aliasKind));
    return { options, paths, aliasKind };
  } catch (err) {
    if (err instanceof SetupProblem) return fail(command, err.message);
    const e = err as NodeJS.ErrnoException;
    return fail(command, `cannot write the server root: ${e.message}`);
  }
}

function fail(command: Command, message: string): number {
  process.stderr.write(`nodewsgi ${command}: ${message}\n`);
  return 1;
}

/** module: resolve the name from the current directory, as `require` from there would. */
function resolveApplication(o: ExpressOptions): ExpressOptions {
  if (o.applicationType === "module") {
    const name = o.entryPoint!;
    let file: string;
    try {
      file = require.resolve(name, { paths: [process.cwd()] });
    } catch {
      throw new SetupProblem(`cannot find module '${name}' from ${process.cwd()}`);
    }
    return { ...o, entryPoint: file };
  }
  if (o.applicationType === "script") {
    const file = o.entryPoint!;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new SetupProblem(`script not found: ${file}`);
    }
    if (!stat.isFile()) throw new SetupProblem(`script is not a file: ${file}`);
  }
  return o;
}

function checkStaticPaths(o: ExpressOptions): void {
  if (o.documentRoot) {
    let ok = false;
    try {
      ok = fs.statSync(o.documentRoot).isDirectory();
    } catch {
      // reported below
    }
    if (!ok) throw new SetupProblem(`--document-root is not a directory: ${o.documentRoot}`);
  }
  for (const a of o.urlAliases) {
    if (!fs.existsSync(a.path)) throw new SetupProblem(`--url-alias ${a.url}: no such file or directory: ${a.path}`);
  }
}

// Runs in a child so the application's top-level code never runs in the front-end process.
const CHECK_SOURCE = `
const [loader, script, callable] = process.argv.slice(1);
const { loadScript } = require(loader);
const { loadApplicationShape } = require(require("node:path").join(require("node:path").dirname(loader), "adapters", "detect.js"));
// A WSGI callable, a fetch handler or a Node listener (Express, Hono, ...) all count.
loadScript(script).then((s) => { loadApplicationShape(s, callable); process.exit(0); }, (e) => {
  const cause = e && e.cause && e.cause.message ? ": " + String(e.cause.message).split("\\n")[0] : "";
  process.stderr.write(String(e && e.message) + cause + "\\n"); process.exit(1);
}).catch((e) => { process.stderr.write(String(e && e.message) + "\\n"); process.exit(1); });
`;

/** Load the script in a child and check that it exports the callable. */
function checkCallable(script: string, callable: string): void {
  const r = spawnSync(process.execPath, ["-e", CHECK_SOURCE, LOADER_MODULE, script, callable], {
    cwd: path.dirname(script),
    encoding: "utf8",
    timeout: 30_000,
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (r.status === 0) return;
  const lines = (r.stderr ?? "").trim().split("\n").filter((l) => l.trim() !== "");
  const message = r.error ? r.error.message : (lines[0] ?? `the check exited with status ${r.status ?? r.signal}`);
  throw new SetupProblem(message);
}

function makeServerRoot(o: ExpressOptions): string {
  if (o.serverRoot) {
    fs.mkdirSync(o.serverRoot, { recursive: true });
    return o.serverRoot;
  }
  // Port 0 cannot name a directory uniquely: give each run its own.
  if (o.port === 0) return fs.mkdtempSync(path.join(os.tmpdir(), `${defaultServerRootName(o, uid())}-`));
  const dir = path.join(os.tmpdir(), defaultServerRootName(o, uid()));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function uid(): number {
  return typeof process.getuid === "function" ? process.getuid() : 0;
}

/** What was set up, one item a line (the URL follows from `serve` once it listens). */
export function describeSetup(p: PreparedServer): string {
  const o = p.options;
  const rows: [string, string][] = [
    ["Server root", p.paths.serverRoot],
    ["Configuration", p.paths.configFile],
    ["Application", o.entryPoint ? `${o.entryPoint} (callable '${o.callableObject}', mounted at ${o.mountPoint})` : "none (static files only)"],
  ];
  if (o.entryPoint) {
    rows.push(["Daemon group", `${processGroupName(o)}: processes ${o.processes ?? 1}, threads ${o.threads}, request-timeout ${o.requestTimeout}s`]);
  }
  rows.push(["Document root", o.documentRoot ? `${o.documentRoot} (existing files are served, the rest goes to the application)` : `${p.paths.documentRoot} (empty)`]);
  for (const a of o.urlAliases) rows.push(["URL alias", `${a.url} -> ${a.path}`]);
  if (o.trustProxies.length || o.trustProxyHeaders.length) {
    rows.push(["Trusted proxies", `${o.trustProxies.join(" ") || "(none)"}; headers ${o.trustProxyHeaders.join(" ") || "(none)"}`]);
  }
  rows.push(["Error log", o.logToTerminal ? "the terminal" : p.paths.errorLog]);
  if (o.accessLog) rows.push(["Access log", p.paths.accessLog]);
  return rows.map(([k, v]) => `${(k + ":").padEnd(18)}${v}\n`).join("");
}

export async function runStartServer(argv: readonly string[]): Promise<number> {
  const prepared = prepareServer(argv, "start-server");
  if (typeof prepared === "number") return prepared;
  process.stdout.write(describeSetup(prepared));
  return runServe({ configFile: prepared.paths.configFile, defines: [] });
}
