/**
 * mod_wsgi's group-name expansion for WSGIProcessGroup and WSGIApplicationGroup values:
 * `%{GLOBAL}` (""), `%{RESOURCE}` (server[:port]|SCRIPT_NAME, the default application
 * group), `%{SERVER}` (server[:port]), `%{ENV:NAME}` (the request's environment, resolved per
 * request), and literal names.
 */
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
    const v = ctx.env.get(value.slice(6, -1)) ?? process.env[value.slice(6, -1)];
    // An unset variable falls back to the default, as mod_wsgi does.
    return v === undefined ? resolveGroupName(whenEnvUnset, ctx, "") : v;
  }
  return value;
}

function serverWithPort(ctx: GroupContext): string {
  return ctx.serverPort === "80" || ctx.serverPort === "443" ? ctx.serverName : `${ctx.serverName}:${ctx.serverPort}`;
}
