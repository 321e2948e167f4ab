/** Loading the configuration for a CLI command, reporting every error the way httpd does. */
import type { CommonOptions } from "./main";
import { loadConfig } from "../config";
import type { ServerConfig } from "../config";
import { ConfigError, ConfigErrors } from "../config/errors";

/** The loaded configuration, or undefined after printing what is wrong to stderr. */
export function loadConfigOrReport(options: CommonOptions): ServerConfig | undefined {
  try {
    const config = loadConfig(options.configFile, { defines: options.defines });
    for (const notice of config.notices) process.stderr.write(`nodewsgi: notice: ${notice}\n`);
    return config;
  } catch (err) {
    if (err instanceof ConfigErrors) {
      for (const e of err.errors) process.stderr.write(`${e.message}\n`);
    } else if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`nodewsgi: cannot read configuration ${options.configFile}: ${e.message}\n`);
    }
    return undefined;
  }
}
