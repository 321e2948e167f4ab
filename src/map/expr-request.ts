/**
 * What expressions and rewrite conditions read of a request: the ExprRequest an ap_expr
 * (`<If>`, `Require expr`, SetEnvIfExpr, `Header expr=`, Redirect's expression) is evaluated
 * against, with httpd's variables as they stand after the location walk, and mod_rewrite's
 * server variables.
 */
import { headerValue } from "../static/serve-file";
import type { ExprRequest } from "../config/expr";
import { toByteString } from "../engine/byte-string";
import { mergedHeaderValue } from "../http/header-values";
import { timeVariable } from "./expr-context";
import type { Lookups } from "./lookups";
import type { RequestState } from "./request-state";
import type { Located } from "./route-cache";

/** What an ap_expr reads of this request, as httpd's variables and functions give it after the location walk. */
export function exprRequest(state: RequestState, loc: Located | undefined, uri: string, query: string | null, lookups: Lookups): ExprRequest {
  const req = state.req;
  // Before the request was located (a server-context redirect, say) there is no file yet.
  const walk = loc?.walk ?? { filename: "", pathInfo: "" };
  const translated = loc?.translated ?? { contextPrefix: "", contextDocumentRoot: state.tables.documentRoot, scriptAlias: null };
  return {
    remoteAddress: req.remoteAddress,
    // httpd has merged repeated request fields into one value (`a, b`) by then.
    header: (name) => mergedHeaderValue(req.headers, name.toLowerCase()),
    reqenv: (name) => state.env.get(name),
    // httpd's Vary fixup drops names already there, whatever their case.
    vary: (name) => {
      const lower = name.toLowerCase();
      if (!state.exprVary?.some((v) => v.toLowerCase() === lower)) (state.exprVary ??= []).push(name);
    },
    lookupUri: (u) => lookups.uri(state, u, uri),
    lookupFile: (file) => lookups.file(state, uri, file),
    variable: (name) => {
      switch (name) {
        case "REQUEST_FILENAME":
        case "SCRIPT_FILENAME":
          return walk.filename;
        case "PATH_INFO":
          return walk.pathInfo;
        case "DOCUMENT_URI":
          return state.env.get("DOCUMENT_URI") ?? uri;
        // mod_wsgi sets no context for its aliases before its handler runs; mod_alias's Alias does.
        case "CONTEXT_PREFIX":
          return translated.scriptAlias ? "" : translated.contextPrefix;
        case "CONTEXT_DOCUMENT_ROOT":
          return translated.scriptAlias ? state.tables.documentRoot : translated.contextDocumentRoot;
        // mod_wsgi's translate hook names the handler of a WSGIScriptAlias'd request.
        case "HANDLER":
          return translated.scriptAlias ? "wsgi-script" : "";
        // r->mtime is still 0: the epoch in local time.
        case "LAST_MODIFIED":
          return timeVariable("TIME", new Date(0));
        case "REQUEST_STATUS":
          return "200";
        case "IS_SUBREQ":
          return "false";
        case "API_VERSION":
          return "20120211";
        case "IPV6":
          return req.remoteAddress.includes(":") && !req.remoteAddress.startsWith("::ffff:") ? "on" : "off";
        case "CONN_REMOTE_ADDR":
          return req.remoteAddress;
        case "HTTP2":
          return "off";
        // No content type is chosen yet (type_checker runs later).
        case "CONTENT_TYPE":
        case "REMOTE_IDENT":
        case "REQUEST_LOG_ID":
        case "CONN_LOG_ID":
        case "SCRIPT_USER":
        case "SCRIPT_GROUP":
          return "";
      }
      if (name.startsWith("TIME")) return timeVariable(name, new Date());
      if (name.startsWith("HTTP_")) return mergedHeaderValue(req.headers, name.slice(5).toLowerCase().replace(/_/g, "-"));
      return serverVariable(name, state, uri, query);
    },
  };
}

/**
 * What a subrequest's own expressions read (a -U/-F lookup's <If> sections): IS_SUBREQ is
 * true, and the request headers they read go into the subrequest's Vary, not the main one's.
 */
export function subrequestExpr(base: ExprRequest): ExprRequest {
  return { ...base, vary: () => {}, variable: (name) => (name === "IS_SUBREQ" ? "true" : base.variable(name)) };
}

/** A server variable as mod_rewrite's %{NAME} reads it (and ap_expr, for names it has no own value for). */
export function serverVariable(name: string, state: RequestState, uri: string, query: string | null): string {
  const req = state.req;
  if (name.startsWith("HTTP:")) return headerValue(req.headers, name.slice(5).toLowerCase()) ?? "";
  if (name.startsWith("ENV:")) return state.env.get(name.slice(4)) ?? toByteString(process.env[name.slice(4)] ?? "");
  if (name.startsWith("SSL:")) return "";
  switch (name) {
    case "DOCUMENT_ROOT":
    case "CONTEXT_DOCUMENT_ROOT":
      return state.tables.documentRoot;
    case "CONTEXT_PREFIX":
      return "";
    case "SERVER_NAME":
      return state.serverName;
    case "SERVER_PORT":
      return state.serverPort;
    case "SERVER_ADDR":
      return req.localAddress;
    case "SERVER_PROTOCOL":
      return req.protocol;
    case "SERVER_SOFTWARE":
      return state.tables.serverBanner;
    case "SERVER_ADMIN":
      return state.tables.serverAdmin;
    case "REQUEST_SCHEME":
      return state.scheme;
    case "HTTPS":
      return req.scheme === "https" ? "on" : "off";
    case "REMOTE_ADDR":
      return req.remoteAddress;
    case "REMOTE_PORT":
      return String(req.remotePort);
    case "REMOTE_HOST":
      return req.remoteAddress;
    case "REMOTE_USER":
      return state.authEnviron.REMOTE_USER ?? "";
    case "AUTH_TYPE":
      return state.authEnviron.AUTH_TYPE ?? "";
    case "REQUEST_METHOD":
      return req.method;
    case "THE_REQUEST":
      return `${req.method} ${req.target} ${req.protocol}`;
    case "API_VERSION":
      return "20120211:0";
    case "REQUEST_URI":
      return uri;
    case "QUERY_STRING":
      return query ?? "";
    default: {
      // HTTP_USER_AGENT and friends: the header of that name.
      if (name.startsWith("HTTP_")) return headerValue(req.headers, name.slice(5).toLowerCase().replace(/_/g, "-")) ?? "";
      return "";
    }
  }
}
