/**
 * NODE_OPTIONS for a daemon process that starts as root and drops privileges itself (user=,
 * supplementary-groups=): Node applies NODE_OPTIONS when it starts, before the child's main can
 * switch user, so a `--require` or `--import` there would run as root, and resolved from where
 * the process starts. Such a process gets NODE_OPTIONS with only the options known not to load
 * code or open a debugger (heap and stack sizes, warnings, TLS and DNS settings, ...); the
 * others are dropped, with a notice naming them once per group.
 */

/** Options kept (their `--name` before any `=`): none loads code, reads a module or listens. */
const SAFE = new Set([
  "--max-old-space-size",
  "--max-semi-space-size",
  "--max-http-header-size",
  "--stack-trace-limit",
  "--jitless",
  "--disallow-code-generation-from-strings",
  "--abort-on-uncaught-exception",
  "--enable-source-maps",
  "--trace-warnings",
  "--trace-deprecation",
  "--trace-uncaught",
  "--trace-exit",
  "--trace-sigint",
  "--throw-deprecation",
  "--pending-deprecation",
  "--no-deprecation",
  "--no-warnings",
  "--unhandled-rejections",
  "--dns-result-order",
  "--zero-fill-buffers",
  "--disable-proto",
  "--frozen-intrinsics",
  "--use-largepages",
  "--tls-min-v1.0",
  "--tls-min-v1.1",
  "--tls-min-v1.2",
  "--tls-min-v1.3",
  "--tls-max-v1.2",
  "--tls-max-v1.3",
  "--tls-cipher-list",
  "--use-openssl-ca",
  "--use-bundled-ca",
  "--force-fips",
  "--enable-fips",
  "--title",
  "--v8-pool-size",
  "--huge-max-old-generation-size",
  "--secure-heap",
  "--secure-heap-min",
]);

/** Kept options Node lets take their value as the next word (`--title foo`); V8's need `=`. */
const TAKES_VALUE = new Set([
  "--max-http-header-size",
  "--unhandled-rejections",
  "--dns-result-order",
  "--disable-proto",
  "--use-largepages",
  "--tls-cipher-list",
  "--title",
  "--v8-pool-size",
  "--secure-heap",
  "--secure-heap-min",
]);

/**
 * NODE_OPTIONS split as Node splits it: on spaces, with double quotes grouping and a backslash
 * escaping the next character inside them.
 */
export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      if (ch === "\\" && i + 1 < value.length) cur += value[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inToken = true;
    } else if (ch === " " || ch === "\t" || ch === "\n") {
      if (inToken) out.push(cur);
      cur = "";
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/** Joined back so that splitNodeOptions gives the same tokens. */
function joinNodeOptions(tokens: readonly string[]): string {
  return tokens.map((t) => (/[\s"\\]/.test(t) || t === "" ? `"${t.replace(/["\\]/g, "\\$&")}"` : t)).join(" ");
}

/**
 * The options of `value` a process that drops privileges may start with, and those dropped (an
 * option not in SAFE, with its value when that is the next token).
 */
export function privilegedNodeOptions(value: string): { kept: string; dropped: string[] } {
  const tokens = splitNodeOptions(value);
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const eq = t.indexOf("=");
    // Node reads `_` in an option's name as `-` (`--max_old_space_size=100`).
    const name = (eq >= 0 ? t.slice(0, eq) : t).replace(/_/g, "-");
    if (SAFE.has(name)) {
      // Written back with its value joined, so the value can never be read as an option.
      if (eq < 0 && TAKES_VALUE.has(name) && i + 1 < tokens.length) kept.push(`${name}=${tokens[++i]}`);
      else kept.push(eq >= 0 ? name + t.slice(eq) : name);
      continue;
    }
    // `-r x`, `--require x`: the value goes too (a kept option never stands apart from its value).
    const next = tokens[i + 1];
    if (!t.includes("=") && next !== undefined && !next.startsWith("-")) {
      dropped.push(`${t} ${next}`);
      i++;
    } else dropped.push(t);
  }
  return { kept: joinNodeOptions(kept), dropped };
}
