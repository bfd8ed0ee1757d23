// Runs commands under allocators, interleaved over rounds: the programs mode of the bench and
// `deno task compare` share it. Every run goes through hakrun (tasks/bench/runner.ts runRaw), with
// --tree, so the RSS samples cover the whole process tree (a compiler driver's cc1plus). Within a
// round every command runs under every allocator once, in an order shuffled by seed, round and
// command as the bench does (tasks/bench/run_order.ts), so none always runs first or behind one
// other. stdout and stderr of each run are kept as files; its output is then checked against
// glibc's run of the same round.

import { join } from "node:path";
import { type Allocator, endFailure, runCosts, runRaw, tail } from "../bench/runner.ts";
import type { ProgramInfo, ProgramSample } from "../bench/schema.ts";
import { REFERENCE_GLIBC } from "../bench/stats.ts";
import { roundOrder } from "../bench/run_order.ts";

/** One command to run: its record in results.json and how to start it. */
export interface ProgramJob {
  info: ProgramInfo;
  /** The executable (absolute, or a name hakrun finds on PATH) and its arguments. */
  program: string;
  args: string[];
  env: Record<string, string>;
  /** Working directory (default: the run's scratch directory). */
  cwd?: string;
}

export interface RunProgramsOptions {
  hakrun: string;
  jobs: readonly ProgramJob[];
  allocators: readonly Allocator[];
  repeat: number;
  /** Seeds the allocators' order in each round (tasks/bench/run_order.ts). */
  seed: number;
  timeoutS: number;
  /** The run directory; stdout/stderr go to <outDir>/<filesDir>/. */
  outDir: string;
  filesDir: string;
  /** Scratch directory (hakrun's records, the default working directory). */
  tmpDir: string;
  /** Marks outputs that differ from glibc's of the same round. */
  checkOutput: boolean;
  /** The prefix of the progress lines on stderr ("programs": "[programs] 3/30 r0 …"). */
  tag: string;
  /** True once the caller wants to stop (SIGINT): no further run starts. */
  stopped?: () => boolean;
  /** Called with the samples so far after each round (to save them). */
  onRound?: (samples: ProgramSample[]) => Promise<void>;
}

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file name for an allocator or program id (g++ stays g++). */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._+-]/g, "_");
}

/** One run of `job` under `allocator`: a sample, its stdout and stderr written to files. */
export async function runProgram(
  o: Pick<RunProgramsOptions, "hakrun" | "timeoutS" | "outDir" | "filesDir" | "tmpDir">,
  job: ProgramJob,
  allocator: Allocator,
  round: number,
  seq: number,
): Promise<ProgramSample> {
  const raw = await runRaw({
    hakrun: o.hakrun,
    program: job.program,
    args: job.args,
    allocator,
    timeoutS: o.timeoutS,
    tmpDir: o.tmpDir,
    seq,
    trace: null,
    env: job.env,
    cwd: job.cwd,
    tree: true,
  });
  const base = `${o.filesDir}/${safe(job.info.id)}.${safe(allocator.name)}.r${round}`;
  const files = { stdout: `${base}.stdout`, stderr: `${base}.stderr` };
  await Deno.mkdir(join(o.outDir, o.filesDir), { recursive: true });
  await Deno.writeTextFile(join(o.outDir, files.stdout), raw.stdout);
  await Deno.writeTextFile(join(o.outDir, files.stderr), raw.stderr);
  const why = endFailure(raw, o.timeoutS);
  const costs = runCosts(raw);
  return {
    program: job.info.id,
    allocator: allocator.name,
    round,
    ok: why === null,
    ...costs,
    stderr_tail: why === null ? "" : tail(`${raw.stderr.trimEnd()}\n[programs] ${why}`.trim()),
    stdout_sha256: await sha256(raw.stdout),
    stdout_bytes: new TextEncoder().encode(raw.stdout).length,
    output: null,
    files,
  };
}

/** Marks each sample's output against glibc's run of the same program and round: "same" when
 * stdout and the exit status match, else "differs"; glibc's own and those without a glibc run
 * stay null. */
export function markOutputs(samples: ProgramSample[]): void {
  for (const s of samples) {
    if (s.allocator === REFERENCE_GLIBC) continue;
    const g = samples.find((x) =>
      x.allocator === REFERENCE_GLIBC && x.program === s.program && x.round === s.round
    );
    if (!g) continue;
    s.output = g.stdout_sha256 === s.stdout_sha256 && g.exit === s.exit && g.signal === s.signal
      ? "same"
      : "differs";
  }
}

/** Runs every job under every allocator, `repeat` rounds; returns the samples (fewer when
 * stopped). Never throws for a failing program. */
export async function runPrograms(o: RunProgramsOptions): Promise<ProgramSample[]> {
  const samples: ProgramSample[] = [];
  const total = o.repeat * o.jobs.length * o.allocators.length;
  let seq = 0;
  for (let round = 0; round < o.repeat && !o.stopped?.(); round++) {
    for (const [ji, job] of o.jobs.entries()) {
      for (const a of roundOrder(o.allocators, o.seed, round, ji)) {
        if (o.stopped?.()) break;
        const s = await runProgram(o, job, a, round, seq++);
        if (o.stopped?.()) break;
        samples.push(s);
        const what = s.ok
          ? `${s.wall_s.toFixed(3)} s, peak RSS ${(s.maxrss_kib / 1024).toFixed(1)} MiB`
          : `FAILED (${s.stderr_tail.split("\n").pop()})`;
        const name = o.jobs.length > 1 ? `${job.info.id} ` : "";
        console.error(`[${o.tag}] ${seq}/${total} r${round} ${name}${a.name}: ${what}`);
      }
    }
    if (o.checkOutput) markOutputs(samples);
    await o.onRound?.(samples);
  }
  if (o.checkOutput) markOutputs(samples);
  return samples;
}
