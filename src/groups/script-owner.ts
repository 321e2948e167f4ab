/**
 * WSGIDaemonProcess script-user= / script-group=: a request may run a script in the group only
 * when the script file, and the directory holding it, belong to that user (group) and cannot be
 * changed by anyone else. mod_wsgi checks this before it contacts the daemon, answers 403, and
 * logs why (the messages below are its own, followed by `: ` and the script's path).
 *
 * The check is built once per group, and only for groups with one of the options. Its stats go
 * through the map phase's stat cache (walk.ts): the script's is the one the directory walk just
 * made, its directory's is made once per STAT_TTL_MS, so a chown or chmod is seen within that
 * time, as a new or removed file is.
 */
import * as fs from "node:fs";
import type { DaemonProcessSpec } from "../config/model";
import { NodewsgiError } from "../errors";
import { cachedStat } from "../map/walk";
import { accountName } from "./account-files";

/** Why the script (a byte string, as AppRequest.script) may not run here (a log line without the path), or null when it may. */
export type ScriptOwnerCheck = (script: string) => string | null;

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

export function scriptOwnerCheck(spec: DaemonProcessSpec): ScriptOwnerCheck | null {
  if (spec.scriptUser !== undefined) {
    const user = requiredName(spec, "/etc/passwd", spec.scriptUser, "Couldn't determine uid from script user.");
    return (script) => checkUser(user, script);
  }
  if (spec.scriptGroup !== undefined) {
    const group = requiredName(spec, "/etc/group", spec.scriptGroup, "Couldn't determine gid from script group.");
    return (script) => checkGroup(group, script);
  }
  return null;
}

/** The name a file's owner must have: `#N` is a uid (gid), named once here, as mod_wsgi does at load. */
function requiredName(spec: DaemonProcessSpec, file: string, value: string, unknown: string): string {
  if (!/^#\d+$/.test(value)) return value;
  const name = accountName(file, Number(value.slice(1)));
  if (name === null) throw new NodewsgiError("E_DAEMON_SCRIPT_OWNER", `${spec.where.file}:${spec.where.line}: WSGIDaemonProcess ${spec.name}: ${unknown} (${value})`);
  return name;
}

function checkUser(required: string, script: string): string | null {
  const st = statOrNull(script);
  if (st === null) return "User information not available for WSGI script file";
  const owner = accountName("/etc/passwd", st.uid);
  if (owner === null) return `Couldn't determine owner of WSGI script file, uid=${st.uid}`;
  if (owner !== required) return `Owner of WSGI script file does not match required user for daemon process, user=${owner}`;
  if (st.mode & S_IWGRP) return "WSGI script file is writable to group";
  if (st.mode & S_IWOTH) return "WSGI script file is writable to world";
  const dir = statOrNull(parentOf(script));
  if (dir === null) return "Unable to stat parent directory of WSGI script";
  const dirOwner = accountName("/etc/passwd", dir.uid);
  if (dirOwner === null) return `Couldn't determine owner of parent directory of WSGI script file, uid=${dir.uid}`;
  if (dirOwner !== required) return `Owner of parent directory of WSGI script file does not match required user for daemon process, user=${dirOwner}`;
  if (dir.mode & S_IWOTH) return "Parent directory of WSGI script file is writable to world";
  if (dir.mode & S_IWGRP) return "Parent directory of WSGI script file is writable to group";
  return null;
}

function checkGroup(required: string, script: string): string | null {
  const st = statOrNull(script);
  if (st === null) return "Group information not available for WSGI script file";
  const group = accountName("/etc/group", st.gid);
  if (group === null) return `Couldn't determine group of WSGI script file, gid=${st.gid}`;
  if (group !== required) return `Group of WSGI script file does not match required group for daemon process, group=${group}`;
  if (st.mode & S_IWOTH) return "WSGI script file is writable to world";
  const dir = statOrNull(parentOf(script));
  if (dir === null) return "Unable to stat parent directory of WSGI script";
  const dirGroup = accountName("/etc/group", dir.gid);
  if (dirGroup === null) return `Couldn't determine group of parent directory of WSGI script file, gid=${dir.gid}`;
  if (dirGroup !== required) return `Group of parent directory of WSGI script file does not match required group for daemon process, group=${dirGroup}`;
  if (dir.mode & S_IWOTH) return "Parent directory of WSGI script file is writable to world";
  return null;
}

function statOrNull(p: string): fs.Stats | null {
  return cachedStat(p).stat ?? null;
}

/** The directory holding the script. */
function parentOf(script: string): string {
  const i = script.lastIndexOf("/");
  return i <= 0 ? "/" : script.slice(0, i);
}
