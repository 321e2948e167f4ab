/** The configuration layer: Apache-syntax parsing, the directive table, the model. */
export { loadConfig, parseConfigText, parseHtaccess } from "./load";
export type { ServerConfig, HostConfig, DirSettings, DaemonProcessSpec } from "./model";
export { ConfigError, ConfigErrors } from "./errors";
