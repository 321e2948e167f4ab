/**
 * The environ's string keys as the map phase hands them on: a flat `[key, value, ...]` list, or
 * a LazyEnviron that makes the list when asked (a request answered from a route plan: the
 * in-thread host builds the application's environ object without keeping a list at all).
 */
import type { Environ, EnvironOptions } from "./environ";

export interface LazyEnviron {
  /** The list, made on the first call and the same array after. */
  pairs(): readonly string[];
  /**
   * The application's environ object (string keys, then the wsgi.* keys of `opts`) built
   * without the list, or null when it cannot be (then the caller builds it from `pairs()`).
   */
  object(opts: EnvironOptions): Environ | null;
}

export type EnvironPairs = readonly string[] | LazyEnviron;

/** The flat list, made now if it was lazy. */
export function environPairs(e: EnvironPairs): readonly string[] {
  return isList(e) ? e : e.pairs();
}

export function isList(e: EnvironPairs): e is readonly string[] {
  return Array.isArray(e);
}
