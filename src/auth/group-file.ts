/**
 * AuthGroupFile (mod_authz_groupfile): `group: user1 user2` lines, read as httpd's
 * groups_for_user reads them:
 *   - a physical line ending in a backslash (before LF or CRLF) continues on the next, with the
 *     backslash removed and nothing put in its place (`a\` + `b` is `ab`);
 *   - the logical line is trimmed; blank lines and lines starting with `#` are skipped;
 *   - the group name is the text before the first colon, trailing white space removed (a line
 *     with no colon names a group with no members);
 *   - members are words as ap_getword_conf splits them: white space separated, `"..."` or
 *     `'...'` quoting (with `\"`, `\'`, `\\` escapes inside), `\\` outside;
 *   - a group on several lines has the members of all of them; user names compare exactly,
 *     group names without regard to ASCII case (httpd keeps them in an apr_table).
 *
 * httpd opens and parses the file for every `Require group` it evaluates. The parsed file is
 * kept here and re-read when its mtime, size or inode changes, as AuthUserFile is: the answer is
 * the same as re-reading, and the stat per request is what remains of httpd's open.
 */
import * as fs from "node:fs";
import { NodewsgiError } from "../errors";
import { answerFileStep, driveAsync, type FileStep } from "./steps";

/** apr_isspace over one char code (the C locale: space, \t \n \v \f \r). */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** ASCII-only lower case, as strcasecmp compares. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/**
 * ap_getword_conf over a whole line: the words, quotes removed. An unterminated quote runs to
 * the end of the line, as in httpd.
 */
export function confWords(line: string): string[] {
  const words: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    while (i < n && isSpace(line.charCodeAt(i))) i++;
    if (i >= n) return words;
    const q = line[i]!;
    let word = "";
    if (q === '"' || q === "'") {
      let j = i + 1;
      while (j < n && line[j] !== q) {
        if (line[j] === "\\" && (line[j + 1] === q || line[j + 1] === "\\")) {
          word += line[j + 1];
          j += 2;
        } else word += line[j++];
      }
      i = j < n ? j + 1 : j;
    } else {
      let j = i;
      while (j < n && !isSpace(line.charCodeAt(j))) {
        if (line[j] === "\\" && line[j + 1] === "\\") {
          word += "\\";
          j += 2;
        } else word += line[j++];
      }
      i = j;
    }
    words.push(word);
  }
}

/** ap_cfg_getline's logical lines: continuation joined, NUL ends a physical line's text, trimmed. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = "";
  let start = 0;
  while (start < text.length) {
    const lf = text.indexOf("\n", start);
    let phys = lf < 0 ? text.slice(start) : text.slice(start, lf + 1);
    start = lf < 0 ? text.length : lf + 1;
    const nul = phys.indexOf("\0");
    // C strings: the text stops at a NUL, and the line's LF is then out of sight (no continuation).
    if (nul >= 0) phys = phys.slice(0, nul);
    const m = /\\\r?\n$/.exec(phys);
    if (m) {
      pending += phys.slice(0, m.index);
      continue;
    }
    lines.push((pending + phys).replace(/^[\t-\r ]+|[\t-\r ]+$/g, ""));
    pending = "";
  }
  if (pending) lines.push(pending.replace(/^[\t-\r ]+|[\t-\r ]+$/g, ""));
  return lines;
}

/** Parse group file text: user -> the (ASCII lower-case) names of the groups that list it. */
export function parseGroupFile(text: string): Map<string, Set<string>> {
  const groupsOf = new Map<string, Set<string>>();
  for (const line of logicalLines(text)) {
    if (line === "" || line[0] === "#") continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const group = asciiLower(line.slice(0, colon).replace(/[\t-\r ]+$/, ""));
    for (const user of confWords(line.slice(colon + 1))) {
      let set = groupsOf.get(user);
      if (!set) groupsOf.set(user, (set = new Set()));
      set.add(group);
    }
  }
  return groupsOf;
}

/** apr's `(errno)text` for the errors an open can give, as httpd prints it before the message. */
const ERRNO_TEXT: Readonly<Record<string, [number, string]>> = {
  ENOENT: [2, "No such file or directory"],
  EACCES: [13, "Permission denied"],
  ENOTDIR: [20, "Not a directory"],
  EBADF: [9, "Bad file descriptor"],
  ELOOP: [40, "Too many levels of symbolic links"],
  ENAMETOOLONG: [36, "File name too long"],
};

export function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const known = code ? ERRNO_TEXT[code] : undefined;
  if (known) return `(${known[0]})${known[1]}`;
  const errno = (err as NodeJS.ErrnoException | undefined)?.errno;
  return `(${errno !== undefined ? Math.abs(errno) : 0})${code ?? String(err)}`;
}

interface CachedGroups {
  mtimeMs: number;
  size: number;
  ino: number;
  groupsOf: Map<string, Set<string>>;
}

const NO_GROUPS: ReadonlySet<string> = new Set();

/** AuthGroupFile contents, cached per path and re-read when the file changes. */
export class GroupFileCache {
  private readonly files = new Map<string, CachedGroups>();

  /**
   * The groups (ASCII lower-case names) that list `user` in `file`; empty when none does.
   * Throws NodewsgiError("AUTH_GROUPFILE") when the file cannot be opened (its `cause` has the
   * errno; see errnoText).
   */
  groupsFor(file: string, user: string): Promise<ReadonlySet<string>> {
    return driveAsync(this.groupsSteps(file, user), answerFileStep);
  }

  /** groupsFor as steps (./steps.ts): a stat, and the text read again only when the file changed. */
  *groupsSteps(file: string, user: string): Generator<FileStep, ReadonlySet<string>, unknown> {
    let st: fs.Stats;
    let hit: Map<string, Set<string>> | null;
    try {
      st = (yield { op: "stat", path: file }) as fs.Stats;
      hit = this.cached(file, st);
    } catch (err) {
      throw this.unreadable(file, err);
    }
    if (hit) return hit.get(user) ?? NO_GROUPS;
    let text: string;
    try {
      text = (yield { op: "read", path: file }) as string;
    } catch (err) {
      throw this.unreadable(file, err);
    }
    return this.store(file, st, text).get(user) ?? NO_GROUPS;
  }

  /** The parsed file when it has not changed; throws (EBADF) for what ap_pcfg_openfile refuses: anything but a regular file or /dev/null. */
  private cached(file: string, st: fs.Stats): Map<string, Set<string>> | null {
    if (!st.isFile() && file !== "/dev/null") throw Object.assign(new Error("not a regular file"), { code: "EBADF" });
    const hit = this.files.get(file);
    return hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino ? hit.groupsOf : null;
  }

  private store(file: string, st: fs.Stats, text: string): Map<string, Set<string>> {
    const groupsOf = parseGroupFile(text);
    this.files.set(file, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, groupsOf });
    return groupsOf;
  }

  private unreadable(file: string, err: unknown): NodewsgiError {
    this.files.delete(file);
    return new NodewsgiError("AUTH_GROUPFILE", `Could not open group file: ${file}`, { cause: err });
  }
}
