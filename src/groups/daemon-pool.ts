/**
 * All WSGIDaemonProcess groups of a configuration: one DaemonGroup per spec, their sockets
 * under one private 0700 directory, WSGIImportScript lines routed to their group.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ApplicationHost, AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import type { ServerConfig } from "../config/model";
import { DaemonGroup, type DaemonGroupOptions } from "./daemon-supervisor";
import { sendServerErrorPage } from "../static/error-page";
import { textOf, toByteString } from "../engine/byte-string";

export interface DaemonPoolOptions {
  /** Apache's `Timeout` (seconds), the meaning of socket-timeout=0. Default 60. */
  apacheTimeout?: number;
  /** WSGIScriptReloading for daemon groups (default true). */
  scriptReloading?: boolean;
  /** Parent directory for the private socket directory (default os.tmpdir()). */
  socketParent?: string;
  childModule?: string;
  env?: NodeJS.ProcessEnv;
}

export class DaemonPool implements ApplicationHost {
  readonly groups = new Map<string, DaemonGroup>();
  readonly socketDir: string;

  constructor(
    config: Pick<ServerConfig, "daemonProcesses">,
    private readonly log: ErrorLog,
    options: DaemonPoolOptions = {},
  ) {
    // Short path: Unix socket paths are limited to 107 bytes.
    this.socketDir = fs.mkdtempSync(path.join(options.socketParent ?? os.tmpdir(), "nwsgi-"));
    // Traversable (not listable) by others: a group running as another user (user=) binds its
    // sockets in its own 0700 subdirectory, which it owns.
    fs.chmodSync(this.socketDir, 0o711);
    let i = 0;
    for (const spec of config.daemonProcesses.values()) {
      const opts: DaemonGroupOptions = {
        socketDir: path.join(this.socketDir, `g${i++}`),
        ...(options.apacheTimeout !== undefined ? { apacheTimeout: options.apacheTimeout } : {}),
        ...(options.scriptReloading !== undefined ? { scriptReloading: options.scriptReloading } : {}),
        ...(options.childModule !== undefined ? { childModule: options.childModule } : {}),
        ...(options.env !== undefined ? { env: options.env } : {}),
      };
      // Keyed by the name's bytes: requests name their group as a byte string (map/groups.ts).
      this.groups.set(toByteString(spec.name), new DaemonGroup(spec, log, opts));
    }
  }

  /** Spawn every group's processes and run the WSGIImportScript lines aimed at them. */
  async start(importScripts: ServerConfig["importScripts"] = []): Promise<void> {
    for (const g of this.groups.values()) g.start();
    const preloads: Promise<void>[] = [];
    for (const s of importScripts) {
      const g = s.processGroup === "" ? undefined : this.groups.get(toByteString(s.processGroup));
      if (g) preloads.push(g.preload(toByteString(s.script), "", toByteString(s.applicationGroup)));
    }
    await Promise.all(preloads);
  }

  /** `name`: a byte string, as requests carry it. */
  get(name: string): DaemonGroup | undefined {
    return this.groups.get(name);
  }

  /** Route by `req.processGroup`; an unknown group is a 500, as mod_wsgi. */
  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> {
    const g = this.groups.get(req.processGroup);
    if (g) return g.dispatch(req, body, sink);
    this.log.log("error", "wsgi", `${req.logPrefix}No WSGI daemon process called '${textOf(req.processGroup)}' has been configured: ${textOf(req.script)}`);
    if (!sink.aborted) sendServerErrorPage(sink, 500, { method: req.method });
    return Promise.resolve();
  }

  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    const g = this.groups.get(req.processGroup);
    if (g) return g.dispatchDetached(req, body, sink);
    return this.dispatch(req, body, sink);
  }

  /** Preload in `processGroup`, or in every group when it is omitted. */
  async preload(script: string, callable: string, applicationGroup: string, processGroup?: string): Promise<void> {
    const targets = processGroup !== undefined ? [this.groups.get(processGroup)].filter((g): g is DaemonGroup => !!g) : [...this.groups.values()];
    await Promise.all(targets.map((g) => g.preload(script, callable, applicationGroup)));
  }

  /** Groups closing end within `graceMs` from now at the latest (DaemonGroup.hurry). */
  hurry(graceMs: number): void {
    for (const g of this.groups.values()) g.hurry(graceMs);
  }

  /** `evicting`: a graceful restart (each group's eviction-timeout applies, DaemonGroup.close). */
  async close(graceMs: number, evicting = false): Promise<void> {
    await Promise.all([...this.groups.values()].map((g) => g.close(graceMs, evicting)));
    fs.rmSync(this.socketDir, { recursive: true, force: true });
  }
}
