// `deno task soak`: a long multi-threaded churn run (tests/reliability/soak.c) on the debug
// flavour with hakmem's integrity checks on. The program prints a JSON line every few seconds
// ({t, ops, corruptions, rss_kib}); this task relays them, then prints a summary (operations,
// duration, corruptions, RSS min/max/last) and fails when a corruption was found, the program
// did not end cleanly, or RSS kept growing (the last minute's peak above 1.5 x the first
// minute's peak + 32 MiB).
//
// Also the builder of the reliability programs, shared with tests/reliability/*.test.ts.

import { join } from "node:path";
import { buildExecutable, ensureLibrary } from "../build/build.ts";
import { run } from "../lib/run.ts";
import { jsonOrUndefined, z } from "../lib/schema.ts";
import { buildDir, type Flavour, ROOT, runnerPrefix, type TargetName } from "../lib/targets.ts";

export const RELIABILITY_DIR = join(ROOT, "tests", "reliability");

/** The target whose programs run natively here. */
export function hostTarget(): TargetName {
  if (Deno.build.arch === "x86_64") return "x86_64-linux-gnu";
  if (Deno.build.arch === "aarch64") return "aarch64-linux-gnu";
  throw new Error(`no hakmem target for this machine (${Deno.build.arch})`);
}

/** Builds libhakmem for `target`/`flavour` when dist/ lacks it, then the reliability program
 * tests/reliability/<name>.c (linked statically with it); returns the executable's path. */
export async function buildReliabilityProgram(
  name: string,
  target: TargetName,
  flavour: Flavour,
): Promise<string> {
  await ensureLibrary(target, flavour);
  return await buildExecutable({
    target,
    flavour,
    sources: [join(RELIABILITY_DIR, `${name}.c`)],
    out: join(buildDir(target, flavour), "bin", "reliability", name),
    link: "static-hakmem",
    // -fno-builtin: the programs misuse and measure malloc/free on purpose; the compiler must
    // neither fold nor reorder those calls.
    extraFlags: ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fno-builtin"],
  });
}

/** Command line prefix (qemu for a foreign target) + executable. */
export function commandOf(target: TargetName, exe: string): string[] {
  return [...runnerPrefix(target), exe];
}

// ---------------------------------------------------------------------------------------------
// the soak run

export interface SoakOptions {
  /** Duration in minutes (fractions allowed). */
  minutes: number;
  /** Default debug: integrity checks and poisoning on. */
  flavour?: Flavour;
  /** Default: the host's target. */
  target?: TargetName;
  /** Seed of the program (default: a fresh one, printed). */
  seed?: string;
  /** Seconds between progress lines (default 5). */
  interval?: number;
  /** Print every progress line (default true). */
  verbose?: boolean;
}

/** A progress line of the soak program (the last one, `done`, after the final frees); its first
 * line says `"soak": "start"`. */
const SoakLine = z.object({
  soak: z.string().optional(),
  t: z.number(),
  ops: z.number(),
  corruptions: z.number(),
  rss_kib: z.number(),
  forks: z.number().optional(),
  threads: z.number().optional(),
  done: z.boolean().optional(),
});
export type SoakSample = Omit<z.infer<typeof SoakLine>, "soak">;

export interface SoakResult {
  ok: boolean;
  /** Why it failed (empty when ok). */
  problems: string[];
  seed: string;
  seconds: number;
  ops: number;
  corruptions: number;
  forks: number;
  threads: number;
  rss: {
    minKib: number;
    maxKib: number;
    lastKib: number;
    firstWindowMaxKib: number;
    lastWindowMaxKib: number;
    afterFreeKib: number;
  };
  samples: SoakSample[];
  stderr: string;
}

/** RSS is unbounded when the last window's peak exceeds 1.5 x the first window's peak + 32 MiB
 * (windows: one minute each, or half the run when it is shorter than two minutes). */
export function rssGrowth(samples: SoakSample[]): {
  firstMax: number;
  lastMax: number;
  unbounded: boolean;
} {
  const live = samples.filter((s) => !s.done);
  if (live.length === 0) return { firstMax: 0, lastMax: 0, unbounded: false };
  const end = live[live.length - 1].t;
  const window = Math.min(60, end / 2);
  const first = live.filter((s) => s.t <= window);
  const last = live.filter((s) => s.t >= end - window);
  const firstMax = Math.max(...(first.length ? first : live.slice(0, 1)).map((s) => s.rss_kib));
  const lastMax = Math.max(...(last.length ? last : live.slice(-1)).map((s) => s.rss_kib));
  return { firstMax, lastMax, unbounded: lastMax > 1.5 * firstMax + 32 * 1024 };
}

/** A progress line of the soak program, or null for any other line (its start line, text). */
function soakSample(line: string): SoakSample | null {
  if (!line.startsWith("{")) return null;
  const parsed = SoakLine.safeParse(jsonOrUndefined(line));
  if (!parsed.success || parsed.data.soak === "start") return null;
  const { soak: _soak, ...sample } = parsed.data;
  return sample;
}

/** A fresh random non-zero 64-bit seed as 0x-hex (16 digits). */
function freshSeed(): string {
  const v = new BigUint64Array(1);
  crypto.getRandomValues(v);
  if (v[0] === 0n) v[0] = 1n;
  return "0x" + v[0].toString(16).padStart(16, "0");
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Builds and runs the soak program; prints progress and a summary; never throws for a failed
 * run (see SoakResult.ok). */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const flavour = opts.flavour ?? "debug";
  const target = opts.target ?? hostTarget();
  const seconds = opts.minutes * 60;
  const interval = opts.interval ?? 5;
  const seed = opts.seed ?? Deno.env.get("HAKMEM_TEST_SEED") ?? freshSeed();
  const verbose = opts.verbose ?? true;
  const exe = await buildReliabilityProgram("soak", target, flavour);
  const argv = [...commandOf(target, exe), String(seconds), seed, String(interval)];
  console.error(
    `[soak] ${target}/${flavour}, ${opts.minutes} min, seed ${seed}: ${argv.join(" ")}`,
  );

  const samples: SoakSample[] = [];
  const status = await run(argv[0], argv.slice(1), {
    scrub: true,
    timeoutMs: (seconds + 180) * 1000,
    echo: "stderr",
    onLine: (l, stream) => {
      const sample = stream === "stdout" ? soakSample(l) : null;
      if (sample === null) return;
      samples.push(sample);
      if (verbose) console.log(l);
    },
  });
  const stderr = status.stderr;

  const problems: string[] = [];
  const done = samples.find((s) => s.done);
  const live = samples.filter((s) => !s.done);
  const last = done ?? samples[samples.length - 1];
  if (status.timedOut) problems.push(`killed after ${seconds + 180} s (hung?)`);
  else if (status.signal) problems.push(`the soak program died of ${status.signal}`);
  else if (status.code !== 0) problems.push(`the soak program exited ${status.code}`);
  if (!done) problems.push("no final report (the run did not complete)");
  const corruptions = Math.max(0, ...samples.map((s) => s.corruptions));
  if (corruptions > 0) problems.push(`${corruptions} corruption(s) found`);
  const growth = rssGrowth(samples);
  if (growth.unbounded) {
    problems.push(
      `RSS grew: last-window peak ${mib(growth.lastMax)} > 1.5 x first-window peak ` +
        `${mib(growth.firstMax)} + 32 MiB`,
    );
  }
  const rssLive = live.map((s) => s.rss_kib);
  const result: SoakResult = {
    ok: problems.length === 0,
    problems,
    seed,
    seconds: last?.t ?? 0,
    ops: last?.ops ?? 0,
    corruptions,
    forks: last?.forks ?? 0,
    threads: last?.threads ?? 0,
    rss: {
      minKib: rssLive.length ? Math.min(...rssLive) : 0,
      maxKib: rssLive.length ? Math.max(...rssLive) : 0,
      lastKib: rssLive.length ? rssLive[rssLive.length - 1] : 0,
      firstWindowMaxKib: growth.firstMax,
      lastWindowMaxKib: growth.lastMax,
      afterFreeKib: done?.rss_kib ?? 0,
    },
    samples,
    stderr,
  };
  const r = result.rss;
  console.log(
    `soak summary (${target}/${flavour}, seed ${seed}): ${result.ops} ops in ` +
      `${result.seconds.toFixed(1)} s (${
        (result.ops / Math.max(result.seconds, 1e-9) / 1e6).toFixed(2)
      } M ops/s), ` +
      `${result.corruptions} corruptions, ${result.forks} forks, ${result.threads} threads started; ` +
      `RSS min ${mib(r.minKib)} max ${mib(r.maxKib)} last ${mib(r.lastKib)} (first-window peak ` +
      `${mib(r.firstWindowMaxKib)}, last-window peak ${mib(r.lastWindowMaxKib)}, after the final ` +
      `frees ${mib(r.afterFreeKib)})`,
  );
  if (problems.length > 0) {
    console.log(`soak FAILED (replay with HAKMEM_TEST_SEED=${seed}):\n  ${problems.join("\n  ")}`);
  } else console.log("soak OK");
  return result;
}
