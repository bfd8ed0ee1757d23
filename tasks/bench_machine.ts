// What a bench run records of the machine it ran on: CPU, cores, kernel, glibc, zig, Deno and the
// repository's commit (results.json → machine).

import { glibcVersion } from "./peers.ts";
import { ROOT } from "./targets.ts";
import { runCommand, zigVersion } from "./toolchain.ts";
import type { MachineInfo } from "./bench_stats.ts";

async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  try {
    const r = await runCommand(cmd, args);
    if (r.code !== 0) return null;
    return (r.stdout || r.stderr).split("\n")[0].trim() || null;
  } catch {
    return null;
  }
}

async function cpuModel(): Promise<string> {
  try {
    const text = await Deno.readTextFile("/proc/cpuinfo");
    const m = /^(?:model name|Model|Hardware|cpu model)\s*:\s*(.+)$/m.exec(text);
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return Deno.build.arch;
}

export async function machineInfo(): Promise<MachineInfo> {
  let kernel = "unknown";
  try {
    kernel = Deno.osRelease();
  } catch {
    kernel = (await firstLine("uname", ["-r"])) ?? "unknown";
  }
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
