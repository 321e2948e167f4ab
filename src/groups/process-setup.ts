/**
 * What a daemon process is started with beyond its user and group: umask=,
 * supplementary-groups=, cpu-priority=, virtual-memory-limit= and socket-user=, resolved once
 * per group (names to ids, errors at startup) and applied at each spawn.
 *
 * - umask, credentials and the working directory travel in the child's init and are applied
 *   first thing in its main, before any application code loads (ProcessInit, applyProcessInit):
 *   credentials, then a check of the identity they gave, then home= (or the user's home
 *   directory), then umask. A failure of any of them stops the process (SETUP_FAILED_EXIT).
 * - supplementary groups: the process's gid and the listed groups (supplementary-groups=), else
 *   the user's groups (initgroups), as mod_wsgi sets them. libuv's fork with uid/gid clears
 *   the supplementary groups, so a process that switches user is forked as root and drops
 *   privileges itself first thing, as mod_wsgi: setgid, setgroups (or initgroups), setuid.
 * - cpu-priority: set by the supervisor on the new pid (it may lower a nice value only as root,
 *   like mod_wsgi, which sets it before switching user).
 * - virtual-memory-limit: RLIMIT_AS must be in place before V8 starts, and Node has no
 *   setrlimit: the child is exec'd through util-linux `prlimit --as`, which keeps the pid and
 *   the IPC channel.
 * - socket-user: the owner of the process's listening socket file, chowned once it listens.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DaemonProcessSpec } from "../config/model";
import type { ErrorLog } from "../log/error-log";
import { NodewsgiError } from "../errors";
import { accountHome, accountName } from "./account-files";

/**
 * The exit code of a daemon process that could not be set up (credentials, identity, working
 * directory): the supervisor waits SETUP_RETRY_MS before starting another, as mod_wsgi's
 * process sleeps 20 s before it exits so as not to fork-bomb (EX_CONFIG, sysexits.h).
 */
export const SETUP_FAILED_EXIT = 78;
export const SETUP_RETRY_MS = 20_000;

/** Applied by the child at the start of its main (see applyProcessInit). */
export interface ProcessInit {
  umask?: number;
  /** `groups`: supplementary-groups=; `initgroups`: the user whose groups the process gets (initgroups). */
  credentials?: { uid: number; gid: number; groups?: number[]; initgroups?: string | number };
  /**
   * Who the process must be once set up (as root, with user=/group=/supplementary-groups=):
   * checked after the switch, whoever made it (the child itself, or libuv for group= alone).
   */
  expect?: Identity;
  /** home=: the working directory, entered after the switch (as mod_wsgi: as the user). */
  home?: string;
  /**
   * The server's effective uid: without home=, a process whose own differs (user=) starts in
   * its user's home directory, as mod_wsgi's does when it runs as another user than Apache's.
   */
  serverUid?: number;
}

export interface Identity {
  uid: number;
  gid: number;
  /** The supplementary groups, when given explicitly (supplementary-groups=, a uid without a passwd entry). */
  groups?: number[];
}

export interface ProcessSetup {
  /** fork()'s uid/gid, when libuv may switch user (no supplementary groups to keep). */
  readonly forkIds: { uid?: number; gid?: number };
  readonly init: ProcessInit;
  /** fork()'s execPath/execArgv when the child runs under prlimit. */
  readonly exec: { execPath: string; execArgv: string[] } | null;
  readonly cpuPriority: number;
  readonly socketUid?: number;
}

type Lookup = (file: string, name: string) => string[] | null;

export function resolveProcessSetup(
  spec: DaemonProcessSpec,
  ids: { uid?: number; gid?: number },
  lookup: Lookup,
  log: ErrorLog,
): ProcessSetup {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const init: ProcessInit = {};
  if (spec.umask !== undefined) init.umask = spec.umask;
  if (spec.home !== undefined) init.home = spec.home;
  else if (typeof process.geteuid === "function") init.serverUid = process.geteuid();
  let forkIds = ids;
  let socketUid: number | undefined;
  if (!root && (spec.supplementaryGroups.length > 0 || spec.socketUser)) {
    log.log("notice", "wsgi", `mod_wsgi: Daemon process '${spec.name}': supplementary-groups/socket-user ignored, the server is not running as root.`);
  } else if (root) {
    if (ids.uid !== undefined && spec.home === undefined && accountHome("/etc/passwd", ids.uid) === null) {
      // The process would start in its user's home directory (enterWorkingDirectory) and there
      // is none to find: it would fail at every start. (mod_wsgi refuses such a user= outright.)
      throw new NodewsgiError("E_DAEMON_USER", `${at(spec)}uid ${ids.uid} has no entry in /etc/passwd, so no home directory to start in: give home=`);
    }
    if (spec.supplementaryGroups.length > 0) {
      const groups = spec.supplementaryGroups.map((g) => {
        const gr = lookup("/etc/group", g);
        if (!gr) throw new NodewsgiError("E_DAEMON_GROUP", `${at(spec)}unknown supplementary group '${g}'`);
        return Number(gr[2]);
      });
      // As mod_wsgi: the process's own gid first, then the listed groups.
      const gid = ids.gid ?? (process.getgid?.() ?? 0);
      init.credentials = { uid: ids.uid ?? 0, gid, groups: [gid, ...groups] };
      forkIds = {};
    } else if (ids.uid !== undefined) {
      // user= without supplementary-groups: the user's groups from the group file, as mod_wsgi's
      // initgroups (fork's uid option would leave the process with none).
      const gid = ids.gid ?? ids.uid;
      const named = spec.user !== undefined && !/^#?\d+$/.test(spec.user);
      // A bare uid with no passwd entry has no groups to look up (initgroups would fail in the
      // child at every start): it gets its gid alone.
      init.credentials = named || accountName("/etc/passwd", ids.uid) !== null ? { uid: ids.uid, gid, initgroups: named ? spec.user! : ids.uid } : { uid: ids.uid, gid, groups: [gid] };
      forkIds = {};
    }
    const c = init.credentials;
    if (c !== undefined) init.expect = { uid: c.uid, gid: c.gid, ...(c.groups !== undefined ? { groups: c.groups } : {}) };
    else if (ids.gid !== undefined) init.expect = { uid: process.getuid!(), gid: ids.gid };
    if (spec.socketUser) {
      const pw = lookup("/etc/passwd", spec.socketUser);
      if (!pw) throw new NodewsgiError("E_DAEMON_USER", `${at(spec)}unknown socket-user '${spec.socketUser}'`);
      socketUid = Number(pw[2]);
    }
  }
  return {
    forkIds,
    init,
    exec: spec.virtualMemoryLimit > 0 ? prlimitExec(spec) : null,
    cpuPriority: spec.cpuPriority,
    ...(socketUid !== undefined ? { socketUid } : {}),
  };
}

/** The directive's place in the configuration, for errors found when the group starts. */
function at(spec: DaemonProcessSpec): string {
  return `${spec.where.file}:${spec.where.line}: WSGIDaemonProcess ${spec.name}: `;
}

function prlimitExec(spec: DaemonProcessSpec): { execPath: string; execArgv: string[] } {
  const prlimit = findOnPath("prlimit");
  if (prlimit === null) {
    throw new NodewsgiError("E_DAEMON_VMLIMIT", `${at(spec)}virtual-memory-limit= needs util-linux's prlimit on PATH (Node cannot set RLIMIT_AS itself)`);
  }
  const n = spec.virtualMemoryLimit;
  return { execPath: prlimit, execArgv: [`--as=${n}:${n}`, "--", process.execPath] };
}

function findOnPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    // A relative entry would be looked up from wherever the child starts (home=, writable by its user).
    if (!path.isAbsolute(dir)) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** cpu-priority on a freshly forked process; a failure is logged as mod_wsgi logs it. */
export function applyCpuPriority(setup: ProcessSetup, pid: number | undefined, log: ErrorLog): void {
  if (setup.cpuPriority === 0 || pid === undefined) return;
  try {
    os.setPriority(pid, setup.cpuPriority);
  } catch (err) {
    log.log("error", "wsgi", `mod_wsgi (pid=${pid}): Couldn't set CPU priority in daemon process '${setup.cpuPriority}': ${(err as Error).message}`);
  }
}

/**
 * socket-user: chown the process's listening socket (it is created by the child). The directory
 * belongs to the application's user, who could put a symlink where the socket was: lchown never
 * follows one, and anything but a socket is refused.
 */
export function chownSocket(setup: ProcessSetup, socketPath: string, log: ErrorLog): void {
  if (setup.socketUid === undefined) return;
  try {
    if (!fs.lstatSync(socketPath).isSocket()) throw new Error("not a socket");
    fs.lchownSync(socketPath, setup.socketUid, -1);
  } catch (err) {
    log.log("alert", "wsgi", `mod_wsgi: Couldn't change owner of unix domain socket '${socketPath}' to uid=${setup.socketUid}: ${(err as Error).message}`);
  }
}

/** Node has process.initgroups on POSIX; @types/node does not declare it. */
type ProcessWithInitgroups = NodeJS.Process & { initgroups(user: string | number, extraGroup: string | number): void };

/**
 * In the child, before anything else: credentials (setgid, setgroups, setuid), the identity
 * check, the working directory, then umask. Throws (E_DAEMON_SETUP) when any of it fails: the
 * process must not run then.
 */
export function applyProcessInit(init: ProcessInit): void {
  const c = init.credentials;
  if (c) {
    process.setgid!(c.gid);
    if (c.groups !== undefined) process.setgroups!(c.groups);
    else if (c.initgroups !== undefined) (process as ProcessWithInitgroups).initgroups(c.initgroups, c.gid);
    process.setuid!(c.uid);
  }
  if (init.expect !== undefined) {
    const wrong = identityProblem(init.expect);
    if (wrong !== null) throw new NodewsgiError("E_DAEMON_SETUP", `Daemon process identity check failed: ${wrong}`);
  }
  enterWorkingDirectory(init);
  if (init.umask !== undefined) process.umask(init.umask);
}

/**
 * Defence in depth after dropping privileges: the real and effective ids are the ones asked
 * for, the supplementary groups too when they were given, and root cannot be taken back
 * (setuid(0), seteuid(0), setgid(0) and setegid(0) must fail). Null when all holds.
 */
export function identityProblem(want: Identity): string | null {
  const p = process as NodeJS.Process & Required<Pick<NodeJS.Process, "getuid" | "geteuid" | "getgid" | "getegid" | "getgroups" | "setuid" | "seteuid" | "setgid" | "setegid">>;
  const have = `uid=${p.getuid()} euid=${p.geteuid()} gid=${p.getgid()} egid=${p.getegid()}`;
  if (p.getuid() !== want.uid || p.geteuid() !== want.uid || p.getgid() !== want.gid || p.getegid() !== want.gid) {
    return `the process runs as ${have}, expected uid=${want.uid} gid=${want.gid}`;
  }
  if (want.groups !== undefined) {
    const got = [...new Set(p.getgroups())].sort((a, b) => a - b);
    const asked = [...new Set(want.groups)].sort((a, b) => a - b);
    if (got.join(",") !== asked.join(",")) return `the process has supplementary groups ${got.join(",") || "(none)"}, expected ${asked.join(",")}`;
  }
  if (want.uid === 0) return null;
  const regained: string[] = [];
  const attempt = (name: string, call: () => void): void => {
    try {
      call();
      regained.push(name);
    } catch {
      /* refused, as it must be */
    }
  };
  attempt("setuid(0)", () => p.setuid(0));
  attempt("seteuid(0)", () => p.seteuid(0));
  if (want.gid !== 0) {
    attempt("setgid(0)", () => p.setgid(0));
    attempt("setegid(0)", () => p.setegid(0));
  }
  return regained.length === 0 ? null : `the process could take root back after switching to uid=${want.uid} gid=${want.gid} (${regained.join(", ")} succeeded)`;
}

/**
 * home=, else (mod_wsgi 4.9's wsgi_setup_access) the home directory of the process's user when
 * it runs as another user than the server, else the server's own working directory. Entered as
 * the user, after the switch: a directory the user cannot enter is a failure, as there.
 */
function enterWorkingDirectory(init: ProcessInit): void {
  if (init.home !== undefined) {
    try {
      process.chdir(init.home);
    } catch (err) {
      throw new NodewsgiError("E_DAEMON_SETUP", `Unable to change working directory to '${init.home}'`, { cause: err });
    }
    return;
  }
  if (init.serverUid === undefined || typeof process.geteuid !== "function") return;
  const euid = process.geteuid();
  if (euid === init.serverUid) return;
  const home = accountHome("/etc/passwd", euid);
  if (home === null) throw new NodewsgiError("E_DAEMON_SETUP", `Unable to determine home directory for uid=${euid}`);
  try {
    process.chdir(home);
  } catch (err) {
    throw new NodewsgiError("E_DAEMON_SETUP", `Unable to change working directory to home directory '${home}' for uid=${euid}`, { cause: err });
  }
}

/**
 * A daemon process's set-up failure as mod_wsgi logs it: the system error first as Apache
 * writes it (`(2)No such file or directory: `), then `mod_wsgi (pid=N): ` and the reason.
 */
export function setupFailureLine(err: unknown, group: string): string {
  const e = err as NodewsgiError;
  const sys = e?.cause as NodeJS.ErrnoException | undefined;
  let prefix = "";
  if (sys && typeof sys.errno === "number") {
    // Node's message is `CODE: description, call ...`.
    const text = /^[A-Z0-9]+: ([^,]+)/.exec(sys.message)?.[1] ?? sys.code ?? "";
    prefix = `(${Math.abs(sys.errno)})${text.charAt(0).toUpperCase()}${text.slice(1)}: `;
  }
  const what = e?.code === "E_DAEMON_SETUP" ? e.message : `Unable to set up daemon process '${group}': ${(err as Error)?.message ?? err}`;
  return `${prefix}mod_wsgi (pid=${process.pid}): ${what}.`;
}
