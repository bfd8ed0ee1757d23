// The runs of `deno task bench`: each bench's scale (calibrated with --duration), the rounds
// (every bench under every allocator, the order rotated), results.json written after each round,
// and the exit code the finished results give. tasks/bench/bench.ts settles the options and the
// allocators first.

import { join } from "node:path";
import { type Allocator, runOnce } from "./runner.ts";
import type { BenchDef, Profile } from "./catalogue.ts";
import { calibrate } from "./calibrate.ts";
import { IS_CI } from "../lib/ci.ts";
import type { BenchInfo, Results } from "./stats.ts";
import { failureText, Progress, show } from "./summary.ts";
import { traceFile } from "./variants.ts";
import { statIfPresent } from "../lib/files.ts";
import { unavailableVerdict } from "../peers/peers.ts";
import { programProblems } from "../programs/programs.ts";
import { roundOrderTogether } from "./run_order.ts";

/** Writes results.json into `outDir` through a temporary file (readers never see half of it);
 * returns its path. */
export async function writeResults(outDir: string, results: Results): Promise<string> {
  const p = join(outDir, "results.json");
  const tmp = `${p}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(results) + "\n");
  await Deno.rename(tmp, p);
  return p;
}

/** What the runs of one bench invocation share: the built programs, the options that every run
 * takes, where they write, and the count that names each run's files. */
export interface RunContext {
  bins: Map<string, string>;
  hakrun: string;
  seed: number;
  threads: number;
  profile: Profile;
  timeoutS: number;
  tmpDir: string;
  outDir: string;
  seq: number;
}

/** Each bench's --scale: the profile's, or (--duration) calibrated under `calibrator` so that a
 * run takes about `duration` seconds. */
export async function benchScales(
  ctx: RunContext,
  defs: readonly BenchDef[],
  duration: number | null,
  calibrator: Allocator,
  refine: boolean,
): Promise<Map<string, number>> {
  const scales = new Map<string, number>();
  for (const d of defs) {
    const base = ctx.profile === "quick" ? d.quickScale : 1;
    if (duration === null || d.scaleSetsMemory) {
      scales.set(d.id, base);
      continue;
    }
    const scale = await calibrate(d.id, base, duration, calibrator.name, refine, async (s) => {
      const m = await runOnce({
        hakrun: ctx.hakrun,
        program: ctx.bins.get(d.program)!,
        args: [
          "--seed",
          String(ctx.seed),
          ...d.args(ctx.threads, ctx.profile),
          "--scale",
          String(s),
        ],
        allocator: calibrator,
        timeoutS: ctx.timeoutS,
        tmpDir: ctx.tmpDir,
        seq: ctx.seq++,
        trace: null,
      });
      return m.ok ? m.wall_s : null;
    });
    console.error(
      `[bench] ${d.id}: --scale ${scale} for runs of about ${duration} s under ${calibrator.name}`,
    );
    scales.set(d.id, scale);
  }
  return scales;
}

/** results.json's record of each bench as it runs (mid_large_mt_N takes the thread count into
 * its id and title). */
export function benchInfosOf(
  defs: readonly BenchDef[],
  threads: number,
  profile: Profile,
  scales: Map<string, number>,
): BenchInfo[] {
  return defs.map((d) => {
    const perThreads = d.id === "mid_large_mt_N";
    return {
      id: perThreads ? `mid_large_mt_${threads}` : d.id,
      program: d.program,
      args: [...d.args(threads, profile), "--scale", String(scales.get(d.id))],
      metric: d.metric,
      higher_is_better: d.metric === "ops_per_s",
      title: perThreads ? d.title.replace("N threads", `${threads} threads`) : d.title,
      description: d.description,
      memory_key: d.memory ?? null,
    };
  });
}

/** The rounds: every bench under every runnable allocator, in an order shuffled by seed, round
 * and bench (tasks/bench/run_order.ts), the oracle's balanced and learning modes one right after
 * the other; results.json is rewritten after each round.
 * They end early once `stopped()` (an interrupt). */
export async function runRounds(
  ctx: RunContext,
  results: Results,
  runnable: readonly Allocator[],
  traced: ReadonlySet<string>,
  repeat: number,
  stopped: () => boolean,
): Promise<void> {
  const benches = results.benches;
  const oracle = results.oracle;
  const together = (a: Allocator) =>
    oracle !== undefined && (a.name === oracle.balanced || a.name === oracle.learning);
  const progress = new Progress(benches.length * runnable.length * repeat);
  try {
    for (let round = 0; round < repeat && !stopped(); round++) {
      for (const [bi, b] of benches.entries()) {
        for (const a of roundOrderTogether(runnable, ctx.seed, round, bi, together)) {
          if (stopped()) return;
          progress.start(round, b.id, a.name);
          const trace = traced.has(a.name) ? traceFile(b.id, a.name, round) : null;
          const m = await runOnce({
            hakrun: ctx.hakrun,
            program: ctx.bins.get(b.program)!,
            args: ["--seed", String(ctx.seed), ...b.args],
            allocator: a,
            timeoutS: ctx.timeoutS,
            tmpDir: ctx.tmpDir,
            seq: ctx.seq++,
            trace: trace === null ? null : join(ctx.outDir, trace),
            coreRtt: true,
          });
          if (stopped()) return;
          progress.finish(round, b.id, a.name, m, b.metric);
          results.samples.push({ bench: b.id, allocator: a.name, round, ...m });
          // the core writes a trace only when its learning layer ran: list the ones that exist
          if (trace !== null && (await statIfPresent(join(ctx.outDir, trace)))?.isFile) {
            results.traces?.push({ bench: b.id, allocator: a.name, round, file: trace });
          }
        }
      }
      await writeResults(ctx.outDir, results);
    }
  } finally {
    progress.end();
  }
}

/** The exit code of a finished run: 1 when a hakmem run failed, a program could not run, or a
 * peer was unavailable under CI=true (each said on stderr), else 0. */
export function benchExitCode(results: Results, allocators: readonly Allocator[]): number {
  let code = 0;
  const hakFailed = results.samples.filter((s) => !s.ok && s.allocator.startsWith("hakmem-"));
  if (hakFailed.length > 0) {
    console.error(`[bench] ${hakFailed.length} hakmem run(s) failed:`);
    for (const s of hakFailed.slice(0, 10)) {
      console.error(`  ${s.bench} ${s.allocator} round ${s.round}: ${failureText(s)}`);
      if (s.stderr_tail) console.error(s.stderr_tail.replace(/^/gm, "    | "));
    }
    code = 1;
  }
  const programFails = results.programs ? programProblems(results.programs, IS_CI) : [];
  for (const p of programFails) console.error(`[bench] ${p}`);
  if (programFails.length > 0) code = 1;
  const verdict = unavailableVerdict(allocators, IS_CI);
  if (verdict !== null) {
    console.error(`[bench] ${verdict}`);
    code = 1;
  }
  return code;
}

/** Says which allocators run (with their versions and libraries) and what the run will be. */
export function announce(results: Results, outDir: string): void {
  for (const a of results.allocators) {
    const what = a.available ? `${a.version ?? ""} ${a.lib ?? "(no preload)"}` : "NOT AVAILABLE";
    console.error(
      `[bench] allocator ${a.name}: ${what}` + (a.note && !a.available ? ` — ${a.note}` : ""),
    );
  }
  const p = results.params;
  const runnable = results.allocators.filter((a) => a.available).length;
  console.error(
    `[bench] ${results.benches.length} benches × ${runnable} allocators × ${p.repeat} rounds, ` +
      `profile ${p.profile}, ${p.threads} thread(s), seed ${p.seed}; output ${show(outDir)}`,
  );
}
