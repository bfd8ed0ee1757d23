// Build targets, flavours and where their outputs live. Other parts of the workbench and the tests
// import this module, so it stays free of side effects.

import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export type TargetName = "x86_64-linux-gnu" | "x86_64-linux-gnu-nopmu" | "aarch64-linux-gnu";
export type Flavour = "release" | "debug";

export interface TargetInfo {
  /** Name used on the command line and in dist/<name>/. */
  name: TargetName;
  /** CPU architecture the code runs on. */
  arch: "x86_64" | "aarch64";
  /** zig cc -target triple; the .2.17 suffix pins the glibc symbol versions we link against. */
  zigTarget: string;
  /** zig cc -mcpu: the baseline CPU of the architecture, so no newer instruction sneaks in. */
  mcpu: string;
  /** Extra preprocessor flags of this target. */
  defines: readonly string[];
  description: string;
}

/** Oldest glibc the libraries must load on: no versioned symbol newer than this may be needed. */
export const GLIBC_FLOOR = "2.17";

export const TARGETS: readonly TargetInfo[] = [
  {
    name: "x86_64-linux-gnu",
    arch: "x86_64",
    zigTarget: `x86_64-linux-gnu.${GLIBC_FLOOR}`,
    mcpu: "x86_64",
    defines: ["-DHAK_PMU=1"],
    description: "x86_64 baseline (SSE2), with the PMU (rdpmc / perf_event) reader",
  },
  {
    name: "x86_64-linux-gnu-nopmu",
    arch: "x86_64",
    zigTarget: `x86_64-linux-gnu.${GLIBC_FLOOR}`,
    mcpu: "x86_64",
    defines: [],
    description: "x86_64 baseline (SSE2), PMU reader compiled out",
  },
  {
    name: "aarch64-linux-gnu",
    arch: "aarch64",
    zigTarget: `aarch64-linux-gnu.${GLIBC_FLOOR}`,
    mcpu: "generic",
    defines: [],
    description: "ARMv8.0-A baseline (no LSE atomics), runs under qemu cortex-a53 in the tests",
  },
];

export const FLAVOURS: readonly Flavour[] = ["release", "debug"];

/** Absolute path of the repository root (no trailing slash): this file is tasks/lib/targets.ts. */
export const ROOT: string = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export function isTargetName(name: string): name is TargetName {
  return TARGETS.some((t) => t.name === name);
}

export function isFlavour(name: string): name is Flavour {
  return (FLAVOURS as readonly string[]).includes(name);
}

/** The TargetInfo of `name`; throws an error listing the valid names for an unknown one. */
export function targetInfo(name: string): TargetInfo {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) {
    throw new Error(
      `unknown target "${name}"; valid targets: ${TARGETS.map((x) => x.name).join(", ")}`,
    );
  }
  return t;
}

/** Checks a flavour name; throws an error listing the valid ones. */
export function flavourOf(name: string): Flavour {
  if (!isFlavour(name)) {
    throw new Error(`unknown flavour "${name}"; valid flavours: ${FLAVOURS.join(", ")}`);
  }
  return name;
}

/** ROOT/dist/<target>/<flavour>: libhakmem.so, libhakmem.a, include/hakmem.h. */
export function distDir(target: TargetName, flavour: Flavour): string {
  return join(ROOT, "dist", target, flavour);
}

/** ROOT/build/<target>/<flavour>: objects, stamps, test executables (bin/). */
export function buildDir(target: TargetName, flavour: Flavour): string {
  return join(ROOT, "build", target, flavour);
}

/** The architecture of the machine running the workbench. */
export function hostArch(): string {
  return Deno.build.arch;
}

/**
 * Command prefix that runs an executable of `target` on this machine: [] when the host runs it
 * natively, else qemu user mode with an ARMv8.0 CPU (cortex-a53) so that an instruction newer than
 * the baseline (e.g. LSE atomics) faults, and the cross glibc of libc6-arm64-cross as sysroot.
 */
export function runnerPrefix(target: TargetName): string[] {
  const t = targetInfo(target);
  if (t.arch === hostArch()) return [];
  if (t.arch === "aarch64") {
    return ["qemu-aarch64-static", "-cpu", "cortex-a53", "-L", "/usr/aarch64-linux-gnu"];
  }
  return ["qemu-x86_64-static", "-cpu", "qemu64"];
}
