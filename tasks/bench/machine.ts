// What a bench run records of the machine it ran on: CPU, cores, kernel, glibc, zig, Deno and the
// repository's commit (results.json → machine).

import { glibcVersion } from "../peers/peers.ts";
import { ROOT } from "../lib/targets.ts";
import { readTextIfPresent } from "../lib/files.ts";
import { runIfPresent } from "../lib/run.ts";
import { zigVersion } from "../lib/toolchain.ts";
import type { MachineInfo } from "./stats.ts";

async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  const r = await runIfPresent(cmd, args); // null: no such program here, nothing to record
  if (r === null || r.code !== 0) return null;
  return (r.stdout || r.stderr).split("\n")[0].trim() || null;
}

async function cpuModel(): Promise<string> {
  const text = await readTextIfPresent("/proc/cpuinfo"); // absent: not Linux
  const m = /^(?:model name|Model|Hardware|cpu model)\s*:\s*(.+)$/m.exec(text ?? "");
  return m ? m[1].trim() : Deno.build.arch;
}

export async function machineInfo(): Promise<MachineInfo> {
  // Deno.osRelease needs --allow-sys; without it, uname says the same
  const kernel = Deno.permissions.querySync({ name: "sys", kind: "osRelease" }).state === "granted"
    ? Deno.osRelease()
    : (await firstLine("uname", ["-r"])) ?? "unknown";
  const commit = await firstLine("git", ["-C", ROOT, "rev-parse", "HEAD"]);
  return {
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency || 1,
    kernel,
    glibc: await glibcVersion(),
    zig: await zigVersion(),
    deno: Deno.version.deno,
    commit: commit && /^[0-9a-f]{40}$/.test(commit) ? commit : null,
  };
}
