/**
 * mod_authz_core's requirement tree: `Require` lines and `<RequireAny>`/`<RequireAll>`/
 * `<RequireNone>` sections, compiled once from configuration, evaluated per request with
 * Apache's five-valued logic (apply_authz_sections): granted, denied, denied-no-user (a user
 * could change the answer), neutral, error.
 */
import { NodewsgiError } from "../errors";
import { textOf, toByteString } from "../engine/byte-string";
import { IpRule, ipMatches, isLocal, parseIpRule } from "./ip";
import { inDomain } from "./access-compat";
import { limitCovers, unionLimits, type MethodLimit } from "./method-limit";
import { asciiLower, confWords } from "./group-file";
import { parseExpr, type Expr } from "../config/expr";

/**
 * Configuration input: a string is the arguments of one `Require` line (`"valid-user"`,
 * `"not ip 10.0.0.0/8"`); objects are sections. An array is the lines of one context, which
 * Apache treats as an implicit `<RequireAny>`.
 */
export type RequireInput =
  | string
  /** A line inside <Limit>/<LimitExcept>: it applies to those methods only. */
  /**
   * A line with what a string cannot carry: the methods it is limited to (<Limit>/<LimitExcept>),
   * a `Require expr` line's expression as the configuration parsed it (with where it was written).
   */
  | { readonly require: string; readonly limit?: MethodLimit; readonly expr?: Expr }
  | readonly RequireInput[]
  | { readonly any: readonly RequireInput[] }
  | { readonly all: readonly RequireInput[] }
  | { readonly none: readonly RequireInput[] };

export type AuthzStatus = "granted" | "denied" | "denied-no-user" | "neutral" | "error";

type Provider =
  | { kind: "all"; granted: boolean }
  | { kind: "valid-user" }
  | { kind: "user"; users: ReadonlySet<string> }
  | { kind: "ip"; rules: readonly IpRule[] }
  | { kind: "local" }
  | { kind: "host"; domains: readonly string[] }
  | { kind: "method"; methods: ReadonlySet<string> }
  | { kind: "env"; names: readonly string[] }
  /** mod_authz_groupfile: the names ASCII lower-cased, as httpd's apr_table compares them. */
  | { kind: "group"; groups: readonly string[] }
  /** Evaluated by the request's `external` callback (mod_wsgi's wsgi-group). */
  | { kind: "external"; name: string; args: readonly string[] }

  | { kind: "expr"; expr: Expr };

interface Leaf {
  negate: boolean;
  /** The methods it applies to (undefined: all); a section's is its children's union. */
  limit?: MethodLimit;
  provider: Provider;
  text: string;
}
interface Section {
  negate: boolean;
  limit?: MethodLimit;
  op: "and" | "or";
  children: Node[];
  text: string;
}
type Node = Leaf | Section;

/** A compiled requirement; opaque to callers. */
export interface Requirement {
  readonly root: Node;
  /** Only `Require all granted|denied` leaves: every request gets the same verdict. */
  readonly requestIndependent: boolean;
  /** Some `Require host` line: the client's double-reverse name must be looked up first. */
  readonly needsHostName: boolean;
  /** Some `Require group` line: the user's AuthGroupFile groups must be looked up (AuthzRequest.groups). */
  readonly needsGroups: boolean;
}

/** What AuthGroupFile says about the request's user, looked up before `Require group` is evaluated. */
export type GroupMembership =
  | { kind: "groups"; file: string; names: ReadonlySet<string> }
  | { kind: "no-file" }
  | { kind: "unreadable"; file: string; errno: string };

export interface AuthzRequest {
  remoteAddress: string;
  localAddress?: string;
  method?: string;
  /** The authenticated user, once there is one. */
  user?: string;
  /** The client's double-reverse-resolved name (null: none), for `Require host`. */
  hostName?: string | null;
  /** Request environment variables for `Require env` (SetEnvIf and friends). */
  env?: Readonly<Record<string, string | undefined>> | ReadonlyMap<string, string>;
  /** The user's AuthGroupFile groups, for `Require group` (absent: as if no AuthGroupFile). */
  groups?: GroupMembership;
  /** The request path, which group-file log lines name. */
  uri?: string;
  /** Where a provider logs what httpd's does; `errno` is apr's `(N)text`, printed first as httpd does. */
  log?: (level: "error" | "info" | "debug", module: string, message: string, errno?: string) => void;
  /**
   * Providers that live outside this module (`wsgi-group`, src/auth/wsgi-auth-script.ts): called
   * with the provider's name and its line's arguments (the same array object each time for one
   * line) for every line the evaluation reaches. It may throw ProviderPending to be asked again.
   * Without it such a line is denied-no-user without a user, an error with one.
   */
  external?: (name: string, args: readonly string[], r: AuthzRequest) => AuthzStatus;
  /** `Require expr`: the expression's value for this request (and user); null when it cannot be evaluated. */
  expr?: ((expr: Expr, user: string | undefined) => boolean | null) | undefined;
}

/**
 * Thrown by an `external` provider that has to wait for its answer (a hook script): evaluate
 * the requirement again once `ready` settles (evaluateRequireAsync does).
 */
export class ProviderPending {
  constructor(readonly ready: Promise<unknown>) {}
}

function fail(message: string): never {
  throw new NodewsgiError("CONFIG_REQUIRE", message);
}

function compileLine(line: string, parsed?: Expr): Leaf {
  // `Require [not] expr ...`: the rest of the line is one expression, not words.
  const ex = /^\s*(not\s+)?expr\s+([\s\S]*)$/i.exec(line);
  if (ex) {
    let expr: Expr;
    try {
      expr = parsed ?? parseExpr(ex[2]!.trim());
    } catch (e) {
      fail(`Require expr: ${(e as Error).message}`);
    }
    return { negate: ex[1] !== undefined, provider: { kind: "expr", expr }, text: `Require ${line.trim()}` };
  }
  const words = confWords(line);
  let negate = false;
  if (words[0]?.toLowerCase() === "not") {
    negate = true;
    words.shift();
  }
  const name = (words.shift() ?? "").toLowerCase();
  const args = words;
  let provider: Provider;
  switch (name) {
    case "all":
      if (args.length !== 1 || !/^(granted|denied)$/i.test(args[0]!)) fail(`Require all: expected 'granted' or 'denied', got '${args.join(" ")}'`);
      provider = { kind: "all", granted: args[0]!.toLowerCase() === "granted" };
      break;
    case "valid-user":
      provider = { kind: "valid-user" };
      break;
    case "user":
      if (args.length === 0) fail("Require user: no user names given");
      // Compared with the user of the request's credentials: bytes, as the password file's names.
      provider = { kind: "user", users: new Set(args.map(toByteString)) };
      break;
    case "ip":
      if (args.length === 0) fail("Require ip: no addresses given");
      provider = { kind: "ip", rules: args.map(parseIpRule) };
      break;
    case "local":
      provider = { kind: "local" };
      break;
    case "host":
      if (args.length === 0) fail("Require host: no host names given");
      provider = { kind: "host", domains: args };
      break;
    case "method":
      if (args.length === 0) fail("Require method: no methods given");
      provider = { kind: "method", methods: new Set(args.map((m) => m.toUpperCase())) };
      break;
    case "env":
      if (args.length === 0) fail("Require env: no variable names given");
      provider = { kind: "env", names: args };
      break;
    case "group":
      // httpd evaluates the rest of the line as an ap_expr string, then splits it into words.
      if (args.some((a) => /%\{|\$[0-9]/.test(a))) fail(`Require group: expressions (%{...}) and backreferences are not supported: '${args.join(" ")}'`);
      if (args.length === 0) fail("Require group: no group names given");
      provider = { kind: "group", groups: args.map(asciiLower) };
      break;
    case "wsgi-group":
      provider = { kind: "external", name, args };
      break;
    case "":
      fail("Require: no authorization provider given");
    // falls through (fail throws)
    default:
      fail(`Require ${name}: unknown or unsupported authorization provider`);
  }
  return { negate, provider, text: `Require ${line.trim()}` };
}

function compileNode(input: RequireInput, parentOp: "and" | "or" | null): Node {
  if (typeof input === "string" || "require" in input) {
    const leaf = typeof input === "string" ? compileLine(input) : compileLine(input.require, input.expr);
    if (typeof input !== "string" && input.limit) leaf.limit = input.limit;
    if (leaf.negate && parentOp === "or") fail(`negative Require directive has no effect in <RequireAny> or <RequireNone>: ${leaf.text}`);
    return leaf;
  }
  let op: "and" | "or";
  let negate = false;
  let items: readonly RequireInput[];
  let text: string;
  if (Array.isArray(input)) {
    op = "or";
    items = input;
    text = "<Directory>, <Location>, or similar";
  } else if ("all" in input) {
    op = "and";
    items = input.all;
    text = "<RequireAll>";
  } else if ("any" in input) {
    op = "or";
    items = input.any;
    text = "<RequireAny>";
  } else {
    op = "or";
    negate = true;
    items = (input as { none: readonly RequireInput[] }).none;
    text = "<RequireNone>";
  }
  if (negate && parentOp === "or") fail("negative <RequireNone> has no effect in <RequireAny> or <RequireNone>");
  if (items.length === 0) fail(`${text} contains no authorization directives`);
  const children = items.map((i) => compileNode(i, op));
  const limit = children.reduce<MethodLimit | undefined>((u, c, i) => (i === 0 ? c.limit : unionLimits(u, c.limit)), undefined);
  const section: Section = { negate, op, children, text, ...(limit ? { limit } : {}) };
  // authz_core_check_section: after De Morgan lifts a negated child section of the other
  // operator into this one (signs flipped), some child must be positive.
  const effective = section.children.flatMap((c) =>
    "op" in c && c.negate && c.op !== op ? c.children.map((g) => !g.negate) : [c.negate],
  );
  if (effective.every((neg) => neg)) fail(`${text} directive contains only negative authorization directives`);
  return section;
}

/** Compile configuration into a Requirement. Throws NodewsgiError("CONFIG_REQUIRE"/"CONFIG_REQUIRE_IP"). */
export function compileRequire(input: RequireInput): Requirement {
  const root = compileNode(input, null);
  const constant = (node: Node): boolean => node.limit === undefined && ("op" in node ? node.children.every(constant) : node.provider.kind === "all");
  const host = (node: Node): boolean => ("op" in node ? node.children.some(host) : node.provider.kind === "host");
  const group = (node: Node): boolean => ("op" in node ? node.children.some(group) : node.provider.kind === "group");
  return { root, requestIndependent: constant(root), needsHostName: host(root), needsGroups: group(root) };
}

function checkProvider(p: Provider, r: AuthzRequest): AuthzStatus {
  switch (p.kind) {
    case "all":
      return p.granted ? "granted" : "denied";
    case "valid-user":
      return r.user !== undefined ? "granted" : "denied-no-user";
    case "user":
      if (r.user === undefined) return "denied-no-user";
      return p.users.has(r.user) ? "granted" : "denied";
    case "ip":
      return p.rules.some((rule) => ipMatches(rule, r.remoteAddress)) ? "granted" : "denied";
    case "local":
      return isLocal(r.remoteAddress, r.localAddress) ? "granted" : "denied";
    case "host":
      // mod_authz_host: whole labels of the double-reverse name; no name denies.
      return r.hostName && p.domains.some((d) => inDomain(d, r.hostName!)) ? "granted" : "denied";
    case "method":
      return r.method !== undefined && p.methods.has(r.method === "HEAD" ? "GET" : r.method) ? "granted" : "denied";
    case "env":
      return p.names.some((n) => envValue(r.env, n) !== undefined) ? "granted" : "denied";
    case "group":
      return checkGroup(p.groups, r);
    case "external":
      if (r.external) return r.external(p.name, p.args, r);
      return r.user === undefined ? "denied-no-user" : "error";
    case "expr": {
      // mod_authz_core: a false expression that reads REMOTE_USER is "denied, no user" (authentication may help).
      const v = r.expr?.(p.expr, r.user) ?? null;
      if (v === null) return "error";
      return v ? "granted" : p.expr.readsUser ? "denied-no-user" : "denied";
    }
  }
}

/** mod_authz_groupfile's group_check_authorization, with its log lines. */
function checkGroup(groups: readonly string[], r: AuthzRequest): AuthzStatus {
  if (r.user === undefined) return "denied-no-user";
  const m = r.groups ?? { kind: "no-file" };
  if (m.kind === "no-file") {
    r.log?.("error", "authz_groupfile", "AH01664: No group file was specified in the configuration");
    return "denied";
  }
  if (m.kind === "unreadable") {
    r.log?.("error", "authz_groupfile", `AH01665: Could not open group file: ${m.file}`, m.errno);
    return "denied";
  }
  if (m.names.size === 0) {
    r.log?.("info", "authz_groupfile", `AH01666: Authorization of user ${textOf(r.user)} to access ${textOf(r.uri ?? "")} failed, reason: user doesn't appear in group file (${m.file}).`);
    return "denied";
  }
  if (groups.some((g) => m.names.has(g))) return "granted";
  r.log?.("debug", "authz_groupfile", `AH01667: Authorization of user ${textOf(r.user)} to access ${textOf(r.uri ?? "")} failed, reason: user is not part of the 'require'ed group(s).`);
  return "denied";
}

/**
 * `answers`: what lines said earlier in this evaluation (evaluateRequireAsync asks again after a
 * provider had to wait; a line must not run, or log, twice).
 */
function apply(node: Node, r: AuthzRequest, parentOp: "and" | "or", answers?: Map<Leaf, AuthzStatus>): AuthzStatus {
  // apply_authz_sections: a node limited to other methods grants within AND, is neutral within OR.
  if (node.limit !== undefined && !limitCovers(node.limit, r.method)) return parentOp === "and" ? "granted" : "neutral";
  let result: AuthzStatus;
  if (!("op" in node)) {
    const known = answers?.get(node);
    if (known !== undefined) result = known;
    else {
      result = checkProvider(node.provider, r);
      answers?.set(node, result);
    }
  } else {
    result = "neutral";
    for (const child of node.children) {
      const c = apply(child, r, node.op, answers);
      if (c === "error") return "error";
      if (c === "neutral") continue;
      if (node.op === "and") {
        if (c === "denied") {
          result = c;
          break;
        }
        if ((c === "denied-no-user" && result !== "denied") || result === "neutral") result = c;
      } else {
        if (c === "granted") {
          result = c;
          break;
        }
        if ((c === "denied-no-user" && result === "denied") || result === "neutral") result = c;
      }
    }
  }
  if (node.negate) {
    // A negated denial is only neutral: not being refused is no reason to grant.
    if (result === "granted") result = "denied";
    else if (result === "denied" || result === "denied-no-user") result = "neutral";
  }
  return result;
}

/** A `Require env` variable: the request's variables come as a Map from the map phase. */
function envValue(env: AuthzRequest["env"], name: string): string | undefined {
  if (env === undefined) return undefined;
  return env instanceof Map ? env.get(name) : (env as Readonly<Record<string, string | undefined>>)[name];
}

/** Only `Require all granted|denied` leaves: every request gets the same verdict (worked out when compiled). */
export function isRequestIndependent(req: Requirement): boolean {
  return req.requestIndependent;
}

/** Evaluate a requirement for a request (and its user, once authenticated). */
export function evaluateRequire(req: Requirement, r: AuthzRequest): AuthzStatus {
  return apply(req.root, r, "and");
}

/**
 * evaluateRequire for requirements with `external` providers that may have to wait: each time
 * one throws ProviderPending, its answer is awaited and the tree evaluated again (the answers
 * it has are kept by the provider, every other line's answer here), so a provider is asked only
 * for the lines the evaluation reaches, in Apache's order, and no line runs or logs twice.
 */
export async function evaluateRequireAsync(req: Requirement, r: AuthzRequest): Promise<AuthzStatus> {
  // Each round answers at least one more line; a provider that keeps asking is an error.
  const answers = new Map<Leaf, AuthzStatus>();
  for (let round = 0; round < 256; round++) {
    try {
      return apply(req.root, r, "and", answers);
    } catch (err) {
      if (!(err instanceof ProviderPending)) throw err;
      await err.ready;
    }
  }
  return "error";
}
