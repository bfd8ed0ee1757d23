// Shared helpers of the LD_PRELOAD tests (preload.test.ts, programs.test.ts): run a real program
// once without and once with LD_PRELOAD=dist/<host target>/<flavour>/libhakmem.so, compare the
// outputs, and prove from hakmem's own statistics that it served the preloaded run.
//
// A process that forks or execs children has every hakmem process write the same
// HAKMEM_STATS_FILE at its exit: the last writer wins. Each of them is a hakmem process, so
// allocs > 0 holds whichever wrote last. To see every process of a pipeline (gcc → cc1 → as),
// run with HAKMEM_STATS=1 and read the per-process blocks on stderr with `stderrStats`.

import { join } from "node:path";
import { buildExecutable } from "../../tasks/build/build.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { buildDir, type Flavour, type TargetName } from "../../tasks/lib/targets.ts";
import { unsetAllocatorVars } from "../../tasks/lib/run.ts";
import { parseAs, parseJson, z } from "../../tasks/lib/schema.ts";
import { assertSuccess, describeRun, ensureLibrary, run, type RunResult } from "../native/proc.ts";

export const TIMEOUT_MS = 120_000;

/** The library that can be preloaded into this machine's programs. */
export const HOST_TARGET: TargetName | null = Deno.build.arch === "x86_64"
  ? "x86_64-linux-gnu"
  : Deno.build.arch === "aarch64"
  ? "aarch64-linux-gnu"
  : null;

export interface Pair {
  plain: RunResult;
  preloaded: RunResult;
  /** The stats JSON of the preloaded run. */
  stats: HakStats;
}

const TierStats = z.object({ allocs: z.number().int().nonnegative(), frees: z.number().int() });

/** The fields of a HAKMEM_STATS_FILE these tests read (bindings/hakmem.ts checks every field
 * against the library's layout); a run that hakmem served shows tiny allocations. */
const HakStats = z.object({
  version: z.number().int(),
  tiers: z.object({
    tiny: TierStats.extend({
      allocs: z.number().int().positive("positive: hakmem served malloc"),
    }),
    mid: TierStats,
    large: TierStats,
  }),
});
export type HakStats = z.infer<typeof HakStats>;

/** Environment of both runs: no allocator variable from the caller (tasks/lib/run.ts's cleanEnv),
 * fixed locale and time zone. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return unsetAllocatorVars({ LC_ALL: "C", TZ: "UTC", ...extra });
}

/** Reads a HAKMEM_STATS_FILE; throws unless it is JSON showing tiny allocations. */
export async function readStats(path: string, what: string): Promise<HakStats> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${what}: HAKMEM_STATS_FILE ${path} was not written (${e})`, { cause: e });
  }
  const file = `${what}: stats file ${path}`;
  return parseAs(HakStats, parseJson(text, file), `${file} (${text.trim()})`);
}

/** Runs argv without and with the preloaded library; both must exit 0 with the same stdout. */
export async function runBoth(
  argv: string[],
  so: string,
  tmp: string,
  what: string,
  opts: {
    env?: Record<string, string>;
    /** Added to the preloaded run only (e.g. HAKMEM_STATS=1). */
    envPreloaded?: Record<string, string>;
    cwdPlain?: string;
    cwdPreloaded?: string;
    timeoutMs?: number;
  } = {},
): Promise<Pair> {
  const statsFile = join(tmp, `stats-${crypto.randomUUID().slice(0, 8)}.json`);
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const plain = await run(argv, { env: baseEnv(opts.env), cwd: opts.cwdPlain, timeoutMs });
  assertSuccess(plain, `${what} (without hakmem)`);
  const preloaded = await run(argv, {
    env: baseEnv({
      ...opts.env,
      ...opts.envPreloaded,
      LD_PRELOAD: so,
      HAKMEM_STATS_FILE: statsFile,
    }),
    cwd: opts.cwdPreloaded ?? opts.cwdPlain,
    timeoutMs,
  });
  assertSuccess(preloaded, `${what} (LD_PRELOAD=${so})`);
  if (plain.stdout !== preloaded.stdout) {
    throw new Error(
      `${what}: output differs with hakmem preloaded\n=== without ===\n${
        describeRun(plain)
      }\n=== with ===\n${describeRun(preloaded)}`,
    );
  }
  const stats = await readStats(statsFile, what);
  return { plain, preloaded, stats };
}

/** The "libhakmem mapped: yes|no" line a fixture prints on stderr. */
export function assertMapped(p: Pair, what: string): void {
  if (!p.plain.stderr.includes("libhakmem mapped: no")) {
    throw new Error(`${what}: libhakmem.so mapped without LD_PRELOAD?\n${describeRun(p.plain)}`);
  }
  if (!p.preloaded.stderr.includes("libhakmem mapped: yes")) {
    throw new Error(`${what}: libhakmem.so not in /proc/self/maps\n${describeRun(p.preloaded)}`);
  }
}

export function summary(p: Pair): string {
  const t = p.stats.tiers;
  return `allocs tiny=${t.tiny.allocs} mid=${t.mid?.allocs} large=${t.large?.allocs}; ` +
    `${p.plain.seconds.toFixed(2)} s without, ${p.preloaded.seconds.toFixed(2)} s with hakmem`;
}

/** Common set-up: the library of the host target and a temporary directory. */
export async function setup(
  t: Deno.TestContext,
  flavour: Flavour,
  target: TargetName | null = HOST_TARGET,
): Promise<{ target: TargetName; so: string; tmp: string } | null> {
  if (target === null) {
    skipOrFail(t, `no hakmem target for host architecture ${Deno.build.arch}`);
    return null;
  }
  const files = await ensureLibrary(target, flavour);
  const tmp = await Deno.makeTempDir({ prefix: "hakmem-preload-" });
  return { target, so: files.so, tmp };
}

/** What a fixture test gets: the preloadable library, a temporary directory, the program. */
export interface FixtureRun {
  so: string;
  tmp: string;
  exe: string;
}

/** A test of a C program of fixtures/ (built for the host, release, linked plainly; -ldl for the
 * dlsym lookups of programs on the glibc 2.17 floor) with the host library of `flavour`; the
 * temporary directory is removed afterwards. */
export function fixtureTest(
  name: string,
  flavour: Flavour,
  fixture: string,
  fn: (c: FixtureRun) => Promise<void>,
): void {
  Deno.test(name, async (t) => {
    const s = await setup(t, flavour);
    if (!s) return;
    try {
      const base = fixture.replace(/^.*\//, "").replace(/\.c$/, "");
      const exe = await buildExecutable({
        target: s.target,
        flavour: "release",
        sources: [fixture],
        out: join(buildDir(s.target, "release"), "bin", "preload", base),
        link: "none",
        extraFlags: ["-Werror", "-ldl"],
      });
      await fn({ so: s.so, tmp: s.tmp, exe });
    } finally {
      await Deno.remove(s.tmp, { recursive: true });
    }
  });
}

/** One process's block of HAKMEM_STATS=1 output on stderr. */
export interface ProcessStats {
  pid: number;
  tiny: number;
  mid: number;
  large: number;
}

/** Every "hakmem stats (pid N, …)" block in `stderr` (one per hakmem process that exited while
 * writing to this stream), with the allocs column of each tier. */
export function stderrStats(stderr: string): ProcessStats[] {
  const out: ProcessStats[] = [];
  const lines = stderr.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^hakmem stats \(pid (\d+),/.exec(lines[i]);
    if (!m) continue;
    const p: ProcessStats = { pid: +m[1], tiny: -1, mid: -1, large: -1 };
    for (let j = i + 1; j < Math.min(lines.length, i + 6); j++) {
      const row = /^(tiny|mid|large)\s+(\d+)/.exec(lines[j]);
      if (row) p[row[1] as "tiny" | "mid" | "large"] = +row[2];
    }
    out.push(p);
  }
  return out;
}
