/**
 * Module loader hooks (registered with `module.register`) that let an ESM application script
 * have any extension. The loader marks its own imports with a `?nodewsgi-esm=N` query; only
 * those are answered here, as ES modules read straight from disk, so relative imports and
 * `import.meta.url` behave as for any file. The query also makes each load a fresh module
 * instance (the ESM cache is keyed by URL).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const MARKER = "nodewsgi-esm=";

interface LoadResult {
  format?: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function load(url: string, context: unknown, next: NextLoad): Promise<LoadResult> {
  if (url.startsWith("file:") && url.includes("?" + MARKER)) {
    const source = await readFile(fileURLToPath(url));
    return { format: "module", source, shortCircuit: true };
  }
  return next(url, context);
}
