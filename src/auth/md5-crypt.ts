/**
 * The MD5-based crypt used by htpasswd `-m` (`$apr1$`) and by glibc crypt (`$1$`): the same
 * algorithm (Poul-Henning Kamp's md5crypt) with a different magic string. Written from the
 * algorithm's description: an initial digest of password, magic and salt mixed with an
 * alternate digest, 1000 rounds of stretching, then a custom base-64 of the 16 digest bytes.
 */
import * as crypto from "node:crypto";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function md5(...parts: Buffer[]): Buffer {
  const h = crypto.createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest();
}

function to64(value: number, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    out += ITOA64[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/**
 * Hash `password` with `magic` (`$apr1$` or `$1$`) and `salt` (at most 8 characters, up to the
 * first `$`); returns the full `magic salt $ hash` string as htpasswd stores it.
 */
export function md5Crypt(password: Buffer, magic: "$apr1$" | "$1$", salt: string): string {
  const saltBuf = Buffer.from(salt.split("$")[0]!.slice(0, 8), "latin1");
  const magicBuf = Buffer.from(magic, "latin1");
  const alt = md5(password, saltBuf, password);

  const ctx = crypto.createHash("md5");
  ctx.update(password);
  ctx.update(magicBuf);
  ctx.update(saltBuf);
  for (let left = password.length; left > 0; left -= 16) ctx.update(alt.subarray(0, Math.min(16, left)));
  // The odd part of the algorithm: bits of the length pick a NUL byte or the first password byte.
  for (let i = password.length; i > 0; i >>>= 1) {
    ctx.update(i & 1 ? Buffer.alloc(1) : password.subarray(0, 1));
  }
  let final: Buffer = ctx.digest();

  for (let i = 0; i < 1000; i++) {
    const parts: Buffer[] = [];
    parts.push(i & 1 ? password : final);
    if (i % 3) parts.push(saltBuf);
    if (i % 7) parts.push(password);
    parts.push(i & 1 ? final : password);
    final = md5(...parts);
  }

  const f = final;
  const enc =
    to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) +
    to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) +
    to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) +
    to64(f[11]!, 2);
  return `${magic}${saltBuf.toString("latin1")}$${enc}`;
}
