/**
 * HTTP Digest authentication as httpd 2.4.71's mod_auth_digest does it (RFC 2617/7616, MD5,
 * qop=auth only; RFC 2069 answers, MD5-sess and auth-int are refused as that version refuses
 * them). The steps of ./access-steps.ts drive it; this module holds the protocol:
 *
 * - the nonce: base64 of the 8-byte time it was made (microseconds, little-endian; a counter
 *   for one-time nonces) followed by the hex SHA-1 of a random server secret, the realm, that
 *   time text and the opaque, if any: 52 characters. A nonce whose hash does not match is
 *   refused with `stale=true`, as is one older than AuthDigestNonceLifetime (default 300 s);
 * - the opaque: a client id in hex, sent only where the server tracks clients
 *   (AuthDigestNcCheck On, or AuthDigestNonceLifetime 0); each challenge to a client that has
 *   none makes a new one. The table of clients is bounded as httpd's shared memory segment is
 *   (AuthDigestShmemSize): when it is full the oldest entry of each bucket is dropped, and a
 *   dropped client gets a new opaque and a stale nonce;
 * - the checks, in httpd's order: header syntax (AH01781/AH01782), the `uri` parameter against
 *   the request-target (400: AH01783, AH01786; AuthDigestEnableQueryStringHack), opaque, realm,
 *   algorithm, the providers' hash of user:realm:password, qop, the response itself, then the
 *   nonce (hash, time) and, when tracked, the nonce-count or the one-time nonce;
 * - the answers: `WWW-Authenticate: Digest realm="...", nonce="...", algorithm=MD5[, opaque=...]
 *   [, domain="..."][, stale=true], qop="auth"`, and on success `Authentication-Info` with
 *   rspauth (and nextnonce when the nonce is about to expire, or was a one-time one).
 *
 * The secret and the client table belong to a DigestState, which a Server keeps across
 * graceful restarts as httpd keeps its retained data and shared memory segment.
 */
import * as crypto from "node:crypto";
import type { HeaderPair } from "../http/types";

/** A section's mod_auth_digest configuration. httpd does not merge it: a section that sets any AuthDigest* directive starts from the defaults. */
export interface DigestSettings {
  /** AuthDigestProvider, in order (names as written: `file`, `wsgi`); undefined: `file`. */
  providers?: string[];
  /** AuthDigestNonceLifetime in seconds (default 300); 0: one-time nonces; below 0: never expire. */
  nonceLifetime: number;
  /** AuthDigestNcCheck. */
  ncCheck: boolean;
  /** AuthDigestDomain URIs, in order. */
  domains?: string[];
}

export const DEFAULT_NONCE_LIFETIME = 300;
export const DEFAULT_SHMEM_SIZE = 1000;

export function defaultDigestSettings(): DigestSettings {
  return { nonceLifetime: DEFAULT_NONCE_LIFETIME, ncCheck: false };
}

/**
 * httpd's sizes on a 64-bit system, for the client table in its shared memory segment: the
 * table header, a bucket pointer, an entry; apr_rmm's header and per-allocation overhead.
 */
const TABLE_HEADER = 48;
const BUCKET = 8;
const ENTRY = 32;
const HASH_DEPTH = 5;
const RMM_HEADER = 24;
const RMM_BLOCK = 24;
/** The buckets without AuthDigestShmemSize (httpd sizes them from it only when it is given). */
const DEFAULT_BUCKETS = 15;

/** The smallest AuthDigestShmemSize httpd accepts. */
export const MIN_SHMEM_SIZE = TABLE_HEADER + BUCKET + ENTRY;
/**
 * The most AuthDigestShmemSize nodewsgi takes: the table lives in the JavaScript heap, where a
 * client costs about three times httpd's 56 bytes, and clients without credentials can fill it.
 */
export const MAX_SHMEM_SIZE = 64 * 1048576;

const align8 = (n: number) => Math.ceil(n / 8) * 8;

const NONCE_TIME_LEN = 12;
const NONCE_HASH_LEN = 40;
const NONCE_LEN = NONCE_TIME_LEN + NONCE_HASH_LEN;
/** Seconds before a nonce expires from which a success carries a nextnonce. */
const NEXTNONCE_DELTA = 30;
const UINT32_MAX = 0xffffffff;

interface ClientEntry {
  readonly key: number;
  /** The highest nonce-count seen for lastNonceTime. */
  nonceCount: bigint;
  /** The time of the nonce of the last request accepted for this client (0: none yet). */
  lastNonceTime: bigint;
}

/** The current time in microseconds, as apr_time_now. */
export function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/**
 * The server secret and the clients mod_auth_digest tracks: one per server, kept across
 * graceful restarts (httpd keeps both for its lifetime; a new AuthDigestShmemSize needs a
 * full restart there too).
 */
export class DigestState {
  readonly secret: Buffer = crypto.randomBytes(20);
  private clientCounter = 1;
  private otnCounter = 0;
  /** Buckets by index, made when a client first lands in one (a large table costs nothing until used). */
  private readonly buckets = new Map<number, ClientEntry[]>();
  private readonly bucketCount: number;
  private readonly capacity: number;
  private entries = 0;
  private created = 0;
  private removed = 0;
  private renewed = 0;

  readonly shmemSize: number;

  /** `shmemSize`: AuthDigestShmemSize, when given (it then also sets the number of buckets). */
  constructor(shmemSize?: number) {
    this.shmemSize = shmemSize ?? DEFAULT_SHMEM_SIZE;
    const n = shmemSize === undefined ? DEFAULT_BUCKETS : Math.max(1, Math.floor((shmemSize - TABLE_HEADER) / (BUCKET + HASH_DEPTH * ENTRY)));
    this.bucketCount = n;
    // What apr_rmm has left for entries once the table and the two counters are allocated.
    const free = this.shmemSize - RMM_HEADER - (align8(TABLE_HEADER + BUCKET * n) + RMM_BLOCK) - 2 * (8 + RMM_BLOCK);
    this.capacity = Math.max(0, Math.floor(free / (ENTRY + RMM_BLOCK)));
  }

  /** The nonce for `time` (µs; ignored for one-time nonces, which take the next count). */
  nonce(time: bigint, opaque: string | undefined, realm: string, oneTime: boolean): string {
    const t = Buffer.alloc(8);
    if (oneTime) {
      // Ordered by a 32-bit counter instead of the clock; 0 means "no nonce used yet".
      const previous = this.otnCounter;
      this.otnCounter = (previous + 1) >>> 0;
      t.writeBigInt64LE(BigInt(previous) + 1n);
    } else {
      t.writeBigInt64LE(BigInt.asIntN(64, time));
    }
    const timeText = t.toString("base64");
    return timeText + this.nonceHash(timeText, opaque, realm);
  }

  /** The hash part of a nonce: SHA-1 of the secret, the realm, the time text and the opaque. */
  nonceHash(timeText: string, opaque: string | undefined, realm: string): string {
    const h = crypto.createHash("sha1").update(this.secret).update(Buffer.from(realm, "latin1")).update(Buffer.from(timeText, "latin1"));
    if (opaque !== undefined) h.update(Buffer.from(opaque, "latin1"));
    return h.digest("hex");
  }

  /** A new client's id, or 0 when the table has no room even after a collection (httpd: 503). */
  newClient(log: DigestLog): number {
    let key = this.clientCounter;
    this.clientCounter = (this.clientCounter + 1) >>> 0;
    if (key === 0) {
      key = this.clientCounter;
      this.clientCounter = (this.clientCounter + 1) >>> 0;
    }
    if (this.entries >= this.capacity) {
      const gone = this.collect();
      log("info", "auth_digest", `AH01766: gc'd ${gone} client entries. Total new clients: ${this.created - this.renewed}; Total removed clients: ${this.removed}; Total renewed clients: ${this.renewed}`, true);
      if (this.entries >= this.capacity) return 0;
    }
    const index = key % this.bucketCount;
    let bucket = this.buckets.get(index);
    if (bucket === undefined) this.buckets.set(index, (bucket = []));
    bucket.unshift({ key, nonceCount: 0n, lastNonceTime: 0n });
    this.created++;
    this.entries++;
    log("debug", "auth_digest", `AH01768: allocated new client ${key}`, true);
    return key;
  }

  /** httpd's gc(): the last (least recently used) entry of every bucket goes. */
  private collect(): number {
    let gone = 0;
    for (const [index, b] of this.buckets) {
      if (b.length > 0) {
        b.pop();
        gone++;
      }
      if (b.length === 0) this.buckets.delete(index);
    }
    this.entries -= gone;
    this.removed += gone;
    return gone;
  }

  /** The client's entry, moved to the front of its bucket (find_client). */
  private find(key: number): ClientEntry | undefined {
    if (key === 0) return undefined;
    const b = this.buckets.get(key % this.bucketCount);
    if (b === undefined) return undefined;
    const i = b.findIndex((e) => e.key === key);
    if (i < 0) return undefined;
    const e = b[i]!;
    if (i > 0) {
      b.splice(i, 1);
      b.unshift(e);
    }
    return e;
  }

  exists(key: number, log: DigestLog): boolean {
    const found = this.find(key) !== undefined;
    log("debug", "auth_digest", found ? `AH01764: client ${key} found` : `AH01765: client ${key} not found`);
    return found;
  }

  noteRenewed(): void {
    this.renewed++;
  }

  /** client_update_nonce: check a verified request's nonce and count against its client, and record them. */
  updateNonce(key: number, oneTime: boolean, nonceTime: bigint, nc: bigint): { state: "accepted" | "stale" | "bad-count" | "unknown"; tracked: bigint } {
    const client = this.find(key);
    if (client === undefined) return { state: "unknown", tracked: 0n };
    const tracked = client.nonceCount;
    let state: "accepted" | "stale" | "bad-count";
    if (oneTime) state = nonceTime > client.lastNonceTime ? "accepted" : "stale";
    else if (nonceTime > client.lastNonceTime || (nonceTime === client.lastNonceTime && nc > tracked)) state = "accepted";
    else state = "bad-count";
    if (state === "accepted") {
      client.lastNonceTime = nonceTime;
      client.nonceCount = nc;
    }
    return { state, tracked };
  }
}

/** Where the protocol logs: `server` lines carry no client prefix (httpd's ap_log_error). */
export type DigestLog = (level: "error" | "info" | "debug", module: string, message: string, server?: boolean) => void;

// ---- the Authorization header -----------------------------------------------------------------

export interface DigestHeader {
  /** NO_HEADER, NOT_DIGEST, INVALID, VALID. */
  readonly status: "none" | "not-digest" | "invalid" | "valid";
  readonly scheme?: string;
  readonly username?: string;
  readonly realm?: string;
  readonly nonce?: string;
  readonly uri?: string;
  readonly response?: string;
  readonly algorithm?: string;
  readonly cnonce?: string;
  readonly opaque?: string;
  /** The opaque's client id (0: none, or not a valid id). */
  readonly opaqueNum: number;
  readonly qop?: string;
  readonly nc?: string;
}

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";

/** mod_auth_digest's parse_digest_header, on the request's (first) Authorization value. */
export function parseDigestHeader(line: string | undefined): DigestHeader {
  if (line === undefined) return { status: "none", opaqueNum: 0 };
  // C strings: nothing after a NUL counts.
  const nul = line.indexOf("\0");
  const s = nul < 0 ? line : line.slice(0, nul);
  let i = 0;
  while (i < s.length && !isSpace(s[i])) i++;
  const scheme = s.slice(0, i);
  while (isSpace(s[i])) i++;
  if (scheme.toLowerCase() !== "digest") return { status: "not-digest", scheme, opaqueNum: 0 };
  const f: Record<string, string> = {};
  while (i < s.length) {
    while (isSpace(s[i])) i++;
    let key = "";
    while (i < s.length && s[i] !== "=" && s[i] !== "," && !isSpace(s[i])) key += s[i++];
    while (isSpace(s[i])) i++;
    let value = "";
    if (s[i] === "=") {
      i++;
      while (isSpace(s[i])) i++;
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i++];
        }
        if (i < s.length) i++;
      } else {
        while (i < s.length && s[i] !== "," && !isSpace(s[i])) value += s[i++];
      }
    }
    while (i < s.length && s[i] !== ",") i++;
    if (i < s.length) i++;
    const k = key.toLowerCase();
    if (Object.hasOwn(FIELDS, k)) f[FIELDS[k]!] = value;
  }
  const h = { scheme, opaqueNum: 0, ...f } as { -readonly [K in keyof DigestHeader]: DigestHeader[K] };
  const nonce = h.nonce;
  if (h.username === undefined || h.realm === undefined || h.uri === undefined
    || nonce === undefined || nonce.length !== NONCE_LEN || nonce[NONCE_TIME_LEN - 1] !== "="
    || h.response === undefined || h.response.length !== 32
    || (h.qop !== undefined && (h.cnonce === undefined || h.nc === undefined))) {
    return { ...h, status: "invalid" };
  }
  if (h.opaque !== undefined) {
    const n = strtol(h.opaque, 16);
    if (!n.overflow && n.end === h.opaque.length && n.value > 0n && n.value <= BigInt(UINT32_MAX)) h.opaqueNum = Number(n.value);
  }
  return { ...h, status: "valid" };
}

const FIELDS: Readonly<Record<string, keyof DigestHeader>> = {
  username: "username", realm: "realm", nonce: "nonce", uri: "uri", response: "response",
  algorithm: "algorithm", cnonce: "cnonce", opaque: "opaque", qop: "qop", nc: "nc",
};

/** C's strtol (64-bit long): leading space, a sign, `0x` in base 16; `end` is where it stopped. */
export function strtol(s: string, base: 10 | 16): { value: bigint; end: number; overflow: boolean } {
  let i = 0;
  while (isSpace(s[i])) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") neg = s[i++] === "-";
  const digit = (c: string | undefined) => {
    if (c === undefined) return -1;
    const d = parseInt(c, 36);
    return Number.isNaN(d) || d >= base ? -1 : d;
  };
  if (base === 16 && s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && digit(s[i + 2]) >= 0) i += 2;
  const start = i;
  let v = 0n;
  while (digit(s[i]) >= 0) v = v * BigInt(base) + BigInt(digit(s[i++]));
  if (i === start) return { value: 0n, end: 0, overflow: false };
  const max = neg ? 1n << 63n : (1n << 63n) - 1n;
  const overflow = v > max;
  if (overflow) v = max;
  return { value: neg ? -v : v, end: i, overflow };
}

// ---- the uri parameter against the request ----------------------------------------------------

/** apr_uri_t, as apr 1.7 parses a URI reference (null: absent). */
export interface AprUri {
  scheme: string | null;
  hostinfo: string | null;
  hostname: string | null;
  portStr: string | null;
  port: number;
  path: string | null;
  query: string | null;
}

const SCHEME_PORTS: Readonly<Record<string, number>> = {
  acap: 674, ftp: 21, gopher: 70, http: 80, https: 443, imap: 143, ldap: 389, nfs: 2049, nntp: 119,
  pop: 110, prospero: 191, rtsp: 554, sip: 5060, snews: 563, ssh: 22, telnet: 23, tip: 3372, wais: 210, "z39.50r": 210, "z39.50s": 210,
};

const ALPHA = /[A-Za-z]/;
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;

/** apr_uri_parse (apr 1.7): null where it fails (a port that is not a number, an unclosed `[`). */
export function aprUriParse(uri: string): AprUri | null {
  const u: AprUri = { scheme: null, hostinfo: null, hostname: null, portStr: null, port: 0, path: null, query: null };
  const withPath = (from: number): AprUri => {
    let s = from;
    while (s < uri.length && uri[s] !== "?" && uri[s] !== "#") s++;
    if (s !== from) u.path = uri.slice(from, s);
    if (s >= uri.length) return u;
    if (uri[s] === "?") {
      const rest = uri.slice(s + 1);
      const hash = rest.indexOf("#");
      u.query = hash < 0 ? rest : rest.slice(0, hash);
    }
    return u;
  };
  let s: number;
  if (uri[0] === "/") {
    if (uri[1] === "/" && uri[2] !== "/") s = 2;
    else return withPath(0);
  } else {
    s = 0;
    if (ALPHA.test(uri[0] ?? "")) {
      s = 1;
      while (SCHEME_CHAR.test(uri[s] ?? "")) s++;
    }
    if (s !== 0 && uri[s] === ":") {
      u.scheme = uri.slice(0, s);
      s++;
    } else {
      s = 0;
    }
    if (uri[s] !== "/" || uri[s + 1] !== "/") return withPath(s);
    s += 2;
  }
  // The authority.
  const hostStart = s;
  while (s < uri.length && uri[s] !== "/" && uri[s] !== "?" && uri[s] !== "#") s++;
  const end = s;
  u.hostinfo = uri.slice(hostStart, end);
  let host = hostStart;
  const at = u.hostinfo.lastIndexOf("@");
  if (at >= 0) host = hostStart + at + 1;
  let colon: number;
  let v6 = 0;
  if (uri[host] === "[") {
    const close = uri.indexOf("]", host);
    if (close < 0 || close >= end) return null;
    v6 = 1;
    colon = uri[close + 1] === ":" ? close + 1 : -1;
  } else {
    colon = uri.indexOf(":", host);
    if (colon >= end) colon = -1;
  }
  if (colon < 0) {
    u.hostname = uri.slice(host + v6, end - v6);
    return withPath(end);
  }
  u.hostname = uri.slice(host + v6, colon - v6);
  u.portStr = uri.slice(colon + 1, end);
  if (u.portStr !== "") {
    const p = strtol(u.portStr, 10);
    if (p.end !== u.portStr.length) return null;
    // An int stored in an apr_port_t.
    u.port = Number(BigInt.asUintN(16, p.value));
    return withPath(end);
  }
  u.port = u.scheme === null ? 0 : (SCHEME_PORTS[u.scheme.toLowerCase()] ?? 0);
  return withPath(end);
}

/** ap_unescape_url as mod_auth_digest uses it: every valid %XX decoded, a bad escape kept; a %00 ends the (C) string. */
export function unescapeUrl(s: string): string {
  if (!s.includes("%")) return s;
  const out = s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  const nul = out.indexOf("\0");
  return nul < 0 ? out : out.slice(0, nul);
}

/** What the uri check needs to know of the request. */
export interface DigestRequest {
  readonly method: string;
  /** r->unparsed_uri: the request-target as sent. */
  readonly target: string;
  /** r->uri, for log lines. */
  readonly uri: string;
  /** ap_get_server_name and ap_get_server_port for the request (SERVER_NAME, SERVER_PORT). */
  readonly serverName: string;
  readonly serverPort: number;
  /** The Host header's port, which httpd keeps in r->parsed_uri. */
  readonly hostPort?: number;
  /** ap_default_port: 80, or 443 over TLS. */
  readonly defaultPort: number;
  /** AuthDigestEnableQueryStringHack is set (SetEnvIf, BrowserMatch). */
  readonly queryStringHack: boolean;
  /** r->request_time (µs). */
  readonly time: bigint;
}

/** The uri parameter against the request-target: null when they agree, else the status (400) and the logged line. */
export function checkDigestUri(h: DigestHeader, req: DigestRequest, log: DigestLog): 400 | null {
  const duri = h.uri!;
  if (duri === req.target) return null;
  const psd = aprUriParse(req.target) ?? { scheme: null, hostinfo: null, hostname: null, portStr: null, port: 0, path: null, query: null };
  const rHost = psd.hostname ? unescapeUrl(psd.hostname) : req.serverName;
  const rPort = psd.portStr ? psd.port : req.hostPort ?? req.serverPort;
  const rPath = psd.path ? unescapeUrl(psd.path) : psd.path;
  const rQuery = psd.query ? unescapeUrl(psd.query) : psd.query;
  const d = aprUriParse(duri);
  if (d === null) {
    log("error", "auth_digest", `AH01783: invalid uri <${duri}> in Authorization header`);
    return 400;
  }
  const dHost = d.hostname === null ? null : unescapeUrl(d.hostname);
  const dPath = d.path === null ? null : unescapeUrl(d.path);
  let dQuery = d.query === null ? null : unescapeUrl(d.query);
  if (dQuery === null && rQuery !== null && req.queryStringHack) {
    log("info", "auth_digest", `AH01784: applying AuthDigestEnableQueryStringHack to uri <${req.target}>`);
    dQuery = rQuery;
  }
  const mismatch =
    (dHost !== null && dHost !== "" && dHost.toLowerCase() !== rHost.toLowerCase())
    || (d.portStr !== null && d.port !== rPort)
    || (dHost !== null && dHost !== "" && d.portStr === null && rPort !== req.defaultPort)
    || (!(dPath === null && rPath === null) && (dPath === null || rPath === null || dPath !== rPath)
      && !(dPath !== null && rPath === null && psd.hostname && dPath === "*"))
    || (!(dQuery === null && rQuery === null) && (dQuery === null || rQuery === null || dQuery !== rQuery));
  if (!mismatch) return null;
  log("error", "auth_digest", `AH01786: uri mismatch - <${duri}> does not match request-uri <${req.target}>`);
  return 400;
}

// ---- challenges, verification, Authentication-Info --------------------------------------------

const md5 = (s: string) => crypto.createHash("md5").update(Buffer.from(s, "latin1")).digest("hex");

/** Equal-time comparison of the first `n` bytes of two strings (ap_memeq_timingsafe over n). */
function memeq(a: string, b: string, n: number): boolean {
  const ab = Buffer.alloc(n);
  const bb = Buffer.alloc(n);
  ab.write(a.slice(0, n), "latin1");
  bb.write(b.slice(0, n), "latin1");
  return crypto.timingSafeEqual(ab, bb) && a.length >= n && b.length >= n;
}

/** A 401's challenge, or 503 when the client table has no room for the client it needs (note_digest_auth_failure). */
export function digestChallenge(
  state: DigestState,
  settings: DigestSettings,
  realm: string,
  h: DigestHeader,
  staleIn: boolean,
  time: bigint,
  log: DigestLog,
): { status: 401; headers: readonly HeaderPair[] } | { status: 503 } {
  let stale = staleIn;
  let opaque: string | undefined;
  if (h.opaque === undefined) {
    if (settings.ncCheck || settings.nonceLifetime === 0) {
      const key = state.newClient(log);
      if (key === 0) return unallocated(log);
      opaque = key.toString(16);
    }
  } else if (!state.exists(h.opaqueNum, log)) {
    const key = state.newClient(log);
    if (key === 0) return unallocated(log);
    opaque = key.toString(16);
    stale = true;
    state.noteRenewed();
  } else {
    opaque = h.opaque;
  }
  const nonce = state.nonce(time, opaque, realm, settings.nonceLifetime === 0);
  const domain = settings.domains?.length ? `, domain="${settings.domains.join(" ")}"` : "";
  const value = `Digest realm="${realm}", nonce="${nonce}", algorithm=MD5${opaque !== undefined ? `, opaque="${opaque}"` : ""}${domain}${stale ? ", stale=true" : ""}, qop="auth"`;
  return { status: 401, headers: [["WWW-Authenticate", value]] };
}

function unallocated(log: DigestLog): { status: 503 } {
  log("error", "auth_digest", "AH01769: unable to allocate a client entry - failing the request, since this configuration needs one");
  return { status: 503 };
}

/** A request whose answer checked out: what Authentication-Info is made from. */
export interface DigestSuccess {
  readonly ha1: string;
  readonly header: DigestHeader;
  readonly nonceTime: bigint;
}

/**
 * The checks after the providers gave the hash of user:realm:password (`ha1`): qop, the
 * response, the nonce, the nonce-count. "ok", or the result to answer with (a 401's challenge).
 */
export function digestVerify(
  state: DigestState,
  settings: DigestSettings,
  realm: string,
  h: DigestHeader,
  ha1: string,
  req: DigestRequest,
  log: DigestLog,
): { ok: true; success: DigestSuccess } | { ok: false; result: ReturnType<typeof digestChallenge> } {
  const fail = (stale: boolean) => ({ ok: false as const, result: digestChallenge(state, settings, realm, h, stale, req.time, log) });
  const user = h.username!;
  if (h.qop === undefined || h.qop.toLowerCase() !== "auth") {
    log("error", "auth_digest", `AH10560: invalid or missing qop value '${h.qop ?? "(null)"}', RFC 2069 is no longer supported: ${req.uri}`);
    return fail(false);
  }
  const expected = md5(`${ha1}:${h.nonce}:${h.nc}:${h.cnonce}:${h.qop}:${md5(`${req.method}:${h.uri}`)}`);
  if (!memeq(expected, h.response!, 32)) {
    log("error", "auth_digest", `AH01794: user ${user}: password mismatch: ${req.uri}`);
    return fail(false);
  }
  // check_nonce: the hash, then the time.
  const nonce = h.nonce!;
  const timeText = nonce.slice(0, NONCE_TIME_LEN);
  const hash = state.nonceHash(timeText, h.opaque, realm);
  if (!memeq(hash, nonce.slice(NONCE_TIME_LEN), NONCE_HASH_LEN)) {
    log("error", "auth_digest", `AH01776: invalid nonce ${nonce} received - hash is not ${hash}`);
    return fail(true);
  }
  const nonceTime = Buffer.from(timeText, "base64").readBigInt64LE(0);
  const lifetime = BigInt(settings.nonceLifetime) * 1_000_000n;
  const dt = req.time - nonceTime;
  if (lifetime > 0n && dt < 0n) {
    log("error", "auth_digest", `AH01777: invalid nonce ${nonce} received - user attempted time travel`);
    return fail(true);
  }
  if (lifetime > 0n && dt > lifetime) {
    log("info", "auth_digest", `AH01778: user ${user}: nonce expired (${(dt / 1_000_000n).toString()}.00 seconds old - max lifetime ${settings.nonceLifetime}.00) - sending new nonce`);
    return fail(true);
  }
  // check_and_record_nonce.
  if (settings.ncCheck || settings.nonceLifetime === 0) {
    const snc = h.nc!;
    const n = strtol(snc, 16);
    if (n.end < snc.length && !isSpace(snc[n.end])) {
      log("error", "auth_digest", `AH01773: invalid nc ${snc} received - not a number`);
      return fail(false);
    }
    // An unsigned long, as httpd keeps it.
    const nc = BigInt.asUintN(64, n.value);
    const r = state.updateNonce(h.opaqueNum, settings.nonceLifetime === 0, nonceTime, nc);
    if (r.state === "unknown") {
      log("info", "auth_digest", `AH10618: client ${h.opaqueNum} is no longer known - sending new nonce`);
      return fail(true);
    }
    if (r.state === "stale") {
      log("info", "auth_digest", `AH01779: user ${user}: one-time-nonce ${nonce} already used - sending new nonce`);
      return fail(true);
    }
    if (r.state === "bad-count") {
      log("error", "auth_digest", `AH01774: Warning, possible replay attack: nonce-count check failed: ${nc} is not above ${r.tracked} for nonce ${nonce}`);
      return fail(false);
    }
  }
  return { ok: true, success: { ha1, header: h, nonceTime } };
}

/** ap_escape_quotes: backslash every `"` not already escaped. */
export function escapeQuotes(s: string): string {
  return s.replace(/\\(.)|"/g, (m, esc: string | undefined) => (esc !== undefined ? m : '\\"'));
}

/** The Authentication-Info value of a successful request (add_auth_info). */
export function authenticationInfo(state: DigestState, settings: DigestSettings, realm: string, ok: DigestSuccess, time: bigint): string {
  const h = ok.header;
  let nextnonce = "";
  if (settings.nonceLifetime > 0) {
    if (time - ok.nonceTime > BigInt(settings.nonceLifetime - NEXTNONCE_DELTA) * 1_000_000n) {
      nextnonce = `, nextnonce="${state.nonce(time, h.opaque, realm, false)}"`;
    }
  } else if (settings.nonceLifetime === 0 && h.opaqueNum !== 0) {
    nextnonce = `, nextnonce="${state.nonce(0n, h.opaque, realm, true)}"`;
  }
  const rspauth = md5(`${ok.ha1}:${h.nonce}:${h.nc ?? ""}:${h.cnonce ?? ""}:${h.qop ?? ""}:${md5(`:${h.uri}`)}`);
  return `rspauth="${rspauth}"${nextnonce}${h.cnonce !== undefined ? `, cnonce="${escapeQuotes(h.cnonce)}"` : ""}${h.nc !== undefined ? `, nc=${h.nc}` : ""}${h.qop !== undefined ? `, qop=${h.qop}` : ""}`;
}
