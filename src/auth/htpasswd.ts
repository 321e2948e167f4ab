/**
 * AuthUserFile (mod_authn_file) reading and password verification (apr_password_validate).
 *
 * Formats: `{SHA}` (base64 SHA-1), `$apr1$` and `$1$` (MD5-crypt), bcrypt `$2y$`/`$2a$`/`$2b$`
 * (through the `bcryptjs` package, loaded on first use). Everything else Apache on Linux hands
 * to the system crypt(3): traditional DES and glibc's `$5$`/`$6$` are not implemented here and
 * are refused with a logged reason. Plain-text entries are refused too, as Apache on Linux does
 * (htpasswd -p warns "might just not work on this platform": crypt() never equals the plain text).
 *
 * Files are parsed once and re-read when their mtime, size or inode changes; the stat per
 * request is what Apache's per-request open costs, minus the parse.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { NodewsgiError } from "../errors";
import { md5Crypt } from "./md5-crypt";
import { answerFileStep, driveAsync, type FileStep } from "./steps";

export type VerifyOutcome = { ok: true } | { ok: false; reason: string; unsupported?: boolean };

/** Equal-time comparison of two strings' bytes; false (still in constant time per length) on length mismatch. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "latin1");
  const bb = Buffer.from(b, "latin1");
  if (ab.length !== bb.length) {
    crypto.timingSafeEqual(ab, ab);
    return false;
  }
  return crypto.timingSafeEqual(ab, bb);
}

interface BcryptLike {
  compare(password: string, hash: string): Promise<boolean>;
  compareSync(password: string, hash: string): boolean;
}

let bcrypt: BcryptLike | null | undefined;

function loadBcrypt(): BcryptLike | null {
  if (bcrypt === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      bcrypt = require("bcryptjs") as BcryptLike;
    } catch {
      bcrypt = null;
    }
  }
  return bcrypt;
}

/** Which scheme a stored hash uses (for logs and docs). */
export function hashScheme(hash: string): "sha1" | "apr1" | "md5-crypt" | "bcrypt" | "sha-crypt" | "des-crypt" | "plain" {
  if (hash.startsWith("{SHA}")) return "sha1";
  if (hash.startsWith("$apr1$")) return "apr1";
  if (hash.startsWith("$1$")) return "md5-crypt";
  if (/^\$2[aby]\$/.test(hash)) return "bcrypt";
  if (/^\$[56]\$/.test(hash)) return "sha-crypt";
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return "des-crypt";
  return "plain";
}

/** A bcrypt comparison, the one check slow enough to matter: the driver answers it (bcryptjs' compare, or compareSync where nothing can wait) -> boolean. */
export interface BcryptStep {
  readonly op: "bcrypt";
  /** The client's bytes decoded as UTF-8 (bcryptjs hashes the UTF-8 of the string it is given, so valid UTF-8 passwords reach it unchanged). */
  readonly password: string;
  readonly hash: string;
}

/** Check `password` (the raw bytes the client sent) against a stored htpasswd hash, as steps (see ./steps.ts). */
export function* verifySteps(password: Buffer, hash: string): Generator<BcryptStep, VerifyOutcome, unknown> {
  const scheme = hashScheme(hash);
  let ok: boolean;
  switch (scheme) {
    case "sha1":
    case "apr1":
    case "md5-crypt":
      ok = quickHashMatches(scheme, password, hash);
      break;
    case "bcrypt":
      if (!loadBcrypt()) return { ok: false, unsupported: true, reason: "bcrypt hash, but the bcryptjs package is not installed" };
      ok = (yield { op: "bcrypt", password: password.toString("utf8"), hash }) as boolean;
      break;
    default:
      return UNSUPPORTED[scheme];
  }
  return ok ? { ok: true } : { ok: false, reason: "Password Mismatch" };
}

/** bcryptjs' asynchronous compare, which works in slices so that the event loop keeps turning. */
export function answerBcrypt(step: BcryptStep): Promise<boolean> {
  return loadBcrypt()!.compare(step.password, step.hash);
}

/** bcrypt where nothing can wait: blocks the thread for its cost, as httpd's subrequest blocks its worker. */
export function answerBcryptSync(step: BcryptStep): boolean {
  return loadBcrypt()!.compareSync(step.password, step.hash);
}

/** Check `password` against a stored htpasswd hash. Async because bcrypt is deliberately slow and must not block the event loop. */
export function verifyPassword(password: Buffer, hash: string): Promise<VerifyOutcome> {
  return driveAsync(verifySteps(password, hash), answerBcrypt);
}

/** The schemes checked in microseconds. */
function quickHashMatches(scheme: "sha1" | "apr1" | "md5-crypt", password: Buffer, hash: string): boolean {
  if (scheme === "sha1") return constantTimeEqual("{SHA}" + crypto.createHash("sha1").update(password).digest("base64"), hash);
  const magic = scheme === "apr1" ? "$apr1$" : "$1$";
  return constantTimeEqual(md5Crypt(password, magic, hash.slice(magic.length)), hash);
}

const UNSUPPORTED: Readonly<Record<"sha-crypt" | "des-crypt" | "plain", VerifyOutcome>> = {
  "sha-crypt": { ok: false, unsupported: true, reason: "crypt(3) SHA-256/512 ($5$/$6$) hashes are not supported: use htpasswd -B or -m" },
  "des-crypt": { ok: false, unsupported: true, reason: "crypt(3) DES hashes are not supported: use htpasswd -B or -m" },
  plain: { ok: false, unsupported: true, reason: "plain-text passwords are not accepted (as Apache on Linux): use htpasswd -B or -m" },
};

/** Parse htpasswd text: `user:hash` lines, `#` comments and blank lines skipped, first entry for a user wins. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const user = line.slice(0, colon);
    // Apache reads the hash up to the next colon (ap_getword_nulls): later fields are ignored.
    const hash = line.slice(colon + 1).split(":")[0]!;
    if (!users.has(user)) users.set(user, hash);
  }
  return users;
}

/** The lines httpd's get_realm_hash looks at: trimmed, neither blank nor `#` comments. */
export function entryLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    // apr_isspace's whitespace only (a latin-1 NBSP is part of the line).
    const line = raw.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
    if (line && !line.startsWith("#")) out.push(line);
  }
  return out;
}

interface CachedFile {
  mtimeMs: number;
  size: number;
  ino: number;
  users: Map<string, string>;
  /** The file's text until Digest first asks (then `realms` holds what it needs and this is dropped). */
  text: string | null;
  /** `user\0realm` -> hash (htdigest lines), made on Digest's first lookup in this file. */
  realms: Map<string, string> | null;
}

/** ap_getword with `:`: the text up to the next colon, and the rest after every colon there. */
function getword(s: string): [string, string] {
  const i = s.indexOf(":");
  if (i < 0) return [s, ""];
  let j = i;
  while (s[j] === ":") j++;
  return [s.slice(0, i), s.slice(j)];
}

/**
 * mod_authn_file's get_realm_hash reads the file line by line for the first `user:realm:hash`;
 * the same answers from a map made once per file version (a scan per request would let any
 * client cost the event loop the whole file, with a made-up user name).
 */
function realmsOf(entry: CachedFile): Map<string, string> {
  if (entry.realms) return entry.realms;
  const realms = new Map<string, string>();
  for (const line of entryLines(entry.text ?? "")) {
    const [user, rest] = getword(line);
    const [realm, rest2] = getword(rest);
    const key = `${user}\0${realm}`;
    if (!realms.has(key)) realms.set(key, getword(rest2)[0]);
  }
  entry.realms = realms;
  entry.text = null;
  return realms;
}

function openError(file: string, err: unknown): NodewsgiError {
  return new NodewsgiError("AUTH_USERFILE", `Could not open password file: ${file}`, { cause: err });
}

/** AuthUserFile contents, cached per path and re-read when the file changes. */
export class HtpasswdCache {
  private readonly files = new Map<string, CachedFile>();

  /**
   * The stored hash for `user` in `file`, or undefined when the user is absent. Throws
   * NodewsgiError("AUTH_USERFILE") when the file cannot be read (Apache: 500).
   */
  lookup(file: string, user: string): Promise<string | undefined> {
    return driveAsync(this.lookupSteps(file, user), answerFileStep);
  }

  /** The hash of the first `user:realm:hash` line of `file` (htdigest, for Digest), or undefined; throws as lookup does. */
  realmHash(file: string, user: string, realm: string): Promise<string | undefined> {
    return driveAsync(this.realmHashSteps(file, user, realm), answerFileStep);
  }

  /** lookup as steps (./steps.ts), for a sequence that reads the file among other steps. */
  *lookupSteps(file: string, user: string): Generator<FileStep, string | undefined, unknown> {
    return (yield* this.entrySteps(file)).users.get(user);
  }

  /** realmHash as steps. */
  *realmHashSteps(file: string, user: string, realm: string): Generator<FileStep, string | undefined, unknown> {
    return realmsOf(yield* this.entrySteps(file)).get(`${user}\0${realm}`);
  }

  /** The file's parsed entry: a stat, and the text read again only when the file changed. */
  private *entrySteps(file: string): Generator<FileStep, CachedFile, unknown> {
    let st: fs.Stats;
    try {
      st = (yield { op: "stat", path: file }) as fs.Stats;
    } catch (err) {
      this.files.delete(file);
      throw openError(file, err);
    }
    const hit = this.current(file, st);
    if (hit) return hit;
    let text: string;
    try {
      text = (yield { op: "read", path: file }) as string;
    } catch (err) {
      throw openError(file, err);
    }
    return this.store(file, st, text);
  }

  /** The cached entry when the file has not changed since it was read. */
  private current(file: string, st: fs.Stats): CachedFile | undefined {
    const hit = this.files.get(file);
    return hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino ? hit : undefined;
  }

  private store(file: string, st: fs.Stats, text: string): CachedFile {
    const entry: CachedFile = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, users: parseHtpasswd(text), text, realms: null };
    this.files.set(file, entry);
    return entry;
  }
}
