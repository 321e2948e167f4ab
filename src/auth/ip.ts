/**
 * `Require ip` address matching (apr_ipsubnet_create / apr_ipsubnet_test): full addresses,
 * CIDR (`10.0.0.0/8`, `2001:db8::/32`), dotted netmasks (`10.0.0.0/255.0.0.0`) and Apache's
 * partial addresses (`10.1` = 10.1.0.0/16). IPv4 rules also match IPv4-mapped IPv6 clients
 * (`::ffff:10.1.2.3`), which is how a dual-stack listener reports them.
 */
import * as net from "node:net";
import { NodewsgiError } from "../errors";

export interface IpRule {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly mask: bigint;
}

function v4ToBig(addr: string): bigint {
  return addr.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(addr: string): bigint {
  let a = addr;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (m) {
    const v = v4ToBig(m[2]!);
    a = `${m[1]}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = a.includes("::") ? a.split("::") : [a, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function prefixMask(bits: number, width: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return bits === 0 ? 0n : (all >> BigInt(width - bits)) << BigInt(width - bits);
}

/** Parse one `Require ip` argument. Throws NodewsgiError("CONFIG_REQUIRE_IP") when malformed. */
export function parseIpRule(spec: string): IpRule {
  const bad = () => new NodewsgiError("CONFIG_REQUIRE_IP", `Require ip: '${spec}' is not a valid address or network`);
  const [addr, maskPart, extra] = spec.split("/");
  if (!addr || extra !== undefined) throw bad();
  const zoneless = addr.replace(/%.*$/, "");
  if (net.isIPv6(zoneless)) {
    const bits = maskPart === undefined ? 128 : Number(maskPart);
    if (!/^\d+$/.test(maskPart ?? "128") || bits > 128) throw bad();
    const mask = prefixMask(bits, 128);
    return { family: 6, network: v6ToBig(zoneless) & mask, mask };
  }
  let address: bigint;
  let bits: number;
  if (net.isIPv4(addr)) {
    address = v4ToBig(addr);
    bits = 32;
  } else if (/^\d{1,3}(\.\d{1,3}){0,2}\.?$/.test(addr) && maskPart === undefined) {
    // Partial address: each given octet is significant.
    const octets = addr.replace(/\.$/, "").split(".").map(Number);
    if (octets.some((o) => o > 255)) throw bad();
    address = v4ToBig([...octets, 0, 0, 0, 0].slice(0, 4).join("."));
    bits = octets.length * 8;
  } else throw bad();
  let mask = prefixMask(bits, 32);
  if (maskPart !== undefined) {
    if (/^\d+$/.test(maskPart)) {
      if (Number(maskPart) > 32) throw bad();
      mask = prefixMask(Number(maskPart), 32);
    } else if (net.isIPv4(maskPart)) {
      mask = v4ToBig(maskPart);
    } else throw bad();
  }
  return { family: 4, network: address & mask, mask };
}

/** Does the client address match the rule? Unparseable addresses match nothing. */
export function ipMatches(rule: IpRule, remoteAddress: string): boolean {
  let addr = remoteAddress.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped && rule.family === 4) addr = mapped[1]!;
  if (rule.family === 4) return net.isIPv4(addr) && (v4ToBig(addr) & rule.mask) === rule.network;
  if (net.isIPv6(addr)) return (v6ToBig(addr) & rule.mask) === rule.network;
  // An IPv4 client against an IPv6 rule: compare as its mapped form.
  return net.isIPv4(addr) && ((v6ToBig(`::ffff:${addr}`) & rule.mask) === rule.network);
}

/** `Require local`: loopback, or the client connected from the server's own address. */
export function isLocal(remoteAddress: string, localAddress?: string): boolean {
  const loop4 = parseIpRule("127.0.0.0/8");
  const loop6 = parseIpRule("::1");
  return ipMatches(loop4, remoteAddress) || ipMatches(loop6, remoteAddress) ||
    (localAddress !== undefined && localAddress === remoteAddress);
}
