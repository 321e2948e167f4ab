/**
 * What a daemon process is started with beyond its user and group: umask=,
 * supplementary-groups=, cpu-priority=, virtual-memory-limit= and socket-user=, resolved once
 * per group (names to ids, errors at startup) and applied at each spawn.
 *
 * - umask and credentials travel in the child's init and are applied first thing in its main,
 *   before any application code loads (ProcessInit, applyProcessInit).
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
import { accountName } from "./account-files";

/** Applied by the child at the start of its main (see applyProcessInit). */
export interface ProcessInit {
  umask?: number;
  /** `groups`: supplementary-groups=; `initgroups`: the user whose groups the process gets (initgroups). */
  credentials?: { uid: number; gid: number; groups?: number[]; initgroups?: string | number };
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
  let forkIds = ids;
  let socketUid: number | undefined;
  if (!root && (spec.supplementaryGroups.length > 0 || spec.socketUser)) {
    log.log("notice", "wsgi", `mod_wsgi: Daemon process '${spec.name}': supplementary-groups/socket-user ignored, the server is not running as root.`);
  } else if (root) {
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

/** In the child, before anything else: credentials (setgid, setgroups, setuid), then umask. */
export function applyProcessInit(init: ProcessInit): void {
  const c = init.credentials;
  if (c) {
    process.setgid!(c.gid);
    if (c.groups !== undefined) process.setgroups!(c.groups);
    else if (c.initgroups !== undefined) (process as ProcessWithInitgroups).initgroups(c.initgroups, c.gid);
    process.setuid!(c.uid);
  }
  if (init.umask !== undefined) process.umask(init.umask);
}
