import * as fs from "node:fs";
import * as path from "node:path";

/** The version in package.json, read at run time so it is never out of step. */
export function readPackageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
