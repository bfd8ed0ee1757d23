// Debian packages the workbench and the tests need: probe, install with apt-get when we are root,
// else fail with the exact command to run.

import { exists, isMissing } from "./files.ts";
import { run, shellStatus } from "./run.ts";
import { which } from "./toolchain.ts";

export interface PackageNeed {
  /** Debian package name. */
  deb: string;
  /** What it is needed for (shown in messages). */
  why: string;
  /** How to tell it is there: an absolute path that must exist, or a command that must be on
   * PATH. */
  probe: string;
}

/** True when the probe of a package is satisfied. */
export async function probeOk(probe: string): Promise<boolean> {
  if (probe.startsWith("/")) return await exists(probe);
  return (await which(probe)) !== null;
}

/** The apt-get command line that installs `debs`. */
export function installLine(debs: string[]): string {
  return `apt-get install -y --no-install-recommends ${debs.join(" ")}`;
}

function describe(missing: PackageNeed[]): string {
  return missing.map((p) => `  ${p.deb} (${p.why}; probe: ${p.probe})`).join("\n");
}

async function aptListsEmpty(): Promise<boolean> {
  try {
    for await (const e of Deno.readDir("/var/lib/apt/lists")) {
      if (e.name.endsWith("_Packages") || e.name.includes("_Packages.")) return false;
    }
  } catch (e) {
    if (!isMissing(e)) throw e; // no lists directory: as empty as it gets
  }
  return true;
}

async function apt(args: string[]): Promise<number> {
  console.error(`[deps] apt-get ${args.join(" ")}`);
  const res = await run("apt-get", args, {
    env: { DEBIAN_FRONTEND: "noninteractive" },
    inherit: true,
  });
  return shellStatus(res);
}

/**
 * Makes sure every package in `pkgs` is present. Missing ones are installed with
 * `apt-get install -y --no-install-recommends` when running as root on a system with apt-get
 * (running `apt-get update` first when the package lists are empty or the install fails).
 * Otherwise throws an error carrying the exact install line.
 */
export async function ensurePackages(pkgs: PackageNeed[]): Promise<void> {
  const missing: PackageNeed[] = [];
  for (const p of pkgs) if (!(await probeOk(p.probe))) missing.push(p);
  if (missing.length === 0) return;
  const debs = [...new Set(missing.map((p) => p.deb))];
  const line = installLine(debs);
  const canInstall = Deno.uid() === 0 && (await which("apt-get")) !== null;
  if (!canInstall) {
    const how = (await which("apt-get")) ? `sudo ${line}` : line;
    throw new Error(`missing packages:\n${describe(missing)}\ninstall them with:\n  ${how}`);
  }
  console.error(`[deps] installing missing packages:\n${describe(missing)}`);
  let updated = false;
  if (await aptListsEmpty()) {
    if (await apt(["update"]) !== 0) throw new Error(`apt-get update failed; then run: ${line}`);
    updated = true;
  }
  let code = await apt(["install", "-y", "--no-install-recommends", ...debs]);
  if (code !== 0 && !updated) {
    if (await apt(["update"]) !== 0) throw new Error(`apt-get update failed; then run: ${line}`);
    code = await apt(["install", "-y", "--no-install-recommends", ...debs]);
  }
  if (code !== 0) throw new Error(`installing packages failed (exit ${code}): ${line}`);
  const still: PackageNeed[] = [];
  for (const p of missing) if (!(await probeOk(p.probe))) still.push(p);
  if (still.length > 0) {
    throw new Error(`installed, but still missing:\n${describe(still)}`);
  }
}
