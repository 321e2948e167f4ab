/**
 * Step sequences driven synchronously or asynchronously. A sequence that needs I/O is written
 * once, as a generator that yields what it needs (a stat, a file's text, a bcrypt check, a hook
 * script's answer) and gets the answer back from `yield` (or the error thrown at the `yield`).
 * driveAsync answers with awaited calls (a request); driveSync with synchronous ones (a
 * RewriteCond -U/-F lookup, which cannot wait). The sequence, its log lines and its answers are
 * the same either way; only the I/O calls differ.
 */
import * as fs from "node:fs";

/** The file I/O of the AuthUserFile and AuthGroupFile caches. */
export type FileStep =
  /** -> fs.Stats */
  | { readonly op: "stat"; readonly path: string }
  /** -> the file's text, latin1 (one char per byte: the user names compared are bytes). */
  | { readonly op: "read"; readonly path: string };

/** Run `steps` to the end, answering each step with `answer` (a step whose answer throws gets the error thrown at its `yield`). */
export function driveSync<S, R>(steps: Generator<S, R, unknown>, answer: (step: S) => unknown): R {
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = answer(next.value);
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

/** driveSync with answers that may be promises: awaited (and only those, so a synchronous answer costs no turn of the event loop). */
export async function driveAsync<S, R>(steps: Generator<S, R, unknown>, answer: (step: S) => unknown): Promise<R> {
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = answer(next.value);
      if (value instanceof Promise) value = await value;
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

export function answerFileStep(step: FileStep): Promise<fs.Stats | string> {
  return step.op === "stat" ? fs.promises.stat(step.path) : fs.promises.readFile(step.path, "latin1");
}

export function answerFileStepSync(step: FileStep): fs.Stats | string {
  return step.op === "stat" ? fs.statSync(step.path) : fs.readFileSync(step.path, "latin1");
}
