/**
 * nodewsgi's public module: the gateway interface types, and the adapters that turn a fetch
 * handler or a Node request listener into a WSGI-style application (the server applies them
 * itself when a script exports one; they are exported for composing applications by hand).
 */
export type { Application, BodyChunk, Environ, FileWrapper, ResponseBody, ResponseHeaders, StartResponse, WriteCallable, WsgiErrors, WsgiInput } from "./types";
export { fetchToWsgi, type FetchHandler } from "./app/adapters/fetch-adapter";
export { nodeListenerToWsgi, type NodeListener } from "./app/adapters/node-adapter";
export { loadApplicationShape, parseApplicationType, type ApplicationShape, type ApplicationType, type ResolvedApplication } from "./app/adapters/detect";
export { NodewsgiError } from "./errors";
