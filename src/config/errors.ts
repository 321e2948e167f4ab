/**
 * Configuration errors. Every one names the file, line and directive it is about, and reads the
 * way httpd's own `apachectl configtest` output does: `FILE:LINE: DIRECTIVE: what is wrong`.
 */
import { NodewsgiError } from "../errors";

export type ConfigErrorCode =
  | "E_CONFIG_UNKNOWN_DIRECTIVE"
  | "E_CONFIG_SYNTAX"
  | "E_CONFIG_ARGS"
  | "E_CONFIG_CONTEXT"
  | "E_CONFIG_VALUE"
  | "E_CONFIG_REGEX"
  | "E_CONFIG_INCLUDE"
  | "E_CONFIG_UNSUPPORTED";

/** Where something was written in the configuration. */
export interface Where {
  readonly file: string;
  readonly line: number;
}

export class ConfigError extends NodewsgiError {
  readonly file: string;
  readonly line: number;
  /** The directive (or `<Section`) the error is about; "" for errors not tied to one. */
  readonly directive: string;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(code: ConfigErrorCode, where: Where, directive: string, detail: string) {
    super(code, `${where.file}:${where.line}: ${directive ? directive + ": " : ""}${detail}`);
    this.name = "ConfigError";
    this.file = where.file;
    this.line = where.line;
    this.directive = directive;
    this.detail = detail;
  }
}

/** Everything wrong with one configuration, thrown by loadConfig so configtest can print it all. */
export class ConfigErrors extends NodewsgiError {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    const n = errors.length;
    super(
      errors[0]?.code ?? "E_CONFIG_SYNTAX",
      `${n} configuration error${n === 1 ? "" : "s"}:\n` + errors.map((e) => e.message).join("\n"),
    );
    this.name = "ConfigErrors";
    this.errors = errors;
  }
}

/**
 * Thrown by a directive's `apply` to reject its arguments; the loader turns it into a
 * ConfigError carrying the directive's file and line.
 */
export class DirectiveProblem extends Error {
  readonly code: ConfigErrorCode;
  constructor(code: ConfigErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function badValue(message: string): DirectiveProblem {
  return new DirectiveProblem("E_CONFIG_VALUE", message);
}

export function badArgs(message: string): DirectiveProblem {
  return new DirectiveProblem("E_CONFIG_ARGS", message);
}
