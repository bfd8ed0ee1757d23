// The security tests' programs (corrupt.c, poison.c): built plainly, with nothing but libc, so the
// same binary runs under glibc's malloc or with hakmem preloaded in one of its configurations:
// release, release with HAKMEM_HARDEN=1, or the debug build (which always hardens).

import { join } from "node:path";
import { buildExecutable } from "../../tasks/build/build.ts";
import { buildDir, type Flavour, ROOT } from "../../tasks/lib/targets.ts";
import { HOST_TARGET } from "../preload/harness.ts";
import { ensureLibrary, run, type RunResult } from "../native/proc.ts";
import { unsetAllocatorVars } from "../../tasks/lib/run.ts";

export type Config = "glibc" | "release" | "hardened" | "debug";
export const CONFIGS: readonly Config[] = ["glibc", "release", "hardened", "debug"];

/** The host target's library (the programs are preloaded, so only the host's). */
export function hostTarget() {
  if (HOST_TARGET === null) throw new Error(`no hakmem target for ${Deno.build.arch}`);
  return HOST_TARGET;
}

/** tests/reliability/<name>.c built for the host, linked with libc and libpthread only. */
export async function buildPlain(name: string): Promise<string> {
  const target = hostTarget();
  return await buildExecutable({
    target,
    flavour: "release",
    sources: [join(ROOT, "tests", "reliability", `${name}.c`)],
    out: join(buildDir(target, "release"), "bin", "reliability", `${name}-plain`),
    link: "none",
    // the programs misuse malloc on purpose: the compiler must keep every call
    extraFlags: ["-Werror", "-fno-builtin"],
  });
}

/** The environment of a configuration: no allocator variable of ours but those given, hakmem
 * preloaded but for glibc. */
export async function configEnv(
  config: Config,
  extra: Record<string, string> = {},
): Promise<Record<string, string | undefined>> {
  const env = unsetAllocatorVars();
  if (config !== "glibc") {
    const flavour: Flavour = config === "debug" ? "debug" : "release";
    env.LD_PRELOAD = (await ensureLibrary(hostTarget(), flavour)).so;
    if (config === "hardened") env.HAKMEM_HARDEN = "1";
  }
  return { ...env, ...extra };
}

export async function runUnder(
  exe: string,
  args: string[],
  config: Config,
  extra: Record<string, string> = {},
): Promise<RunResult> {
  return await run([exe, ...args], { env: await configEnv(config, extra), timeoutMs: 60_000 });
}

/** The lines hakmem wrote on stderr. */
export function hakmemLines(r: RunResult): string[] {
  return r.stderr.split("\n").filter((l) => l.startsWith("hakmem: "));
}
