/**
 * mod_negotiation as the map phase runs it: MultiViews' choice for a missing file (a subrequest
 * for the variant) and the type-map handler (an internal redirect to the variant, or an inline
 * `Body:` variant), with what they read of the request and the errors they answer. The
 * negotiation itself (variants, quality values, the choice) is ./negotiate.ts.
 */
import * as path from "node:path";
import * as fs from "node:fs";
import type { DirSettings } from "../config/model";
import { fsPath, textOf } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import { requestLogPrefix } from "../log/request-id";
import type { HeaderPair } from "../http/types";
import { mergedHeaderValue } from "../http/header-values";
import { httpDate } from "../static/conditional";
import { bad, type MapResult } from "./map-result";
import { negotiate, negotiateTypeMap, type Negotiation, type NegotiationRequest } from "./negotiate";
import type { RequestState } from "./request-state";
import { escapeUri } from "./uri-escape";
import type { WalkResult } from "./walk";

/** The variant negotiation chose, served from its URL-path (`url` may carry a query). */
export interface VariantRedirect {
  readonly kind: "variant";
  readonly url: string;
}

/**
 * MultiViews for a file that does not exist: mod_negotiation's choice among `name.*` in its
 * directory. Null when there are no variants; else an error (300, 406, a type map that cannot
 * be read) or the chosen variant's URL-path, which the mapper looks up as a subrequest.
 */
export function multiViews(state: RequestState, walk: WalkResult, settings: DirSettings, uri: string, query: string | null, log: ErrorLog): MapResult | VariantRedirect | null {
  const n = negotiate(walk.filename, settings, negotiationRequest(state, query, walk.pathInfo));
  // Variants were found: the answer depends on the request's Accept* headers.
  if (n.kind !== "none") state.plain = false;
  if (n.problem !== undefined) logProblem(log, state, n.problem);
  if (n.kind === "list" || n.kind === "failed") return negotiationError(n, walk.filename, settings);
  if (n.kind !== "found") return null;
  state.negotiated = { headers: n.headers, dirStat: n.dirStat };
  const found = n.name;
  return { kind: "variant", url: uri.slice(0, uri.length - walk.pathInfo.length - path.basename(walk.filename).length) + found + walk.pathInfo };
}

/**
 * mod_negotiation's handler for a type map: the variant it chooses is served by an internal
 * redirect to its URI (beside the map's URL, with the path info and query: the mapper makes it),
 * carrying the negotiation headers; an inline `Body:` variant is sent from the map.
 */
export function typeMap(state: RequestState, walk: WalkResult, settings: DirSettings, options: ReadonlySet<string>, uri: string, query: string | null, log: ErrorLog): MapResult | VariantRedirect {
  state.plain = false;
  const neg = negotiationRequest(state, query, walk.pathInfo);
  let n = negotiateTypeMap(walk.filename, settings, neg);
  if (n.problem !== undefined) logProblem(log, state, n.problem);
  if (n.kind === "list" || n.kind === "failed") return negotiationError(n, walk.filename, settings);
  if (n.kind !== "found") return bad(404, `no variants in ${walk.filename}`, settings);
  if (n.transparent && n.variant.body === undefined && variantNegotiates(path.join(path.dirname(walk.filename), n.name), settings, options, neg)) {
    return { kind: "error", status: 506, settings };
  }
  // A choice is not for HTTP/1.0 caches (unless CacheNegotiatedDocs): Expires now (r->no_cache), kept through the redirect.
  if (state.req.protocol === "HTTP/1.0" && settings.cacheNegotiatedDocs?.value !== true) {
    n = { ...n, headers: [...n.headers, ["Expires", httpDate(Math.floor(Date.now() / 1000))]] };
  }
  const v = n.variant;
  if (v.body !== undefined) {
    const entity: HeaderPair[] = [];
    if (v.type) entity.push(["Content-Type", v.charset ? `${v.type}; charset=${v.charset}` : v.type]);
    if (v.languages.length > 0) entity.push(["Content-Language", v.languages.join(",")]);
    if (v.encoding) entity.push(["Content-Encoding", v.encoding]);
    return { kind: "inline", file: walk.filename, body: v.body, entity, headers: n.headers, settings, env: state.env };
  }
  state.negotiated = { headers: n.headers, dirStat: n.dirStat, typeMap: true };
  const mapUri = uri.slice(0, uri.length - walk.pathInfo.length);
  const udir = escapeUri(mapUri.slice(0, mapUri.lastIndexOf("/") + 1));
  return { kind: "variant", url: udir + n.name + walk.pathInfo + (query !== null ? `?${query}` : "") };
}

/** A type map's syntax error that did not stop the negotiation: httpd logs it on every request. */
function logProblem(log: ErrorLog, state: RequestState, line: string): void {
  log.log("error", "negotiation", `${requestLogPrefix(state.req)}${textOf(line)}`);
}

/**
 * setup_choice_response's check on a transparent type map's choice (a neighbour: the map's
 * settings are its own): a variant that is a type map itself, or that MultiViews would
 * negotiate, is a configuration error, 506 Variant Also Negotiates. "A type map itself" is by
 * handler only (SetHandler/AddHandler type-map), not by the application/x-type-map content
 * type: httpd compares the subrequest's r->handler, which a content type becomes only when
 * the handler is invoked.
 */
function variantNegotiates(file: string, settings: DirSettings, options: ReadonlySet<string>, req: NegotiationRequest): boolean {
  const set = settings.handler?.value;
  if (set !== undefined && set !== "none") {
    if (set === "type-map") return true;
  } else if (path.basename(file).split(".").slice(1).some((e) => settings.addHandlers?.get(e.toLowerCase())?.value === "type-map")) {
    return true;
  }
  if (!options.has("MultiViews") || fs.existsSync(fsPath(file))) return false;
  return negotiate(file, settings, { ...req, pathInfo: "" }).kind !== "none";
}

/** What mod_negotiation reads of a request. */
function negotiationRequest(state: RequestState, query: string | null, pathInfo: string): NegotiationRequest {
  // httpd has merged repeated request fields (`Accept: a` twice is `a, a`) by then.
  const h = (name: string) => mergedHeaderValue(state.req.headers, name);
  return {
    method: state.req.method,
    accept: h("accept"), acceptLanguage: h("accept-language"), acceptCharset: h("accept-charset"), acceptEncoding: h("accept-encoding"),
    negotiate: h("negotiate"), userAgent: h("user-agent"),
    hasQuery: query !== null, pathInfo, env: state.env,
  };
}

/** 406 or 300 with the variant list, or a type map that cannot be read. */
function negotiationError(n: Extract<Negotiation, { kind: "list" | "failed" }>, file: string, settings: DirSettings): MapResult {
  if (n.kind === "failed") return { kind: "error", status: n.status, reason: n.reason, reasonModule: "negotiation", file, settings };
  const reason = n.status === 406 ? `AH00690: no acceptable variant: ${file}` : undefined;
  return { kind: "error", status: n.status, headers: n.headers, variantList: n.variantList, settings, ...(reason ? { reason, reasonModule: "negotiation" } : {}) };
}
