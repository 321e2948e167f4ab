/**
 * mod_wsgi's group-name expansion for WSGIProcessGroup and WSGIApplicationGroup values:
 * `%{GLOBAL}` (""), `%{RESOURCE}` (server[:port]|SCRIPT_NAME, the default application
 * group), `%{SERVER}` (server[:port]), `%{ENV:NAME}` (the request's environment, resolved per
 * request), and literal names.
 *
 * Names are byte strings, like the environ values they may come from and the SCRIPT_NAME in
 * `%{RESOURCE}`: configuration text is turned into its bytes (engine/byte-string.ts). Daemon
 * process groups are looked up by the byte string of their configured name.
 */
import { toByteString } from "../engine/byte-string";

export interface GroupContext {
  /** ServerName as configured. */
  readonly serverName: string;
  /** SERVER_PORT of the request. */
  readonly serverPort: string;
  readonly scriptName: string;
  readonly env: ReadonlyMap<string, string>;
}

export function resolveGroupName(value: string, ctx: GroupContext, whenEnvUnset: string): string {
  if (value === "%{GLOBAL}") return "";
  if (value === "%{RESOURCE}") return `${serverWithPort(ctx)}|${ctx.scriptName}`;
  if (value === "%{SERVER}") return serverWithPort(ctx);
  if (value.startsWith("%{ENV:") && value.endsWith("}")) {
    const name = value.slice(6, -1);
    const fromProcess = process.env[name];
    const v = ctx.env.get(name) ?? (fromProcess === undefined ? undefined : toByteString(fromProcess));
    // An unset variable falls back to the default, as mod_wsgi does.
    return v === undefined ? resolveGroupName(whenEnvUnset, ctx, "") : v;
  }
  return toByteString(value);
}

function serverWithPort(ctx: GroupContext): string {
  const name = toByteString(ctx.serverName);
  return ctx.serverPort === "80" || ctx.serverPort === "443" ? name : `${name}:${ctx.serverPort}`;
}
