/**
 * Access control for a request: the steps of ./access-steps.ts (mod_authz_core with
 * mod_auth_basic or mod_auth_digest, in httpd's order and with its log lines), driven with
 * awaited I/O: file reads, bcrypt, and hook scripts that answer from worker threads.
 */
import { evaluateRequire, evaluateRequireAsync } from "./require";
import { answerBcrypt } from "./htpasswd";
import { answerFileStep, driveAsync } from "./steps";
import { accessSteps, type AccessStep, type AuthConfig, type AuthRequest, type AuthResult, type AuthorizeOptions } from "./access-steps";
import type { Requirement } from "./require";

export { parseBasicCredentials } from "./access-steps";
export type { AuthConfig, AuthRequest, AuthResult, AuthorizeOptions, AuthnOutcome, RealmHashOutcome, Log } from "./access-steps";

/** Decide access for a request against a compiled requirement (null: no Require applies). */
export function authorize(req: AuthRequest, requirement: Requirement | null, auth: AuthConfig = {}, opts: AuthorizeOptions = {}): Promise<AuthResult> {
  return driveAsync(accessSteps(req, requirement, auth, opts), answer);
}

function answer(step: AccessStep): unknown {
  switch (step.op) {
    case "stat":
    case "read":
      return answerFileStep(step);
    case "bcrypt":
      return answerBcrypt(step);
    case "authz":
      // Only providers outside mod_authz_core (wsgi-group) may have to wait for an answer.
      return step.request.external ? evaluateRequireAsync(step.requirement, step.request) : evaluateRequire(step.requirement, step.request);
    case "wsgi-password":
      return step.hook(step.user, step.password);
    case "wsgi-realm-hash":
      return step.hook(step.user, step.realm);
  }
}
