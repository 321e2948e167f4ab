"use strict";
/**
 * An HTTP Digest client for tests (RFC 7616 with MD5, qop=auth, as mod_auth_digest speaks it):
 * read a `WWW-Authenticate: Digest ...` challenge, compute the `Authorization` answer with
 * node's crypto, check the server's `Authentication-Info`. Every part of the answer can be
 * overridden or left out (`omit`), so tests can send what broken or hostile clients send.
 *
 * Strings are byte strings (latin1): user names, realms and passwords are hashed as their bytes,
 * as httpd hashes them. Use `utf8()` for text meant as UTF-8.
 */
const crypto = require("node:crypto");

const md5 = (s) => crypto.createHash("md5").update(Buffer.from(s, "latin1")).digest("hex");

/** MD5(user:realm:password): an htdigest line's hash, and what get_realm_hash returns. */
const ha1 = (user, realm, password) => md5(`${user}:${realm}:${password}`);

/** `user:realm:hash`, as Apache's htdigest writes it. */
const htdigestLine = (user, realm, password) => `${user}:${realm}:${ha1(user, realm, password)}`;

/** A text's UTF-8 bytes as a byte string. */
const utf8 = (s) => Buffer.from(s, "utf8").toString("latin1");

/**
 * The parameters of a challenge (or of an Authorization or Authentication-Info value):
 * { scheme, realm, nonce, ... } with quoted values unquoted (`\x` -> `x`), names lower-case.
 * `stale` is kept as sent ("true"). Throws on a value that is not Digest when `scheme` is asked for.
 */
function parseParams(value) {
  const out = {};
  let s = String(value).trim();
  const m = /^([A-Za-z]+)\s+/.exec(s);
  if (m && !/=/.test(m[1])) {
    out.scheme = m[1];
    s = s.slice(m[0].length);
  }
  const re = /\s*([^=,\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  let g;
  while (re.lastIndex < s.length && (g = re.exec(s)) !== null) {
    out[g[1].toLowerCase()] = g[2] !== undefined ? g[2].replace(/\\(.)/g, "$1") : g[3];
  }
  return out;
}

/** The challenge of a response's headers (node's lower-case object, or a raw header value). */
function challengeOf(headersOrValue) {
  const v = typeof headersOrValue === "string" ? headersOrValue : headersOrValue["www-authenticate"];
  if (!v) throw new Error("no WWW-Authenticate header");
  const c = parseParams(v);
  if ((c.scheme ?? "").toLowerCase() !== "digest") throw new Error(`not a Digest challenge: ${v}`);
  return c;
}

const quote = (s) => `"${String(s).replace(/(["\\])/g, "\\$1")}"`;

/**
 * An `Authorization: Digest ...` value answering `challenge` for `method` `uri`.
 * opts: user, password (or ha1), nc (number, default 1), cnonce, qop ("auth"; null: none,
 * the RFC 2069 form), uri (default: the request's), realm/nonce/opaque/algorithm (default: the
 * challenge's), response (override the computed one), omit (names of parameters to leave out),
 * extra (raw text appended).
 */
function authorization(challenge, method, uri, opts = {}) {
  const realm = opts.realm ?? challenge.realm;
  const nonce = opts.nonce ?? challenge.nonce;
  const qop = opts.qop === undefined ? "auth" : opts.qop;
  const nc = typeof opts.nc === "string" ? opts.nc : (opts.nc ?? 1).toString(16).padStart(8, "0");
  const cnonce = opts.cnonce ?? "0a4f113b";
  const hashA1 = opts.ha1 ?? ha1(opts.user, opts.hashRealm ?? realm, opts.password);
  const hashA2 = md5(`${opts.hashMethod ?? method}:${opts.hashUri ?? uri}`);
  const response = opts.response ?? (qop === null ? md5(`${hashA1}:${nonce}:${hashA2}`) : md5(`${hashA1}:${nonce}:${nc}:${cnonce}:${qop}:${hashA2}`));
  const params = [
    ["username", quote(opts.user)],
    ["realm", quote(realm)],
    ["nonce", quote(nonce)],
    ["uri", quote(opts.uri ?? uri)],
    ["algorithm", opts.algorithm ?? challenge.algorithm ?? "MD5"],
    ["response", quote(response)],
  ];
  const opaque = opts.opaque === undefined ? challenge.opaque : opts.opaque;
  if (opaque !== undefined && opaque !== null) params.push(["opaque", quote(opaque)]);
  if (qop !== null) params.push(["qop", qop], ["nc", nc], ["cnonce", quote(cnonce)]);
  const omit = new Set(opts.omit ?? []);
  const text = params.filter(([k]) => !omit.has(k)).map(([k, v]) => `${k}=${v}`).join(", ");
  return `Digest ${text}${opts.extra ?? ""}`;
}

/** The rspauth an `Authentication-Info` header must carry for an answer (A2 without the method). */
function rspauth({ ha1: hashA1, user, realm, password, nonce, nc = 1, cnonce = "0a4f113b", qop = "auth", uri }) {
  const a1 = hashA1 ?? ha1(user, realm, password);
  const ncHex = typeof nc === "string" ? nc : nc.toString(16).padStart(8, "0");
  return md5(`${a1}:${nonce}:${ncHex}:${cnonce}:${qop}:${md5(`:${uri}`)}`);
}

/** mod_auth_digest's nonce: base64 of the 8-byte time (microseconds, little-endian) and 40 hex digits. */
const NONCE_SHAPE = /^[A-Za-z0-9+/]{11}=[0-9a-f]{40}$/;

/** The time a well-formed nonce carries, in microseconds (a BigInt). */
function nonceTime(nonce) {
  return Buffer.from(nonce.slice(0, 12), "base64").readBigInt64LE(0);
}

/** A nonce of the right shape that no server issued: its hash part is wrong. */
function forgedNonce(timeMicros = BigInt(Date.now()) * 1000n) {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(timeMicros);
  return b.toString("base64") + "0".repeat(40);
}

module.exports = { md5, ha1, htdigestLine, utf8, parseParams, challengeOf, authorization, rspauth, NONCE_SHAPE, nonceTime, forgedNonce };
