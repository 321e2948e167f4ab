/**
 * Every error nodewsgi raises on purpose carries a stable code, so callers and tests can tell
 * them apart without matching message text.
 */
export class NodewsgiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NodewsgiError";
    this.code = code;
  }
}
