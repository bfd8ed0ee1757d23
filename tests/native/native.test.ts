// Native multi-threaded C tests: each program in this directory is linked statically with
// libhakmem.a (so hakmem serves every malloc/free of the binary, libc's own included), built for
// every target and flavour, and run: natively on x86_64, under qemu-user (cortex-a53) for
// aarch64. The programs verify block contents before every free and exit non-zero (or abort) on a
// mismatch; they print their seed, and HAKMEM_TEST_SEED=<seed> replays a failing run.
//
// HAKMEM_NATIVE_SCALE multiplies the amount of work (default 1: each program takes a few seconds
// natively; the emulated and debug runs use a smaller share, see scaleFor).

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hakmem } from "../../bindings/hakmem.ts";
import { buildExecutable } from "../../tasks/build/build.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { buildDir, type Flavour, runnerPrefix, type TargetName } from "../../tasks/lib/targets.ts";
import { describeRun, ensureLibrary, run, testSeed } from "./proc.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

const TARGET_NAMES: readonly TargetName[] = [
  "x86_64-linux-gnu",
  "x86_64-linux-gnu-nopmu",
  "aarch64-linux-gnu",
];
const FLAVOUR_NAMES: readonly Flavour[] = ["release", "debug"];
const PROGRAMS = [
  "mt_churn",
  "remote_free",
  "thread_churn",
  "fork_mt",
  "page_size",
  "ace_mt",
  "hot_bound",
] as const;

const C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"];
const TIMEOUT_MS = 120_000;

function isEmulated(target: TargetName): boolean {
  return runnerPrefix(target).length > 0;
}

/** Work multiplier passed to a program. qemu-user runs these programs a few times slower than
 * native code (they spend much of their time in memset-like loops and syscalls), debug builds are
 * slower too; both get a smaller share so each run stays a few seconds. */
function scaleFor(target: TargetName, flavour: Flavour): number {
  const base = Number(Deno.env.get("HAKMEM_NATIVE_SCALE") ?? "1");
  let s = Number.isFinite(base) && base > 0 ? base : 1;
  if (isEmulated(target)) s *= 0.5;
  if (flavour === "debug") s *= 0.5;
  return s;
}

/** Why the programs of `target` cannot run here, or null when they can. */
async function missingRunner(target: TargetName): Promise<string | null> {
  const prefix = runnerPrefix(target);
  if (prefix.length === 0) return null;
  if (!(await probeOk(prefix[0]))) {
    return `${prefix[0]} is not installed (Debian package qemu-user-static)`;
  }
  const l = prefix.indexOf("-L");
  const sysroot = l >= 0 ? prefix[l + 1] : undefined;
  if (sysroot && !(await probeOk(sysroot))) {
    return `${sysroot} is missing (Debian package libc6-arm64-cross)`;
  }
  return null;
}

async function buildProgram(target: TargetName, flavour: Flavour, name: string): Promise<string> {
  return await buildExecutable({
    target,
    flavour,
    sources: [join(HERE, `${name}.c`)],
    out: join(buildDir(target, flavour), "bin", "native", name),
    link: "static-hakmem",
    extraFlags: C_FLAGS,
  });
}

/** Builds and runs one program; throws with its whole output unless it printed "<prog>: OK" and
 * exited 0 within the time limit. */
async function runNative(
  t: Deno.TestContext,
  target: TargetName,
  flavour: Flavour,
  prog: string,
  env: Record<string, string> = {},
): Promise<string | null> {
  const missing = await missingRunner(target);
  if (missing) {
    skipOrFail(t, missing);
    return null;
  }
  await ensureLibrary(target, flavour);
  const exe = await buildProgram(target, flavour, prog);
  const seed = testSeed();
  const scale = scaleFor(target, flavour);
  const r = await run([...runnerPrefix(target), exe, seed, String(scale)], {
    timeoutMs: TIMEOUT_MS,
    scrub: true,
    env,
  });
  const label = `${prog} ${target} ${flavour}${
    Object.entries(env).map(([k, v]) => ` ${k}=${v}`).join("")
  }`;
  if (r.timedOut || r.signal !== null || r.code !== 0 || !r.stdout.includes(`${prog}: OK`)) {
    throw new Error(`${label} failed (replay with HAKMEM_TEST_SEED=${seed})\n${describeRun(r)}`);
  }
  console.log(`${label}: ${r.seconds.toFixed(2)} s, seed ${seed}, scale ${scale}`);
  return r.stdout;
}

for (const target of TARGET_NAMES) {
  for (const flavour of FLAVOUR_NAMES) {
    for (const prog of PROGRAMS) {
      Deno.test(`native ${prog} ${target} ${flavour}`, async (t) => {
        const stdout = await runNative(t, target, flavour, prog);
        if (stdout !== null && prog === "page_size") await checkPageSize(target, stdout);
      });
    }
  }
}

// The other modes (from the library's options table) and a few knobs that change the paths
// blocks take (thread caches off, no BigCache, immediate unmapping), on the main target.
const table = Hakmem.open((await ensureLibrary("x86_64-linux-gnu", "release")).so).optionsTable();
const VARIANTS: Record<string, string>[] = [
  ...table.modes.filter((m) => m !== table.default_mode).map((m) => ({ HAKMEM_MODE: m })),
  // ACE ticking every 10 ms: its thread changes knobs while the program allocates
  { HAKMEM_MODE: "learning", HAKMEM_ACE_FAST_INTERVAL_MS: "10", HAKMEM_ACE_SLOW_INTERVAL_MS: "50" },
  { HAKMEM_TCACHE: "0" },
  { HAKMEM_BIGCACHE: "0", HAKMEM_FREE_POLICY: "unmap" },
  { HAKMEM_TCACHE_CAP: "1", HAKMEM_REMOTE_DRAIN_THRESHOLD: "1", HAKMEM_BUNDLE: "1" },
];
for (const env of VARIANTS) {
  for (const prog of ["mt_churn", "remote_free", "thread_churn"]) {
    const desc = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
    Deno.test(`native ${prog} x86_64-linux-gnu release ${desc}`, async (t) => {
      await runNative(t, "x86_64-linux-gnu", "release", prog, env);
    });
  }
}

/** The page size a program saw must be the host's: qemu-user hands the guest the host's pages
 * (the allocator reads the page size at run time, so any size works). */
async function checkPageSize(target: TargetName, stdout: string): Promise<void> {
  const m = stdout.match(/sysconf\(_SC_PAGESIZE\)=(\d+)/);
  if (!m) throw new Error(`page_size (${target}) printed no page size:\n${stdout}`);
  const seen = Number(m[1]);
  const host = await run(["getconf", "PAGESIZE"]);
  if (host.code === 0) {
    const hostPage = Number(host.stdout.trim());
    if (seen !== hostPage) {
      throw new Error(`page_size (${target}) saw ${seen}-byte pages, the host has ${hostPage}`);
    }
  }
}
