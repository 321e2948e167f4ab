/**
 * The directive reference, generated from the directive table: one page per directive and an
 * index. scripts/gen-directive-docs.js writes them to docs/directives/; a test checks that the
 * files there match.
 */
import { DIRECTIVES, overrideLabel, type DirectiveSpec } from "./directives";

const CONTEXT_NAMES: Record<string, string> = {
  server: "server config",
  virtualhost: "virtual host",
  directory: "directory (<Directory>, <Location>, <Files>)",
  htaccess: ".htaccess",
};

function title(d: DirectiveSpec): string {
  return d.kind === "section" ? `<${d.name}>` : d.name;
}

export function renderDirectivePage(d: DirectiveSpec): string {
  const status = d.status === "implemented" ? "Supported" : d.status === "ignored" ? "Accepted and ignored (a notice is printed)" : "Not supported (configuration error)";
  const lines = [
    `# ${title(d)}`,
    "",
    d.doc,
    "",
    "| | |",
    "|---|---|",
    `| Syntax | \`${d.syntax.replace(/\|/g, "\\|")}\` |`,
    `| Default | ${d.default !== undefined ? "`" + d.default.replace(/\|/g, "\\|") + "`" : "none"} |`,
    `| Context | ${d.contexts.map((c) => CONTEXT_NAMES[c]!).join(", ")}${d.directoryOnly ? " (only <Directory>)" : ""} |`,
    `| Override | ${d.contexts.includes("htaccess") ? (d.override ? overrideLabel(d.override) : "not allowed in .htaccess") : "not allowed in .htaccess"} |`,
    `| Module | ${d.module} |`,
    `| Status | ${status} |`,
    "",
    "Generated from src/config/directives.ts by scripts/gen-directive-docs.js; do not edit.",
    "",
  ];
  return lines.join("\n");
}

export function pageFileName(d: DirectiveSpec): string {
  return `${d.name}.md`;
}

export function renderIndex(): string {
  const lines = [
    "# Directive reference",
    "",
    "nodewsgi reads Apache httpd configuration syntax. These are the directives it knows, with httpd 2.4 and mod_wsgi semantics.",
    "Unknown directives are configuration errors; directives marked *ignored* are accepted with a notice so existing httpd",
    "configurations load. Relative paths are relative to ServerRoot, which defaults to the directory of the main configuration file.",
    "",
    "| Directive | Module | Status | Summary |",
    "|---|---|---|---|",
  ];
  for (const d of DIRECTIVES) {
    const summary = d.doc.split(/(?<=\.)\s/)[0]!.replace(/\|/g, "\\|");
    lines.push(`| [${title(d).replace(/</g, "&lt;").replace(/>/g, "&gt;")}](${pageFileName(d)}) | ${d.module} | ${d.status} | ${summary} |`);
  }
  lines.push("", "Generated from src/config/directives.ts by scripts/gen-directive-docs.js; do not edit.", "");
  return lines.join("\n");
}

/** Every generated file: name (relative to docs/directives/) -> content. */
export function generateDirectiveDocs(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of DIRECTIVES) out.set(pageFileName(d), renderDirectivePage(d));
  out.set("README.md", renderIndex());
  return out;
}
