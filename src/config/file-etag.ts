/**
 * FileETag as httpd's core keeps it (set_etag_bits and merge_core_dir_configs in server/core.c):
 * per section a set of bits plus the `+`/`-` adjustments, merged down the sections, and read
 * by ap_make_etag_ex. The quirks are httpd's: a section with only `+`/`-` keywords adjusts the
 * inherited set, but adjusting the unset default yields no bits, which means the default
 * (MTime Size) again, so `FileETag -MTime` alone still gives `"size-mtime"`.
 */
import { badValue } from "./errors";

export const ETAG_UNSET = 0;
export const ETAG_NONE = 1 << 0;
export const ETAG_MTIME = 1 << 1;
export const ETAG_INODE = 1 << 2;
export const ETAG_SIZE = 1 << 3;
export const ETAG_DIGEST = 1 << 4;
const ETAG_ALL = ETAG_MTIME | ETAG_INODE | ETAG_SIZE;
const ETAG_BACKWARD = ETAG_MTIME | ETAG_SIZE;

/** One section's FileETag state, as core_dir_config's etag_bits / etag_add / etag_remove. */
export interface FileETagBits {
  readonly bits: number;
  readonly add: number;
  readonly remove: number;
}

/** What goes into a static file's ETag. */
export interface FileETagParts {
  inode?: boolean;
  mtime?: boolean;
  size?: boolean;
  /** A SHA-1 of the content instead of the stat fields. */
  digest?: boolean;
}

const KEYWORDS: Readonly<Record<string, number>> = {
  none: ETAG_NONE, all: ETAG_ALL, size: ETAG_SIZE, lmtime: ETAG_MTIME, mtime: ETAG_MTIME,
  lastmodified: ETAG_MTIME, inode: ETAG_INODE, digest: ETAG_DIGEST,
};

/** Apply one FileETag line to the section's state so far (undefined: none yet). */
export function applyFileETag(prev: FileETagBits | undefined, args: readonly string[]): FileETagBits {
  let { bits, add, remove } = prev ?? { bits: ETAG_UNSET, add: ETAG_UNSET, remove: ETAG_UNSET };
  let first = true;
  let explicit = false;
  for (const arg of args) {
    const action = arg[0] === "+" || arg[0] === "-" ? arg[0] : "*";
    const word = action === "*" ? arg : arg.slice(1);
    // An absolute keyword forgets what the section (and so its parents) said before.
    if (action === "*" && first) {
      bits = add = remove = ETAG_UNSET;
      first = false;
    }
    const bit = KEYWORDS[word.toLowerCase()];
    if (bit === undefined) throw badValue(`Unknown keyword '${word}' for FileETag directive`);
    if ((bit === ETAG_NONE || bit === ETAG_ALL) && action !== "*") throw badValue(`FileETag keyword '${word}' cannot be used with '+' or '-'`);
    if (action === "+") {
      add |= bit;
      remove &= ~bit;
    } else if (action === "-") {
      remove |= bit;
      add &= ~bit;
    } else {
      bits = bit === ETAG_NONE || bit === ETAG_ALL ? bit : bits | bit;
      add = remove = ETAG_UNSET;
      explicit = true;
    }
  }
  if (explicit && (bits & ETAG_NONE) !== ETAG_NONE) bits &= ~ETAG_NONE;
  return { bits, add, remove };
}

/** The state in force once a more specific section (`add`) is merged onto `base`. */
export function mergeFileETag(base: FileETagBits | undefined, next: FileETagBits | undefined): FileETagBits | undefined {
  if (!next) return base;
  const b = base ?? { bits: ETAG_UNSET, add: ETAG_UNSET, remove: ETAG_UNSET };
  let out: FileETagBits;
  if (next.bits === ETAG_UNSET) {
    const add = (b.add & ~next.remove) | next.add;
    const remove = (b.remove & ~next.add) | next.remove;
    out = { bits: (b.bits & ~remove) | add, add, remove };
  } else {
    out = next;
  }
  if (out.bits !== ETAG_NONE) out = { ...out, bits: out.bits & ~ETAG_NONE };
  return out;
}

/** What ap_make_etag_ex puts in the ETag under this state; null for FileETag None. */
export function fileETagParts(state: FileETagBits | undefined): FileETagParts | null {
  let bits = state ? (state.bits & ~state.remove) | state.add : ETAG_UNSET;
  if (bits & ETAG_DIGEST) return { digest: true };
  if (bits & ETAG_NONE) return null;
  if (bits === ETAG_UNSET) bits = ETAG_BACKWARD;
  return { inode: (bits & ETAG_INODE) !== 0, mtime: (bits & ETAG_MTIME) !== 0, size: (bits & ETAG_SIZE) !== 0 };
}
