/** Small argument parsers shared by the directive table; each throws a DirectiveProblem. */
import * as net from "node:net";
import { badValue } from "./errors";

export function parseFlag(s: string, what = "argument"): boolean {
  const v = s.toLowerCase();
  if (v === "on") return true;
  if (v === "off") return false;
  throw badValue(`${what} must be On or Off, got '${s}'`);
}

export function parseInteger(s: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[+-]?\d+$/.test(s)) throw badValue(`${what} must be an integer, got '${s}'`);
  const n = Number(s);
  if (n < min || n > max) {
    throw badValue(`${what} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}, got ${s}`);
  }
  return n;
}

export function parseNumber(s: string, what: string, min = 0): number {
  if (!/^\d+(\.\d+)?$/.test(s)) throw badValue(`${what} must be a number, got '${s}'`);
  const n = Number(s);
  if (n < min) throw badValue(`${what} must be at least ${min}, got ${s}`);
  return n;
}

/** Case-insensitive choice; returns the canonical spelling from `choices`. */
export function parseChoice<T extends string>(s: string, choices: readonly T[], what = "argument"): T {
  const hit = choices.find((c) => c.toLowerCase() === s.toLowerCase());
  if (!hit) throw badValue(`${what} must be one of ${choices.join(", ")}; got '${s}'`);
  return hit;
}

/** An address for Require ip / WSGITrustedProxies: IPv4 (also partial: `10.1`), IPv6, CIDR or netmask. */
export function isAddressSpec(s: string, allowPartial: boolean): boolean {
  const [addr, mask, ...more] = s.split("/");
  if (more.length || !addr) return false;
  let family = net.isIP(addr);
  if (!family && allowPartial && mask === undefined && /^\d{1,3}(\.\d{1,3}){0,3}\.?$/.test(addr)) {
    family = addr.replace(/\.$/, "").split(".").every((o) => Number(o) <= 255) ? 4 : 0;
  }
  if (!family) return false;
  if (mask === undefined) return true;
  if (/^\d+$/.test(mask)) return Number(mask) <= (family === 4 ? 32 : 128);
  return family === 4 && net.isIPv4(mask);
}

/** A `%{...}` group expression or a literal name, as WSGIProcessGroup/WSGIApplicationGroup take. */
export function checkGroupExpression(value: string, what: string): void {
  if (!value.includes("%{")) return;
  if (/^%\{(GLOBAL|RESOURCE|SERVER|HOST)\}$/.test(value) || /^%\{ENV:[^}]+\}$/.test(value)) return;
  throw badValue(`${what} '${value}' is not valid: use a name, %{GLOBAL}, %{RESOURCE}, %{SERVER}, %{HOST} or %{ENV:variable}`);
}

/** Levenshtein distance, case-insensitive, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
