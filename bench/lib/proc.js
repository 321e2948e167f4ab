"use strict";
/**
 * Server CPU time and memory from /proc, summed over a process tree: a daemon group's children,
 * Apache's workers and worker_threads (threads are already inside their process's figures).
 */
const fs = require("node:fs");
const { execFileSync } = require("node:child_process");

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
} catch {
  // getconf missing: Linux has used 100 for USER_HZ for decades.
}
let pageSize = 4096;
try {
  pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
} catch {
  // keep 4096
}

/**
 * Fields of /proc/PID/stat after the command name (which may contain spaces and parentheses).
 * Returns { ppid, cpuTicks } where cpuTicks = utime + stime + cutime + cstime: reaped children's
 * time lands in the parent's cutime/cstime, so a recycled daemon child is still counted.
 */
function parseStat(text) {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state); utime is field 14 => f[11].
  return { ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

function readStat(pid) {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** `root` and every live descendant. */
function processTree(root) {
  const children = new Map();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(Number(name));
    else children.set(st.ppid, [Number(name)]);
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

/** CPU seconds used so far by the tree under `root`. */
function treeCpuSeconds(root) {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / clockTicks;
}

/** Resident memory of each live process of the tree under `root`, in bytes: Map pid -> bytes. */
function rssByPid(root) {
  const out = new Map();
  for (const pid of processTree(root)) {
    try {
      out.set(pid, Number(fs.readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * pageSize);
    } catch {
      // exited between the listing and the read
    }
  }
  return out;
}

/** Resident memory of the tree under `root`, in bytes. */
function treeRssBytes(root) {
  let bytes = 0;
  for (const b of rssByPid(root).values()) bytes += b;
  return bytes;
}

module.exports = { parseStat, processTree, treeCpuSeconds, treeRssBytes, rssByPid, clockTicks };

/**
 * Per-CPU counters from /proc/stat, in ticks: { cpuN: { busy, steal, total } }. Busy is user, nice
 * and system time, which processes are charged for; irq/softirq time (partly the server's own
 * loopback traffic) is left out so it is not mistaken for someone else's load. Steal is time the
 * hypervisor gave to another guest.
 */
function cpuCounters(text = fs.readFileSync("/proc/stat", "utf8")) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    const busy = user + nice + system;
    out[m[1]] = { busy, steal: steal || 0, total: busy + idle + (iowait || 0) + (irq || 0) + (softirq || 0) + (steal || 0) };
  }
  return out;
}

/** Share of `cpu`'s time between two cpuCounters() snapshots that was busy / stolen. */
function cpuShares(before, after, cpu) {
  const a = before[cpu];
  const b = after[cpu];
  if (!a || !b || b.total <= a.total) return { busy: NaN, steal: NaN };
  const total = b.total - a.total;
  return { busy: (b.busy - a.busy) / total, steal: (b.steal - a.steal) / total };
}

module.exports.cpuCounters = cpuCounters;
module.exports.cpuShares = cpuShares;
