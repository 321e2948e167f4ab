/**
 * mod_log_config's format language, compiled once into a function from a finished request
 * (a LogSubject) to one log line. Supported: every 2.4 directive with its `{arg}`, status
 * conditions (`%400,501{User-agent}i`, `%!200{Referer}i`) and `<`/`>` modifiers; items
 * nodewsgi cannot know (`%k`, `%n`, `%^ti`) log `-`. Strings from the request are escaped as
 * ap_escape_logitem does (`\"`, `\\`, `\n`, `\xhh`), so a line is always one line.
 */
import type { IncomingRequest } from "../http/types";
import { NodewsgiError } from "../errors";
import { unescapeUrl } from "../map/rewrite-escape";
import { textOf } from "../engine/byte-string";
import { mergedHeaderValue } from "../http/header-values";

/** What a compiled format reads from a finished request. Getters may be lazy. */
export interface LogSubject {
  readonly req: IncomingRequest;
  /** %{X}i: the header fields as RequestHeader left them (httpd logs r->headers_in after its fixups); req's when absent. */
  readonly requestHeaders?: readonly string[];
  /** %U: r->uri, the decoded path after dot-segment removal (and mod_dir's index); from the target when absent. */
  readonly uriPath?: string;
  /** %{Connection}o when the response had no Connection field: what the front end sent (close, Keep-Alive). */
  readonly connectionHeader?: string;
  /** %r when it is not `method target protocol`: the line of a request refused as malformed. */
  readonly requestLine?: string;
  /** Final status sent (0 when nothing was sent: the client went away first). */
  readonly status: number;
  /** Response body bytes sent. */
  readonly bodyBytes: number;
  /** Bytes of the status line and headers sent (an estimate: the front end adds Date, ...). */
  readonly headerBytes: number;
  readonly aborted: boolean;
  /** Request start, ms since the epoch (fractional). */
  readonly startMs: number;
  /** Time taken, µs. */
  readonly durationUs: number;
  /** The request id (made on first use: the json format always has one). */
  readonly requestId: string;
  /**
   * %L: the id only if something made one, as httpd's r->log_id exists only once an error log
   * line about the request was written or mod_wsgi put it in the environ.
   */
  readonly logId?: string;
  readonly user: string | undefined;
  readonly filename: string | undefined;
  readonly handler: string | undefined;
  /** %v: the ServerName of the (virtual) host that served the request, without its port. */
  readonly serverName: string;
  /**
   * %V: the name ap_get_server_name gives, following UseCanonicalName: the Host header's
   * (Off, the default), ServerName (On), the local address (DNS); %v without a Host header.
   */
  readonly hostName: string;
  /** %p: the server's canonical port (ServerName's, else the scheme's default), whatever Host said. */
  readonly serverPort: string;
  /** The connection may carry another request (no `Connection: close` either way). */
  readonly keepAlive: boolean;
  responseHeader(name: string): string | undefined;
  env(name: string): string | undefined;
  /** A request note (`Header note`). */
  note(name: string): string | undefined;
}

export type CompiledFormat = (s: LogSubject) => string;

/** Debian's apache2.conf nicknames (plus Apache's own defaults), for CustomLog's format. */
export const PREDEFINED_FORMATS: Readonly<Record<string, string>> = {
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  combined: '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  common: '%h %l %u %t "%r" %>s %O',
  referer: "%{Referer}i -> %U",
  agent: "%{User-agent}i",
};

type Item = (s: LogSubject) => string;

/** Compile a format string (after the config parser removed its quoting). */
export function compileLogFormat(format: string): CompiledFormat {
  const items: (Item | string)[] = [];
  let lit = "";
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c === "\\" && i + 1 < format.length) {
      const n = format[i + 1];
      lit += n === "n" ? "\n" : n === "t" ? "\t" : n;
      i += 2;
      continue;
    }
    if (c !== "%") {
      lit += c;
      i++;
      continue;
    }
    i++;
    if (format[i] === "%") {
      lit += "%";
      i++;
      continue;
    }
    let negate = false;
    let statuses: number[] | null = null;
    let arg: string | null = null;
    let letter = "";
    while (i < format.length && letter === "") {
      const d = format[i];
      if (d === "!") {
        negate = true;
        i++;
      } else if (d === "<" || d === ">") {
        i++; // original vs final status: nodewsgi only knows the final request
      } else if (d === "," || (d >= "0" && d <= "9")) {
        const m = /^[0-9,]+/.exec(format.slice(i))![0];
        statuses = m.split(",").filter(Boolean).map(Number);
        i += m.length;
      } else if (d === "{") {
        const end = format.indexOf("}", i);
        if (end < 0) throw new NodewsgiError("E_LOG_FORMAT", `LogFormat '${format}': unterminated %{...}`);
        arg = format.slice(i + 1, end);
        i = end + 1;
      } else if (d === "^") {
        letter = format.slice(i, i + 3);
        i += 3;
      } else {
        letter = d;
        i++;
      }
    }
    if (letter === "") throw new NodewsgiError("E_LOG_FORMAT", `LogFormat '${format}': '%' at the end`);
    let item = directive(letter, arg, format);
    if (statuses !== null) item = conditional(item, statuses, negate);
    if (lit !== "") items.push(lit);
    lit = "";
    items.push(item);
  }
  if (lit !== "") items.push(lit);
  return join(items);
}

function join(items: (Item | string)[]): CompiledFormat {
  const n = items.length;
  if (n === 0) return () => "";
  if (n === 1) {
    const only = items[0];
    return typeof only === "string" ? () => only : only;
  }
  return (s) => {
    let out = "";
    for (let k = 0; k < n; k++) {
      const it = items[k];
      out += typeof it === "string" ? it : it(s);
    }
    return out;
  };
}

function conditional(item: Item, statuses: readonly number[], negate: boolean): Item {
  return (s) => (statuses.includes(s.status) !== negate ? item(s) : "-");
}

function directive(letter: string, arg: string | null, format: string): Item {
  switch (letter) {
    case "a":
    case "h":
      return (s) => s.req.remoteAddress;
    case "A":
      return (s) => s.req.localAddress;
    case "B":
      return (s) => String(s.bodyBytes);
    case "b":
      return (s) => (s.bodyBytes === 0 ? "-" : String(s.bodyBytes));
    case "C":
      return (s) => orDash(cookie(firstHeader(s.req, "cookie"), arg ?? ""));
    case "D":
      return (s) => String(Math.round(s.durationUs));
    case "e":
      return (s) => orDash(s.env(arg ?? ""));
    case "f":
      return (s) => orDash(s.filename);
    case "H":
      return (s) => s.req.protocol;
    case "i": {
      const name = (arg ?? "").toLowerCase();
      // httpd joins repeated request fields with ", " as it reads them.
      return (s) => orDash(mergedHeaderValue(s.requestHeaders ?? s.req.headers, name));
    }
    case "I":
      return (s) => String(requestBytes(s.req));
    case "k":
      return () => "0";
    case "l":
      return () => "-";
    case "L":
      return (s) => s.logId ?? "-";
    case "m":
      return (s) => orDash(s.req.method);
    case "n": {
      const name = arg ?? "";
      return (s) => orDash(s.note(name));
    }
    case "o":
      // mod_log_config logs r->content_type without its parameters.
      if (arg?.toLowerCase() === "content-type") return (s) => orDash(s.responseHeader(arg)?.replace(/\s*;.*$/s, ""));
      // The front end writes Connection itself; httpd's ap_set_keepalive puts it in headers_out.
      if (arg?.toLowerCase() === "connection") return (s) => orDash(s.responseHeader("connection") ?? s.connectionHeader);
      return (s) => orDash(s.responseHeader(arg ?? ""));
    case "O":
      return (s) => String(s.headerBytes + s.bodyBytes);
    case "p":
      if (arg === "local") return (s) => String(s.req.localPort);
      if (arg === "remote") return (s) => String(s.req.remotePort);
      if (arg === null || arg === "canonical") return (s) => s.serverPort;
      break;
    case "P":
      if (arg === null || arg === "pid") return () => String(process.pid);
      if (arg === "tid") return () => "0";
      if (arg === "hextid") return () => "0";
      break;
    case "q":
      return (s) => {
        const q = s.req.target.indexOf("?");
        return q < 0 ? "" : escapeLogItem(s.req.target.slice(q));
      };
    case "r":
      return (s) => escapeLogItem(s.requestLine ?? `${s.req.method} ${s.req.target} ${s.req.protocol}`);
    case "R":
      return (s) => orDash(s.handler);
    case "s":
      return (s) => String(s.status);
    case "S":
      return (s) => String(requestBytes(s.req) + s.headerBytes + s.bodyBytes);
    case "t":
      return timeItem(arg, format);
    case "T": {
      const unit = arg ?? "s";
      if (unit === "ms") return (s) => String(Math.floor(s.durationUs / 1000));
      if (unit === "us") return (s) => String(Math.round(s.durationUs));
      if (unit === "s") return (s) => String(Math.floor(s.durationUs / 1e6));
      break;
    }
    case "u":
      // httpd's log_remote_user: an empty user name (`Og==` in Basic) is logged as "".
      return (s) => (s.user === "" ? '""' : orDash(s.user));
    case "U":
      return (s) => orDash(s.uriPath ?? urlPath(s.req.target));
    case "v":
      return (s) => escapeLogItem(s.serverName);
    case "V":
      return (s) => escapeLogItem(s.hostName);
    case "X":
      return (s) => (s.aborted ? "X" : s.keepAlive ? "+" : "-");
    case "^ti":
    case "^to":
      return () => "-";
  }
  throw new NodewsgiError("E_LOG_FORMAT", `LogFormat '${format}': unrecognized directive %${arg !== null ? `{${arg}}` : ""}${letter}`);
}

function orDash(v: string | undefined): string {
  return v === undefined || v === "" ? "-" : escapeLogItem(v);
}


/** The first value of a request header (names in IncomingRequest.headers are lower-case). */
export function firstHeader(req: IncomingRequest, lowerName: string): string | undefined {
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === lowerName) return h[i + 1];
  return undefined;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The request line, headers and declared body, as received (an estimate for chunked bodies). */
function requestBytes(req: IncomingRequest): number {
  let n = req.method.length + req.target.length + req.protocol.length + 4;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) n += h[i].length + h[i + 1].length + 4;
  return n + 2 + Math.max(0, req.body.declaredLength);
}

/** %U: the URL-path, %-decoded into bytes as Apache's r->uri. */
function urlPath(target: string): string {
  const q = target.indexOf("?");
  return unescapeUrl(q < 0 ? target : target.slice(0, q));
}

const NEEDS_ESCAPE = /[\x00-\x1f"\\\x7f-\uffff]/;

/**
 * ap_escape_logitem: control bytes, `"`, `\` and bytes beyond ASCII are escaped. What is logged
 * is mostly byte strings (the request line, headers, paths, the environ: one character per
 * byte), so a character up to U+00FF is that byte; one beyond it can only be text and is
 * escaped as its UTF-8 bytes.
 */
export function escapeLogItem(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const byte of Buffer.from(String.fromCodePoint(cp), "utf8")) out += "\\x" + byte.toString(16);
    } else out += escapeByte(c);
  }
  return out;
}

function escapeByte(byte: number): string {
  if (byte === 0x22) return '\\"';
  if (byte === 0x5c) return "\\\\";
  if (byte === 0x0a) return "\\n";
  if (byte === 0x0d) return "\\r";
  if (byte === 0x09) return "\\t";
  if (byte === 0x08) return "\\b";
  if (byte === 0x0b) return "\\v";
  if (byte < 0x20 || byte >= 0x7f) return "\\x" + byte.toString(16).padStart(2, "0");
  return String.fromCharCode(byte);
}

// ---------------------------------------------------------------------------------------------
// %t

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTHS_LONG = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const DAYS_LONG = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const p2 = (n: number): string => (n < 10 ? "0" + n : String(n));

function tzOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return (off < 0 ? "-" : "+") + p2(Math.floor(a / 60)) + p2(a % 60);
}

/** `[10/Oct/2000:13:55:36 -0700]`, cached per second (every request of a second shares it). */
let clfSecond = -1;
let clfText = "";
export function clfTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== clfSecond) {
    const d = new Date(sec * 1000);
    clfText = `[${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${tzOffset(d)}]`;
    clfSecond = sec;
  }
  return clfText;
}

function timeItem(arg: string | null, format: string): Item {
  if (arg === null) return (s) => clfTime(s.startMs);
  let spec = arg;
  let atEnd = false;
  if (spec.startsWith("begin:")) spec = spec.slice(6);
  else if (spec.startsWith("end:")) {
    spec = spec.slice(4);
    atEnd = true;
  }
  const when = atEnd ? (s: LogSubject) => s.startMs + s.durationUs / 1000 : (s: LogSubject) => s.startMs;
  switch (spec) {
    case "sec":
      return (s) => String(Math.floor(when(s) / 1000));
    case "msec":
      return (s) => String(Math.floor(when(s)));
    case "usec":
      return (s) => String(Math.floor(when(s) * 1000));
    case "msec_frac":
      return (s) => String(Math.floor(when(s)) % 1000).padStart(3, "0");
    case "usec_frac":
      return (s) => String(Math.floor(when(s) * 1000) % 1_000_000).padStart(6, "0");
  }
  if (spec === "") return (s) => clfTime(when(s));
  if (/%[^aAbBcdDeFHIjmMnpSTuwyYzZ%]/.test(spec.replace(/%%/g, ""))) {
    throw new NodewsgiError("E_LOG_FORMAT", `LogFormat '${format}': %{${arg}}t uses a strftime conversion nodewsgi does not support`);
  }
  return (s) => strftime(spec, new Date(when(s)));
}

/** The strftime conversions log formats use, in local time. */
export function strftime(fmt: string, d: Date): string {
  return fmt.replace(/%([a-zA-Z%])/g, (_, c: string) => {
    switch (c) {
      case "a": return DAYS[d.getDay()];
      case "A": return DAYS_LONG[d.getDay()];
      case "b": return MONTHS[d.getMonth()];
      case "B": return MONTHS_LONG[d.getMonth()];
      case "c": return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
      case "d": return p2(d.getDate());
      case "D": return `${p2(d.getMonth() + 1)}/${p2(d.getDate())}/${p2(d.getFullYear() % 100)}`;
      case "e": return String(d.getDate()).padStart(2, " ");
      case "F": return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
      case "H": return p2(d.getHours());
      case "I": return p2(d.getHours() % 12 || 12);
      case "j": {
        const start = new Date(d.getFullYear(), 0, 1);
        return String(Math.floor((d.getTime() - start.getTime()) / 86_400_000) + 1).padStart(3, "0");
      }
      case "m": return p2(d.getMonth() + 1);
      case "M": return p2(d.getMinutes());
      case "n": return "\n";
      case "p": return d.getHours() < 12 ? "AM" : "PM";
      case "S": return p2(d.getSeconds());
      case "T": return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
      case "u": return String(d.getDay() || 7);
      case "w": return String(d.getDay());
      case "y": return p2(d.getFullYear() % 100);
      case "Y": return String(d.getFullYear());
      case "z": return tzOffset(d);
      case "Z": return Intl.DateTimeFormat("en", { timeZoneName: "short" }).formatToParts(d).find((x) => x.type === "timeZoneName")?.value ?? "";
      default: return "%";
    }
  });
}

/**
 * The `json` format: one object per line with combined's fields plus the duration, the
 * request id and the virtual host. Absent values are null, numbers are numbers. JSON holds
 * text, not bytes: the request's byte strings are given as the UTF-8 text they spell.
 */
function textOrNull(v: string | undefined): string | null {
  return v === undefined ? null : textOf(v);
}

export function compileJsonFormat(): CompiledFormat {
  return (s) => {
    const q = s.req.target.indexOf("?");
    return JSON.stringify({
      time: new Date(s.startMs).toISOString(),
      remote_addr: s.req.remoteAddress,
      remote_port: s.req.remotePort,
      remote_user: s.user === undefined ? null : textOf(s.user),
      request: `${s.req.method} ${textOf(s.req.target)} ${s.req.protocol}`,
      method: s.req.method,
      path: textOf(q < 0 ? s.req.target : s.req.target.slice(0, q)),
      query: q < 0 ? "" : textOf(s.req.target.slice(q + 1)),
      protocol: s.req.protocol,
      status: s.status,
      bytes: s.bodyBytes,
      bytes_sent: s.headerBytes + s.bodyBytes,
      referer: textOrNull(firstHeader(s.req, "referer")),
      user_agent: textOrNull(firstHeader(s.req, "user-agent")),
      vhost: s.serverName,
      duration_us: Math.round(s.durationUs),
      request_id: s.requestId,
      aborted: s.aborted,
    });
  };
}
