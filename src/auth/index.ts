/** Access control, Apache-style: Require trees (mod_authz_core) and Basic auth against htpasswd files. */
export { authorize, parseBasicCredentials } from "./authorize";
export type { AuthConfig, AuthRequest, AuthResult, AuthorizeOptions } from "./authorize";
export { compileRequire, evaluateRequire, evaluateRequireAsync, isRequestIndependent, ProviderPending } from "./require";
export type { RequireInput, Requirement, AuthzRequest, AuthzStatus } from "./require";
export { HtpasswdCache, parseHtpasswd, verifyPassword, hashScheme, constantTimeEqual } from "./htpasswd";
export type { VerifyOutcome } from "./htpasswd";
export { md5Crypt } from "./md5-crypt";
export { parseIpRule, ipMatches, isLocal } from "./ip";
export type { IpRule } from "./ip";
export { accessAllowed, accessNeedsHostName, accessRequestIndependent, doubleReverseName, emptyAccessCompat, inDomain, parseHostRule } from "./access-compat";
export type { AccessCompat, AccessClient, AccessOrder, HostRule } from "./access-compat";
