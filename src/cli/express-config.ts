/**
 * `start-server` / `setup-server`: mod_wsgi-express's zero-config front door. This module is
 * pure: it parses the options (one table drives parsing, defaults and --help) and generates the
 * files (the Apache-syntax configuration, the handler script, apachectl, a systemd unit and an
 * nginx server block). The commands in start-server.ts / setup-server.ts do the I/O.
 *
 * The configuration has mod_wsgi-express's shape: a DocumentRoot (the user's, or an empty
 * htdocs in the server root) whose `<Directory>` sends every request that is not an existing
 * file to the `wsgi-handler` WSGIHandlerScript (`RewriteCond !-f` + `[H=wsgi-handler]`), so
 * static files win and everything else reaches the application, in one daemon process group.
 */
import * as path from "node:path";

export type ApplicationType = "script" | "module" | "static";

export interface UrlAlias {
  readonly url: string;
  readonly path: string;
}

/** Everything the generators need. Paths are absolute. */
export interface ExpressOptions {
  applicationType: ApplicationType;
  /** The script path (script/module types; absolute once resolved), undefined for static. */
  entryPoint?: string;
  callableObject: string;
  /** Undefined: all interfaces. */
  host?: string;
  port: number;
  /** Undefined: not given, so `processes=` is left out and wsgi.multiprocess stays false. */
  processes?: number;
  threads: number;
  maximumRequests: number;
  restartInterval: number;
  requestTimeout: number;
  gracefulTimeout: number;
  limitRequestBody: number;
  urlAliases: UrlAlias[];
  documentRoot?: string;
  mountPoint: string;
  trustProxyHeaders: string[];
  trustProxies: string[];
  accessLog: boolean;
  logLevel: string;
  logToTerminal: boolean;
  reloadOnChanges: boolean;
  setenv: [string, string][];
  serverRoot?: string;
  includeFiles: string[];
  /** setup-server: the port nginx listens on, and its server_name. */
  nginxPort: number;
  serverName?: string;
  help: boolean;
}

type Kind = "int" | "string" | "path" | "bool" | "pair" | "choice";

interface OptionSpec {
  readonly name: string;
  readonly kind: Kind;
  readonly key: keyof ExpressOptions;
  readonly metavar?: string;
  readonly choices?: readonly string[];
  readonly multiple?: boolean;
  /** Shown in --help; undefined: no default. */
  readonly shownDefault?: string;
  readonly help: string;
  /** Only for setup-server. */
  readonly setupOnly?: boolean;
}

const LOG_LEVELS = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"] as const;

/** The options, named after mod_wsgi-express's where they mean the same. */
export const EXPRESS_OPTIONS: readonly OptionSpec[] = [
  { name: "application-type", kind: "choice", key: "applicationType", choices: ["script", "module", "static"], shownDefault: "script",
    help: "script: SCRIPT is a file; module: a module name resolved from the current directory (`./app`, `pkg/app`); static: no application, only --document-root." },
  { name: "callable-object", kind: "string", key: "callableObject", metavar: "NAME", shownDefault: "application", help: "The name of the application callable the script exports." },
  { name: "host", kind: "string", key: "host", metavar: "ADDRESS", shownDefault: "all interfaces", help: "The address to listen on." },
  { name: "port", kind: "int", key: "port", metavar: "NUMBER", shownDefault: "8000", help: "The port to listen on; 0 lets the system choose (the URL printed says which)." },
  { name: "processes", kind: "int", key: "processes", metavar: "NUMBER", shownDefault: "1", help: "Daemon processes. Giving it at all (even 1) makes wsgi.multiprocess true, as in mod_wsgi." },
  { name: "threads", kind: "int", key: "threads", metavar: "NUMBER", shownDefault: "5", help: "Requests each process may have in flight." },
  { name: "maximum-requests", kind: "int", key: "maximumRequests", metavar: "NUMBER", shownDefault: "0 (off)", help: "Replace a process after this many requests." },
  { name: "restart-interval", kind: "int", key: "restartInterval", metavar: "SECONDS", shownDefault: "0 (off)", help: "Replace a process after this many seconds." },
  { name: "request-timeout", kind: "int", key: "requestTimeout", metavar: "SECONDS", shownDefault: "60", help: "Restart a process whose request has run this long (scaled as mod_wsgi does); 0 turns it off." },
  { name: "graceful-timeout", kind: "int", key: "gracefulTimeout", metavar: "SECONDS", shownDefault: "15", help: "How long a recycled process may finish its requests." },
  { name: "limit-request-body", kind: "int", key: "limitRequestBody", metavar: "BYTES", shownDefault: "10485760", help: "Larger request bodies get 413." },
  { name: "url-alias", kind: "pair", key: "urlAliases", metavar: "URL PATH", multiple: true, help: "Serve a static file or directory at URL (repeatable)." },
  { name: "document-root", kind: "path", key: "documentRoot", metavar: "DIR", shownDefault: "an empty htdocs in the server root",
    help: "Existing files under DIR are served as static files; every other URL goes to the application." },
  { name: "mount-point", kind: "string", key: "mountPoint", metavar: "URL", shownDefault: "/", help: "The URL prefix the application (and the document root) is mounted at: its SCRIPT_NAME." },
  { name: "trust-proxy-header", kind: "string", key: "trustProxyHeaders", metavar: "HEADER", multiple: true,
    help: "Honour this forwarded header (X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port, ...) from trusted proxies (repeatable; WSGITrustedProxyHeaders)." },
  { name: "trust-proxy", kind: "string", key: "trustProxies", metavar: "ADDRESS|CIDR", multiple: true, help: "A proxy whose forwarded headers are trusted (repeatable; WSGITrustedProxies)." },
  { name: "access-log", kind: "bool", key: "accessLog", help: "Write an access log (common format) to SERVER_ROOT/access_log." },
  { name: "log-level", kind: "choice", key: "logLevel", choices: LOG_LEVELS, shownDefault: "warn", help: "The error log's level." },
  { name: "log-to-terminal", kind: "bool", key: "logToTerminal", help: "Send the error log to the terminal (stderr) instead of SERVER_ROOT/error_log." },
  { name: "reload-on-changes", kind: "bool", key: "reloadOnChanges", help: "Reload the script when its modification time changes (checked on each request)." },
  { name: "setenv", kind: "pair", key: "setenv", metavar: "NAME VALUE", multiple: true, help: "Add NAME to each request's environ (repeatable; SetEnv)." },
  { name: "server-root", kind: "path", key: "serverRoot", metavar: "DIR", shownDefault: "$TMPDIR/nodewsgi-HOST:PORT:UID (a fresh directory for port 0)",
    help: "Where the generated configuration, logs and pid file go." },
  { name: "include-file", kind: "path", key: "includeFiles", metavar: "FILE", multiple: true, help: "Append `Include FILE` to the generated configuration (repeatable)." },
  { name: "nginx-port", kind: "int", key: "nginxPort", metavar: "NUMBER", shownDefault: "80", help: "The port the generated nginx.conf listens on.", setupOnly: true },
  { name: "server-name", kind: "string", key: "serverName", metavar: "NAME", shownDefault: "_ (any)", help: "The server_name of the generated nginx.conf.", setupOnly: true },
  { name: "help", kind: "bool", key: "help", help: "Show this help." },
];

export function defaultExpressOptions(): ExpressOptions {
  return {
    applicationType: "script",
    callableObject: "application",
    port: 8000,
    threads: 5,
    maximumRequests: 0,
    restartInterval: 0,
    requestTimeout: 60,
    gracefulTimeout: 15,
    limitRequestBody: 10485760,
    urlAliases: [],
    mountPoint: "/",
    trustProxyHeaders: [],
    trustProxies: [],
    accessLog: false,
    logLevel: "warn",
    logToTerminal: false,
    reloadOnChanges: false,
    setenv: [],
    includeFiles: [],
    nginxPort: 80,
    help: false,
  };
}

export class ExpressUsageError extends Error {
  readonly code = "E_USAGE";
}

/**
 * Parse `[SCRIPT] [options]` (options and the script in any order, `--name value` or
 * `--name=value`). Relative paths are resolved against `cwd`. Throws ExpressUsageError with
 * a one-line message. Does not touch the filesystem.
 */
export function parseExpressArgs(argv: readonly string[], cwd: string, command: "start-server" | "setup-server"): ExpressOptions {
  const o = defaultExpressOptions();
  const record = o as unknown as Record<string, unknown>;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "--") {
      if (arg.startsWith("-") && arg !== "-") {
        if (arg === "-h") {
          o.help = true;
          continue;
        }
        throw new ExpressUsageError(`unknown option '${arg}'`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = EXPRESS_OPTIONS.find((s) => s.name === name);
    if (!spec || (spec.setupOnly && command !== "setup-server")) throw new ExpressUsageError(`unknown option '--${name}'`);
    if (spec.kind === "bool") {
      if (eq >= 0) throw new ExpressUsageError(`option '--${name}' takes no value`);
      record[spec.key] = true;
      continue;
    }
    const need = spec.kind === "pair" ? 2 : 1;
    const values: string[] = eq >= 0 ? [arg.slice(eq + 1)] : [];
    while (values.length < need) {
      const next = argv[i + 1];
      if (next === undefined) throw new ExpressUsageError(`option '--${name}' needs ${spec.metavar ?? "a value"}`);
      values.push(next);
      i++;
    }
    const value = convert(spec, values, cwd);
    if (spec.multiple) (record[spec.key] as unknown[]).push(value);
    else record[spec.key] = value;
  }
  if (o.help) return o;
  if (positionals.length > 1) throw new ExpressUsageError(`unexpected argument '${positionals[1]}' (one SCRIPT only)`);
  const entry = positionals[0];
  if (o.applicationType === "static") {
    if (entry !== undefined) throw new ExpressUsageError(`--application-type static takes no SCRIPT (got '${entry}')`);
    if (!o.documentRoot && o.urlAliases.length === 0) throw new ExpressUsageError("--application-type static needs --document-root or --url-alias");
  } else {
    if (entry === undefined) throw new ExpressUsageError("SCRIPT is required (the application's script file; see --help)");
    // module names are resolved later (they need the filesystem); scripts are paths.
    o.entryPoint = o.applicationType === "script" ? path.resolve(cwd, entry) : entry;
  }
  if (!o.mountPoint.startsWith("/")) throw new ExpressUsageError(`--mount-point must start with '/' (got '${o.mountPoint}')`);
  if (o.mountPoint.length > 1) o.mountPoint = o.mountPoint.replace(/\/+$/, "");
  if (o.processes !== undefined && o.processes < 1) throw new ExpressUsageError("--processes must be at least 1");
  if (o.threads < 1) throw new ExpressUsageError("--threads must be at least 1");
  if (o.port > 65535) throw new ExpressUsageError(`--port ${o.port} is out of range (0-65535)`);
  if (o.nginxPort < 1 || o.nginxPort > 65535) throw new ExpressUsageError(`--nginx-port ${o.nginxPort} is out of range (1-65535)`);
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(o.callableObject)) throw new ExpressUsageError(`--callable-object '${o.callableObject}' is not an identifier`);
  for (const [name] of o.setenv) {
    if (!/^[^\s"=]+$/.test(name)) throw new ExpressUsageError(`--setenv name '${name}' is not a variable name`);
  }
  for (const a of o.urlAliases) {
    if (!a.url.startsWith("/")) throw new ExpressUsageError(`--url-alias URL must start with '/' (got '${a.url}')`);
  }
  if (o.host !== undefined && !/^[A-Za-z0-9.:\-]+$/.test(o.host)) throw new ExpressUsageError(`--host '${o.host}' is not an address`);
  return o;
}

function convert(spec: OptionSpec, values: string[], cwd: string): unknown {
  const v = values[0]!;
  switch (spec.kind) {
    case "int":
      if (!/^\d+$/.test(v)) throw new ExpressUsageError(`--${spec.name} expects a non-negative integer (got '${v}')`);
      return Number(v);
    case "choice":
      if (!spec.choices!.includes(v)) throw new ExpressUsageError(`--${spec.name} must be one of ${spec.choices!.join(", ")} (got '${v}')`);
      return v;
    case "path":
      if (v === "") throw new ExpressUsageError(`--${spec.name} needs ${spec.metavar}`);
      return path.resolve(cwd, v);
    case "pair":
      if (spec.key === "urlAliases") return { url: v, path: path.resolve(cwd, values[1]!) } satisfies UrlAlias;
      return [v, values[1]!];
    default:
      if (v === "") throw new ExpressUsageError(`--${spec.name} needs ${spec.metavar ?? "a value"}`);
      return v;
  }
}

export function expressHelp(command: "start-server" | "setup-server"): string {
  const lines: string[] = [];
  if (command === "start-server") {
    lines.push(
      "Usage: nodewsgi start-server SCRIPT [options]",
      "",
      "Serve one application in the foreground (like mod_wsgi-express start-server): a generated",
      "Apache-syntax configuration in --server-root, served as `nodewsgi serve -f` would.",
    );
  } else {
    lines.push(
      "Usage: nodewsgi setup-server SCRIPT --server-root DIR [options]",
      "",
      "Write the configuration start-server would use, plus DIR/apachectl (start|stop|restart|",
      "graceful|configtest), DIR/nodewsgi.service (systemd) and DIR/nginx.conf (nginx in front).",
    );
  }
  lines.push("", "Options:");
  for (const s of EXPRESS_OPTIONS) {
    if (s.setupOnly && command !== "setup-server") continue;
    const left = `  --${s.name}${s.metavar ? " " + s.metavar : s.choices ? " " + s.choices.join("|") : ""}`;
    const help = wrap(s.help + (s.shownDefault !== undefined ? ` Default: ${s.shownDefault}.` : ""), 100 - 34);
    if (left.length >= 34) lines.push(left);
    help.forEach((h, i) => lines.push(`${(i === 0 && left.length < 34 ? left : "").padEnd(34)}${h}`));
  }
  return lines.join("\n") + "\n";
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** mod_wsgi-express's default server root: `$TMPDIR/nodewsgi-HOST:PORT:UID`. */
export function defaultServerRootName(o: Pick<ExpressOptions, "host" | "port">, uid: number): string {
  return `nodewsgi-${o.host ?? "localhost"}:${o.port}:${uid}`;
}

/** The daemon process group's name, as mod_wsgi-express forms it. */
export function processGroupName(o: Pick<ExpressOptions, "host" | "port">): string {
  return `${o.host ?? "localhost"}:${o.port}`;
}

/** A literal string inside a PCRE pattern. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/**
 * A RewriteCond/RewriteRule word: mod_rewrite reads its arguments itself (parseargline), with
 * no escapes: a quoted word runs to the next such quote, and backslashes stay as written.
 */
export function rewriteQuote(word: string): string {
  if (!word.includes('"')) return `"${word}"`;
  if (!word.includes("'")) return `'${word}'`;
  throw new Error(`cannot quote ${word} for mod_rewrite (it contains both quote characters)`);
}

/** An Apache config word: quoted, with `\` and `"` escaped as our parser (and httpd) read them. */
export function quote(word: string): string {
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export interface GeneratedPaths {
  readonly serverRoot: string;
  readonly configFile: string;
  readonly handlerScript: string;
  readonly documentRoot: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly accessLog: string;
}

export function generatedPaths(o: ExpressOptions, serverRoot: string): GeneratedPaths {
  return {
    serverRoot,
    configFile: path.join(serverRoot, "nodewsgi.conf"),
    handlerScript: path.join(serverRoot, "handler.mjs"),
    documentRoot: o.documentRoot ?? path.join(serverRoot, "htdocs"),
    pidFile: path.join(serverRoot, "nodewsgi.pid"),
    errorLog: path.join(serverRoot, "error_log"),
    accessLog: path.join(serverRoot, "access_log"),
  };
}

/** How a --url-alias target is served: a directory, or one file. */
export type AliasKindOf = (p: string) => "file" | "directory";

/**
 * The Apache-syntax configuration. `aliasKind` says whether each --url-alias target is a file
 * or a directory (the caller stats it). Pure.
 */
export function generateApacheConfig(o: ExpressOptions, paths: GeneratedPaths, aliasKind: AliasKindOf): string {
  const out: string[] = [];
  const group = processGroupName(o);
  const hasApp = o.applicationType !== "static";
  out.push(
    "# Generated by nodewsgi start-server / setup-server: regenerate it rather than edit it",
    "# (--include-file adds your own directives).",
    `# application: ${hasApp ? `${o.applicationType} ${o.entryPoint} (callable ${o.callableObject})` : "none (static)"}`,
    "",
    `ServerRoot ${quote(paths.serverRoot)}`,
    `Listen ${o.host === undefined ? "" : o.host.includes(":") ? `[${o.host}]:` : `${o.host}:`}${o.port}`,
    `ServerName ${o.host === undefined || o.host.includes(":") ? "localhost" : o.host}`,
    `PidFile ${quote(paths.pidFile)}`,
  );
  if (!o.logToTerminal) out.push(`ErrorLog ${quote(paths.errorLog)}`);
  out.push(`LogLevel ${o.logLevel}`);
  if (o.accessLog) out.push(`CustomLog ${quote(paths.accessLog)} common`);
  out.push(`LimitRequestBody ${o.limitRequestBody}`);
  for (const [name, value] of o.setenv) out.push(`SetEnv ${name} ${quote(value)}`);
  if (o.trustProxyHeaders.length) out.push(`WSGITrustedProxyHeaders ${o.trustProxyHeaders.join(" ")}`);
  if (o.trustProxies.length) out.push(`WSGITrustedProxies ${o.trustProxies.join(" ")}`);

  if (hasApp) {
    const daemon = [
      `WSGIDaemonProcess ${quote(group)}`,
      ...(o.processes !== undefined ? [`processes=${o.processes}`] : []),
      `threads=${o.threads}`,
      `display-name=%{GROUP}`,
      `maximum-requests=${o.maximumRequests}`,
      `restart-interval=${o.restartInterval}`,
      `request-timeout=${o.requestTimeout}`,
      `graceful-timeout=${o.gracefulTimeout}`,
      `home=${quote(o.entryPoint ? path.dirname(o.entryPoint) : paths.serverRoot)}`,
    ];
    out.push(
      "",
      "# One daemon process group; the handler script loads the application in its main isolate.",
      daemon.join(" "),
      `WSGIHandlerScript wsgi-handler ${quote(paths.handlerScript)} process-group=${quote(group)} application-group=%{GLOBAL}`,
      // Preloading loads the application when the process starts, not on the first request.
      `WSGIImportScript ${quote(paths.handlerScript)} process-group=${quote(group)} application-group=%{GLOBAL}`,
    );
  }

  for (const a of o.urlAliases) {
    const kind = aliasKind(a.path);
    out.push("", `Alias ${quote(a.url)} ${quote(a.path)}`, `<Directory ${quote(kind === "directory" ? a.path : path.dirname(a.path))}>`, "    Require all granted", "</Directory>");
  }

  // The document root: static files win, everything else goes to the handler. With a mount
  // point, the root is served there through an Alias and "/" keeps an empty DocumentRoot.
  const htdocs = path.join(paths.serverRoot, "htdocs");
  const mounted = o.mountPoint !== "/";
  out.push("", `DocumentRoot ${quote(mounted ? htdocs : paths.documentRoot)}`);
  if (mounted) out.push(`Alias ${quote(o.mountPoint)} ${quote(paths.documentRoot)}`);
  out.push(`<Directory ${quote(paths.documentRoot)}>`, "    Require all granted", "</Directory>");
  if (mounted && paths.documentRoot !== htdocs) out.push(`<Directory ${quote(htdocs)}>`, "    Require all granted", "</Directory>");
  if (hasApp) {
    // mod_wsgi-express puts `RewriteCond %{REQUEST_FILENAME} !-f` + `[H=wsgi-handler]` in the
    // root's <Directory>; the same test in server context (with the file named from the URL)
    // gives the same answer, and the --url-alias URLs are left to their aliases.
    const prefix = mounted ? escapeRegex(o.mountPoint) : "";
    out.push("", "RewriteEngine On");
    for (const a of o.urlAliases) {
      const url = a.url.replace(/\/+$/, "");
      out.push(`RewriteCond %{REQUEST_URI} ${rewriteQuote(`!^${escapeRegex(url)}${aliasKind(a.path) === "directory" ? "(/|$)" : "$"}`)}`);
    }
    out.push(
      `RewriteCond ${rewriteQuote(paths.documentRoot + "$1")} !-f`,
      `RewriteRule ${rewriteQuote(mounted ? `^${prefix}(/.*)?$` : "^(/.*)$")} - [H=wsgi-handler]`,
    );
  }

  for (const f of o.includeFiles) out.push("", `Include ${quote(f)}`);
  return out.join("\n") + "\n";
}

/**
 * The handler script (ESM, so it can load CommonJS and ESM applications alike with the
 * server's own loader): it exports `handle_request`, re-splits SCRIPT_NAME/PATH_INFO at the
 * mount point (the directory walk of a missing file would otherwise put its first segment in
 * SCRIPT_NAME), and with --reload-on-changes reloads the script when its mtime changes.
 */
export function generateHandlerScript(o: ExpressOptions, loaderModule: string): string {
  if (!o.entryPoint) throw new Error("generateHandlerScript: no application");
  const mount = o.mountPoint === "/" ? "" : o.mountPoint;
  return `// Generated by nodewsgi start-server / setup-server: the wsgi-handler for ${o.entryPoint}
import { createRequire } from "node:module";
import { statSync } from "node:fs";
const require = createRequire(import.meta.url);
const { loadScript } = require(${JSON.stringify(loaderModule)});
// A WSGI callable, a fetch handler or a Node listener (Express, Hono, ...): see docs/frameworks.md.
const { loadApplicationShape } = require(${JSON.stringify(loaderModule)}.replace(/loader\.js$/, "adapters/detect.js"));
const findCallable = (script, name) => loadApplicationShape(script, name).application;

const SCRIPT = ${JSON.stringify(o.entryPoint)};
const CALLABLE = ${JSON.stringify(o.callableObject)};
const MOUNT_POINT = ${JSON.stringify(mount)};
const RELOAD_ON_CHANGES = ${o.reloadOnChanges ? "true" : "false"};

let loaded = await loadScript(SCRIPT);
let application = findCallable(loaded, CALLABLE);
let reloading;

async function reloadIfChanged() {
  let mtimeMs;
  try {
    mtimeMs = statSync(SCRIPT).mtimeMs;
  } catch {
    return;
  }
  if (mtimeMs === loaded.mtimeMs) return;
  reloading ??= loadScript(SCRIPT).then((s) => {
    loaded = s;
    application = findCallable(s, CALLABLE);
  }).finally(() => { reloading = undefined; });
  await reloading;
}

function split(environ) {
  const whole = (environ.SCRIPT_NAME || "") + (environ.PATH_INFO || "");
  if (MOUNT_POINT === "" ) {
    environ.SCRIPT_NAME = "";
    environ.PATH_INFO = whole;
  } else if (whole.startsWith(MOUNT_POINT)) {
    environ.SCRIPT_NAME = MOUNT_POINT;
    environ.PATH_INFO = whole.slice(MOUNT_POINT.length);
  }
}

export function handle_request(environ, start_response) {
  split(environ);
  if (!RELOAD_ON_CHANGES) return application(environ, start_response);
  return reloadIfChanged().then(() => application(environ, start_response));
}

// WSGIImportScript preloads look for \`application\`; it is the same entry point.
export { handle_request as application };
`;
}

export interface ControlContext {
  /** The node binary and the nodewsgi CLI entry (absolute). */
  readonly node: string;
  readonly bin: string;
  /** The working directory the server runs in. */
  readonly workingDirectory: string;
}

/** apachectl-like control script (bash). */
export function generateApachectl(paths: GeneratedPaths, ctx: ControlContext): string {
  return `#!/usr/bin/env bash
# Generated by nodewsgi setup-server: control the server configured in ${paths.configFile}.
#   start       start in the background (pid in ${path.basename(paths.pidFile)}); waits until it listens
#   stop        graceful stop (SIGTERM: requests in flight finish), waits for the process to exit
#   restart     stop, then start
#   graceful    send SIGHUP (reload). NOTE: a nodewsgi without SIGHUP support exits on SIGHUP;
#               use restart with such a version.
#   configtest  check the configuration ("Syntax OK")
#   status      say whether it is running
set -u
NODE=${shq(ctx.node)}
NODEWSGI=${shq(ctx.bin)}
CONFIG=${shq(paths.configFile)}
PIDFILE=${shq(paths.pidFile)}
OUTPUT=${shq(path.join(paths.serverRoot, "server_output.log"))}
WORKDIR=${shq(ctx.workingDirectory)}

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

do_start() {
  local pid
  if pid=$(running_pid); then
    echo "nodewsgi: already running (pid $pid)" >&2
    return 1
  fi
  rm -f "$PIDFILE"
  cd "$WORKDIR" || return 1
  # setsid + nohup: the server outlives this shell and its terminal.
  setsid nohup "$NODE" "$NODEWSGI" serve -f "$CONFIG" >>"$OUTPUT" 2>&1 </dev/null &
  local child=$!
  for _ in $(seq 1 300); do
    if [ -s "$PIDFILE" ]; then
      echo "nodewsgi: started (pid $(cat "$PIDFILE"))"
      return 0
    fi
    if ! kill -0 "$child" 2>/dev/null; then
      echo "nodewsgi: failed to start; the last lines of $OUTPUT:" >&2
      tail -n 5 "$OUTPUT" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "nodewsgi: did not start listening within 30 seconds (see $OUTPUT)" >&2
  return 1
}

do_stop() {
  local pid
  if ! pid=$(running_pid); then
    echo "nodewsgi: not running" >&2
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "nodewsgi: stopped"; return 0; }
    sleep 0.1
  done
  echo "nodewsgi: pid $pid did not exit within 30 seconds; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  rm -f "$PIDFILE"
  return 1
}

case "\${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  graceful)
    if pid=$(running_pid); then kill -HUP "$pid"; else do_start; fi ;;
  configtest) "$NODE" "$NODEWSGI" configtest -f "$CONFIG" ;;
  status)
    if pid=$(running_pid); then echo "nodewsgi: running (pid $pid)"; else echo "nodewsgi: not running"; exit 3; fi ;;
  *) echo "Usage: $0 start|stop|restart|graceful|configtest|status" >&2; exit 2 ;;
esac
`;
}

/** A shell word in single quotes. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A systemd unit that runs `serve -f` in the foreground. */
export function generateSystemdUnit(o: ExpressOptions, paths: GeneratedPaths, ctx: ControlContext): string {
  const what = o.entryPoint ?? paths.documentRoot;
  return `# Generated by nodewsgi setup-server. Install with:
#   cp ${paths.serverRoot}/nodewsgi.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now nodewsgi
[Unit]
Description=nodewsgi: ${what} on ${processGroupName(o)}
After=network.target

[Service]
Type=simple
WorkingDirectory=${ctx.workingDirectory}
ExecStart=${systemdWord(ctx.node)} ${systemdWord(ctx.bin)} serve -f ${systemdWord(paths.configFile)}
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
# Graceful stop waits for requests in flight; give it the daemons' graceful timeout and more.
TimeoutStopSec=${o.gracefulTimeout + 15}
Restart=on-failure
RestartSec=2
# User=www-data
# Group=www-data

[Install]
WantedBy=multi-user.target
`;
}

function systemdWord(s: string): string {
  return /^[A-Za-z0-9_\-./:+@]+$/.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The headers nginx sets and nodewsgi trusts when setup-server puts nginx in front. */
export const NGINX_FORWARDED_HEADERS = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port"] as const;

/**
 * An nginx `server` block (include it from the http context): static files (--url-alias,
 * --document-root) served by nginx itself, the rest proxied over HTTP/1.1 (uWS refuses
 * HTTP/1.0, nginx's proxy default) with the X-Forwarded-* headers nodewsgi is told to trust.
 */
export function generateNginxConfig(o: ExpressOptions, aliasKind: AliasKindOf): string {
  const backendHost = o.host === undefined || o.host === "0.0.0.0" ? "127.0.0.1" : o.host === "::" ? "[::1]" : o.host.includes(":") ? `[${o.host}]` : o.host;
  const upstream = `nodewsgi_${processGroupName(o).replace(/[^A-Za-z0-9_]/g, "_")}`;
  const out: string[] = [
    "# Generated by nodewsgi setup-server: an nginx server block for the http {} context.",
    "# nodewsgi's configuration trusts the X-Forwarded-* headers below from 127.0.0.1 only.",
    `upstream ${upstream} {`,
    `    server ${backendHost}:${o.port};`,
    "    keepalive 16;",
    "}",
    "",
    "server {",
    `    listen ${o.nginxPort};`,
    `    server_name ${o.serverName ?? "_"};`,
    `    client_max_body_size ${o.limitRequestBody};`,
  ];
  for (const a of o.urlAliases) {
    if (aliasKind(a.path) === "directory") {
      const url = a.url.endsWith("/") ? a.url : a.url + "/";
      const dir = a.path.endsWith("/") ? a.path : a.path + "/";
      out.push("", `    location ^~ ${nginxWord(url)} {`, `        alias ${nginxWord(dir)};`, "    }");
      if (url !== a.url) out.push(`    location = ${nginxWord(a.url)} {`, `        return 301 ${nginxWord(url)};`, "    }");
    } else {
      out.push("", `    location = ${nginxWord(a.url)} {`, `        alias ${nginxWord(a.path)};`, "    }");
    }
  }
  const hasApp = o.applicationType !== "static";
  const mount = o.mountPoint;
  if (o.documentRoot) {
    const dir = o.documentRoot.endsWith("/") ? o.documentRoot : o.documentRoot + "/";
    const loc = mount === "/" ? "/" : mount + "/";
    // Like the nodewsgi configuration: an existing file wins, anything else is the application's.
    // (try_files misbehaves with alias, so a mounted root hands misses over with error_page;
    // a directory has no index here, so it is a 403 and goes to the application too.)
    out.push("", `    location ${nginxWord(loc)} {`);
    if (mount === "/") out.push(`        root ${nginxWord(o.documentRoot)};`, hasApp ? "        try_files $uri @nodewsgi;" : "        try_files $uri =404;");
    else out.push(`        alias ${nginxWord(dir)};`, "        index .nodewsgi-no-index;", ...(hasApp ? ["        error_page 403 404 = @nodewsgi;"] : []));
    out.push("    }");
    if (mount !== "/" && hasApp) out.push(`    location = ${nginxWord(mount)} {`, "        try_files /nonexistent @nodewsgi;", "    }");
  } else if (hasApp) {
    out.push("", `    location ${nginxWord(mount)} {`, "        try_files /nonexistent @nodewsgi;", "    }");
  }
  if (hasApp) {
    out.push(
      "",
      "    location @nodewsgi {",
      `        proxy_pass http://${upstream};`,
      "        # nodewsgi's front end refuses HTTP/1.0, nginx's default for proxied requests.",
      "        proxy_http_version 1.1;",
      '        proxy_set_header Connection "";',
      "        proxy_set_header Host $http_host;",
      "        proxy_set_header X-Forwarded-For $remote_addr;",
      "        proxy_set_header X-Forwarded-Proto $scheme;",
      "        proxy_set_header X-Forwarded-Host $host;",
      "        proxy_set_header X-Forwarded-Port $server_port;",
      "        proxy_read_timeout " + Math.max(60, o.requestTimeout * 2) + "s;",
      "        proxy_buffering on;",
      "    }",
    );
  }
  out.push("}");
  return out.join("\n") + "\n";
}

function nginxWord(s: string): string {
  return /^[A-Za-z0-9_\-./:+@~]+$/.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * setup-server's defaults for the proxy trust that matches nginx.conf: unless the user named
 * headers or proxies, trust nginx's X-Forwarded-* headers from 127.0.0.1.
 */
export function withNginxTrust(o: ExpressOptions): ExpressOptions {
  return {
    ...o,
    trustProxyHeaders: o.trustProxyHeaders.length ? o.trustProxyHeaders : [...NGINX_FORWARDED_HEADERS],
    trustProxies: o.trustProxies.length ? o.trustProxies : ["127.0.0.1"],
  };
}
