/**
 * mod_wsgi's authentication and group authorization providers, backed by script hooks:
 *
 * - `AuthBasicProvider wsgi` + WSGIAuthUserScript: `check_password(environ, user, password)`
 *   -> granted (true, or a string: the user's new name, REMOTE_USER), denied (false: 401, no
 *   further provider), not found (null/undefined: the next provider, 401 after the last),
 *   error (anything else, an exception, no script or no function: 500). mod_auth_basic's
 *   provider loop is authorize()'s (./authorize.ts); this is one provider.
 * - `AuthDigestProvider wsgi` + WSGIAuthUserScript: `get_realm_hash(environ, user, realm)` ->
 *   the hex MD5 of user:realm:password (a string or bytes, used as is), or null/undefined for
 *   an unknown user (the next provider; 401 after the last); anything else, an exception, no
 *   script or no function: 500. The user comes from the Digest header, the realm is AuthName.
 * - `Require wsgi-group name ...` + WSGIAuthGroupScript: `groups_for_user(environ, user)` for
 *   each such line the evaluation reaches (as httpd calls the provider once per line); the line
 *   grants when one of its names is a group of the user. Without a user it is denied-no-user
 *   (authentication is asked for); a failing hook, no script, no groups or no match deny the
 *   line, logged as mod_wsgi logs them. WSGIGroupAuthoritative plays no part (httpd 2.4).
 *
 * User names and passwords reach the hooks as their UTF-8 text, as mod_wsgi passes them to
 * Python; credentials that are not UTF-8 (mod_wsgi 4.9 crashes on them) are refused: 500 for
 * the password check, a denial for the group check, logged.
 */
import type { Setting, HookScript } from "../config/model";
import { noWsgiScript, type AuthnOutcome, type RealmHashOutcome } from "./access-steps";
import { ProviderPending, type AuthzRequest, type AuthzStatus } from "./require";
import { callAuthHook, utf8Text, type HookContext } from "./wsgi-hook-environ";
import { textOf, toByteString } from "../engine/byte-string";

function pid(): string {
  return `mod_wsgi (pid=${process.pid})`;
}

/** The `wsgi` Basic authentication provider for one request (AuthorizeOptions.wsgiCheckPassword). */
export function wsgiCheckPassword(ctx: HookContext, script: Setting<HookScript> | undefined): (user: string, password: Buffer) => Promise<AuthnOutcome> {
  return async (user, password) => {
    // Logged without the client, as mod_wsgi logs it (at server level).
    if (script === undefined) return noWsgiScript(ctx.log);
    const userText = utf8Text(user);
    const passwordText = utf8Text(password);
    if (userText === null || passwordText === null) {
      ctx.log.log("error", "wsgi", `${ctx.logPrefix}${pid()}: User name or password of user '${textOf(user)}' is not valid UTF-8; WSGI user authentication script '${script.value.script}' not called.`);
      return { status: "error" };
    }
    const reply = await callAuthHook(ctx, "check_password", script.value, [userText, passwordText]);
    if (reply.kind !== "authn") return { status: "error" };
    if (reply.status === "granted") return reply.user !== undefined ? { status: "granted", user: reply.user } : { status: "granted" };
    return { status: reply.status };
  };
}

/** The `wsgi` Digest provider for one request (AuthorizeOptions.wsgiRealmHash). */
export function wsgiRealmHash(ctx: HookContext, script: Setting<HookScript> | undefined): (user: string, realm: string) => Promise<RealmHashOutcome> {
  return async (user, realm) => {
    if (script === undefined) return noWsgiScript(ctx.log);
    // The realm is AuthName, configuration text: always UTF-8.
    const userText = utf8Text(user);
    const realmText = utf8Text(realm) ?? realm;
    if (userText === null) {
      // mod_wsgi 4.9 crashes on these (its argument tuple cannot be built).
      ctx.log.log("error", "wsgi", `${ctx.logPrefix}${pid()}: User name '${textOf(user)}' is not valid UTF-8; WSGI user authentication script '${script.value.script}' not called.`);
      return { status: "error" };
    }
    const reply = await callAuthHook(ctx, "get_realm_hash", script.value, [userText, realmText]);
    if (reply.kind !== "realm-hash") return { status: "error" };
    return reply.hash === null ? { status: "not-found" } : { status: "found", hash: reply.hash };
  };
}

/**
 * `Require wsgi-group` for one request (AuthzRequest.external). A line's answer is kept, so the
 * requirement can be evaluated again after the hook answered (evaluateRequireAsync).
 */
export class WsgiGroupProvider {
  private readonly answers = new Map<readonly string[], AuthzStatus>();

  constructor(
    private readonly ctx: HookContext,
    private readonly script: Setting<HookScript> | undefined,
  ) {}

  readonly status = (name: string, args: readonly string[], r: AuthzRequest): AuthzStatus => {
    if (name !== "wsgi-group") return "error";
    if (r.user === undefined) return "denied-no-user";
    const known = this.answers.get(args);
    if (known !== undefined) return known;
    const user = r.user;
    throw new ProviderPending(this.check(args, user).then((s) => this.answers.set(args, s)));
  };

  private async check(args: readonly string[], user: string): Promise<AuthzStatus> {
    const ctx = this.ctx;
    if (this.script === undefined) {
      ctx.log.log("error", "wsgi", `${pid()}: Location of WSGI group authorization script not provided.`);
      return "denied";
    }
    const userText = utf8Text(user);
    if (userText === null) {
      ctx.log.log("error", "wsgi", `${ctx.logPrefix}${pid()}: User name '${textOf(user)}' is not valid UTF-8; WSGI group authentication script '${this.script.value.script}' not called.`);
      return "denied";
    }
    const reply = await callAuthHook(ctx, "groups_for_user", this.script.value, [userText]);
    if (reply.kind !== "groups") return "denied";
    const failed = `${ctx.logPrefix}${pid()}: Authorization of user '${textOf(user)}' to access '${textOf(ctx.uri)}' failed.`;
    if (reply.groups.length === 0) {
      ctx.log.log("error", "wsgi", `${failed} User is not a member of any groups.`);
      return "denied";
    }
    const groups = new Set(reply.groups);
    // The line's names are configuration text; groups are compared as bytes.
    if (args.some((g) => groups.has(toByteString(g)))) return "granted";
    ctx.log.log("error", "wsgi", `${failed} User is not a member of designated groups.`);
    return "denied";
  }
}
