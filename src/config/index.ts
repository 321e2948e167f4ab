/** The configuration layer: Apache-syntax parsing, the directive table, and the model. */
export { loadConfig, parseConfigText, parseHtaccess, type LoadOptions, type HtaccessResult } from "./load";
export { ConfigError, ConfigErrors, type ConfigErrorCode, type Where } from "./errors";
export { DIRECTIVES, findDirective, isKnownModule, defaultDaemonSpec, DAEMON_OPTION_NAMES, type DirectiveSpec, type Context } from "./directives";
export { compileConfigRegex, type ConfigRegex } from "./regex";
export { splitWords, parseText } from "./parse";
export * from "./model";
