/** Loading the configuration for a CLI command, reporting every error the way httpd does. */
import type { CommonOptions } from "./main";
import { loadConfig } from "../config";
import type { ServerConfig } from "../config";
import { ConfigError, ConfigErrors } from "../config/errors";

/** The loaded configuration, or undefined after printing what is wrong to stderr. */
export function loadConfigOrReport(
  options: CommonOptions,
  report: (line: string) => void = (line) => process.stderr.write(line + "\n"),
): ServerConfig | undefined {
  try {
    const config = loadConfig(options.configFile, { defines: options.defines });
    for (const notice of config.notices) report(`nodewsgi: notice: ${notice}`);
    return config;
  } catch (err) {
    if (err instanceof ConfigErrors) {
      for (const e of err.errors) report(e.message);
    } else if (err instanceof ConfigError) {
      report(err.message);
    } else {
      const e = err as NodeJS.ErrnoException;
      report(`nodewsgi: cannot read configuration ${options.configFile}: ${e.message}`);
    }
    return undefined;
  }
}
