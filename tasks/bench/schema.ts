// results.json of `deno task bench` and `deno task compare` (schema 2): one zod definition gives
// the TypeScript types (tasks/bench/stats.ts re-exports them) and validateResults, the shape check
// the report builder runs before it trusts a file and the tests run on every file written. The
// `programs` record (real programs, or compare's command) is versioned on its own (`version`), so
// the bench's schema 2 stays readable by older pages. Pure: bundles for the browser.

import { insideRun, problemsOf, z } from "../lib/schema.ts";

/** The version of the `programs` record this workbench writes; a reader refuses newer ones. */
export const PROGRAMS_VERSION = 1;

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

const int = z.number().int();
const count = int.nonnegative();

export const Metric = z.enum(["ops_per_s", "ns_per_op"]);
export type Metric = z.infer<typeof Metric>;

export const MachineInfo = z.object({
  cpu: z.string(),
  cores: int.positive(),
  kernel: z.string(),
  glibc: z.string(),
  zig: z.string(),
  deno: z.string(),
  commit: z.string().nullable(),
});
export type MachineInfo = z.infer<typeof MachineInfo>;

export const RunParams = z.object({
  profile: z.enum(["quick", "full"]),
  benches: z.array(z.string()),
  allocators: z.array(z.string()),
  modes: z.array(z.string()),
  repeat: int,
  threads: int,
  seed: int,
  /** --duration: the target seconds of one run, or null. */
  duration_s: z.number().nullable(),
  /** With --duration: the allocator the scales were calibrated under (glibc; with --oracle the
   * learning variant). */
  calibrated_with: z.string().optional(),
  /** The allocator ratios are given against besides glibc. */
  baseline: z.string(),
  /** --instructions: the callgrind counts were taken. */
  instructions: z.boolean(),
});
export type RunParams = z.infer<typeof RunParams>;

export const AllocatorInfo = z.object({
  name: z.string(),
  kind: z.enum(["glibc", "hakmem", "peer"]),
  /** Library preloaded (absolute path), null for glibc. */
  lib: z.string().nullable(),
  available: z.boolean(),
  /** Why it is unavailable, or other remarks (hakmem: its variables). */
  note: z.string().nullable(),
  /** Its version ("3.3.2"; glibc's; hakmem: the commit), null when unknown. */
  version: z.string().nullable(),
  /** Where it came from (crate name, version and sha256; Debian package and version). */
  source: z.string().nullable(),
  /** How it was built (compiler and flags), for source-built peers. */
  build: z.string().nullable(),
  /** Source-built peers: every build tried (upstream, zig) and which one ran, and why. */
  builds: z.array(z.object({
    kind: z.string(),
    lib: z.string().nullable(),
    compiler: z.string().nullable(),
    flags: z.string().nullable(),
    note: z.string().nullable(),
  })).optional(),
  build_choice: z.object({ kind: z.string(), why: z.string(), fallback: z.boolean() }).nullable()
    .optional(),
});
export type AllocatorInfo = z.infer<typeof AllocatorInfo>;

const PeerBuildInfo = z.object({
  lib: z.string(),
  compiler: z.string().nullable(),
  flags: z.string().nullable(),
});

/** --peer-parity (tasks/bench/parity.ts): one source peer's upstream build against its zig build
 * on a few workloads, interleaved; ratio > 1: the upstream build was faster. */
export const PeerParity = z.object({
  peer: z.string(),
  /** ISO date of the measurement. */
  measured: z.string(),
  rounds: int,
  upstream: PeerBuildInfo,
  zig: PeerBuildInfo,
  workloads: z.array(z.object({
    id: z.string(),
    metric: Metric,
    /** Medians of each build's values. */
    upstream: z.number().nullable(),
    zig: z.number().nullable(),
    /** Median of the per-round normalised ratios, upstream against zig. */
    ratio: z.number().nullable(),
  })),
  geomean: z.number().nullable(),
  /** The build the bench uses from then on (null: no ratio). */
  faster: z.enum(["upstream", "zig"]).nullable(),
});
export type PeerParity = z.infer<typeof PeerParity>;

export const BenchInfo = z.object({
  id: z.string(),
  /** Program name (bench/<program>.c). */
  program: z.string(),
  /** Arguments besides --seed (--threads, --scale and the variant's own). */
  args: z.array(z.string()),
  metric: Metric,
  higher_is_better: z.boolean(),
  title: z.string(),
  description: z.string(),
  /** The result-line key (KiB) that is the bench's memory figure; null: peak RSS (maxrss). */
  memory_key: z.string().nullable(),
});
export type BenchInfo = z.infer<typeof BenchInfo>;

/** The child's resident set over the run, sampled by hakrun. */
export const RssRecord = z.object({
  sample_ms: z.number(),
  /** Largest sample, KiB. */
  peak_kib: z.number(),
  /** Integral of the samples over the run, MiB × s. */
  mib_s: z.number(),
  /** [seconds since start, KiB], thinned to MAX_CURVE_POINTS (each run of samples kept as its
   * lowest and highest). */
  curve: z.array(z.tuple([z.number(), z.number()])),
});
export type RssRecord = z.infer<typeof RssRecord>;

const JsonObject = z.record(z.string(), z.unknown());

/** How one run ended and what it cost: the figures a bench sample and a program's run share. */
const RunFigures = z.object({
  allocator: z.string(),
  round: count,
  ok: z.boolean(),
  exit: int.nullable(),
  signal: int.nullable(),
  timed_out: z.boolean(),
  /** Last lines of the program's stderr when the run failed (else ""). */
  stderr_tail: z.string(),
  wall_s: z.number().nonnegative(),
  user_s: z.number().nonnegative(),
  sys_s: z.number().nonnegative(),
  maxrss_kib: z.number().nonnegative(),
  minflt: z.number().nonnegative(),
  majflt: z.number().nonnegative(),
  /** The sampled RSS (null when the run was not sampled). */
  rss: RssRecord.nullable(),
  /** The machine's core-to-core round trip timed just before the run, ns (hakrun --core-rtt;
   * null: not timed, or one CPU). Results written before it was recorded lack it. */
  core_rtt_ns: z.number().positive().nullable().optional(),
  /** hakmem's statistics (HAKMEM_STATS_FILE) for hakmem allocators, else null. */
  hakmem: JsonObject.nullable(),
});

export const Sample = RunFigures.extend({
  bench: z.string(),
  /** The metric value (result.value) when ok, else null. */
  value: z.number().nullable(),
  /** The program's JSON line, parsed. */
  result: JsonObject.nullable(),
}).refine((s) => !s.ok || s.value !== null, {
  path: ["value"],
  message: "a number (the sample is ok)",
});
export type Sample = z.infer<typeof Sample>;

/** The ACE trace (HAKMEM_ACE_TRACE, JSON lines) one hakmem run wrote. */
export const TraceRef = z.object({
  bench: z.string(),
  allocator: z.string(),
  round: count,
  /** Relative to the run directory, e.g. "traces/larson.hakmem-learning.r0.jsonl". */
  file: insideRun,
});
export type TraceRef = z.infer<typeof TraceRef>;

/** A workload counted under callgrind (--instructions). */
export const InstructionWorkload = z.object({
  id: z.string(),
  title: z.string(),
  /** What one op is. */
  op: z.string(),
  program: z.string(),
  /** Arguments besides --seed and --scale. */
  args: z.array(z.string()),
  /** --scale of the smaller run; the larger one runs at twice this. */
  scale: z.number().positive(),
});
export type InstructionWorkload = z.infer<typeof InstructionWorkload>;

const numberPair = z.tuple([z.number().nullable(), z.number().nullable()]);

/** Instructions of one workload under one allocator: Ir of a run with N ops and of one with 2N,
 * so start-up, set-up and the allocator's initialisation cancel: per_op = ΔIr / Δops. */
export const InstructionCount = z.object({
  workload: z.string(),
  allocator: z.string(),
  ok: z.boolean(),
  per_op: z.number().nullable(),
  /** Ir of the two runs (null when a run failed). */
  ir: numberPair,
  ops: numberPair,
  /** Mispredicted branches of the two runs (callgrind's --branch-sim: conditional and indirect),
   * and their difference per op (0 when the larger run mispredicted less: start-up's count moves
   * by a few dozen with the addresses); absent in runs made before they were counted, null per_op
   * when the count failed. */
  mispredicts: numberPair.optional(),
  mispredicts_per_op: z.number().nullable().optional(),
  /** Why it failed (with the last lines of valgrind's output), else "". */
  note: z.string(),
}).refine((c) => !c.ok || c.per_op !== null, {
  path: ["per_op"],
  message: "a number (the count is ok)",
});
export type InstructionCount = z.infer<typeof InstructionCount>;

/** What --oracle ran (tasks/bench/oracle.ts): the grid and the roles of the hakmem variants. */
export const OracleInfo = z.object({
  /** The grid, normalised: "OPTION=v1,v2;OPTION=…". */
  grid: z.string(),
  axes: z.array(z.object({ option: z.string(), values: z.array(z.number()) })),
  /** The default mode's variant (hakmem-balanced) and the learning one (hakmem-learning). */
  balanced: z.string(),
  learning: z.string(),
  /** The fixed configurations the learning variant is judged against: balanced and the grid's. */
  fixed: z.array(z.string()),
});
export type OracleInfo = z.infer<typeof OracleInfo>;

/** One program (or compare's command) and whether it could be run. */
export const ProgramInfo = z.object({
  /** "python3", "sqlite3", … (compare: "command"). */
  id: z.string(),
  title: z.string(),
  description: z.string(),
  /** The command line as run (inputs as paths relative to the repository, or absolute). */
  argv: z.array(z.string()).min(1),
  /** Variables set for the program besides the allocator's (e.g. PYTHONMALLOC=malloc). */
  env: z.record(z.string(), z.string()),
  /** The Debian package that provides it, and its installed version (null: unknown/none). */
  package: z.string().nullable(),
  version: z.string().nullable(),
  /** The scale it ran at (null for compare's command). */
  scale: z.number().positive().nullable(),
  /** The committed input (script, SQL, source), relative to the repository; generated inputs
   * are kept in the run directory and named relative to it. */
  input: z.string().nullable(),
  available: z.boolean(),
  /** Why it is unavailable (not installed and could not be installed), else null. */
  note: z.string().nullable(),
}).refine((p) => p.available || p.note !== null, {
  path: ["note"],
  message: "the reason it is unavailable",
});
export type ProgramInfo = z.infer<typeof ProgramInfo>;

/** One run of a program under one allocator in one round: a bench sample's figures (wall, user
 * and sys CPU, getrusage's peak RSS and faults of the program and its waited-for children, the RSS
 * curve summed over its process tree, hakmem's statistics from the last of its processes to exit)
 * without a result line; `ok` means it ended with status 0 within the time limit. */
export const ProgramSample = RunFigures.extend({
  program: z.string(),
  /** sha256 of stdout, and its size. */
  stdout_sha256: z.string(),
  stdout_bytes: count,
  /** Against glibc's run of the same round: "same" or "differs" (stdout and exit status); null
   * when not checked (no glibc run that round, or compare without --check-output). */
  output: z.enum(["same", "differs"]).nullable(),
  /** stdout and stderr of the run, relative to the run directory (null: not kept). */
  files: z.object({ stdout: insideRun, stderr: insideRun }).nullable(),
});
export type ProgramSample = z.infer<typeof ProgramSample>;

export const ProgramsRecord = z.object({
  version: z.literal(PROGRAMS_VERSION),
  /** "bench": the programs mode of `deno task bench`; "compare": `deno task compare`. */
  mode: z.enum(["bench", "compare"]),
  repeat: int.positive(),
  /** Outputs are compared with glibc's of the same round (always in the bench). */
  check_output: z.boolean(),
  /** Working directory of compare's command (null in the bench). */
  cwd: z.string().nullable(),
  programs: z.array(ProgramInfo),
  samples: z.array(ProgramSample),
}).superRefine((rec, ctx) => {
  // runs also when other fields are wrong (see `when`), so it reads the record warily
  const ids = new Set(rec.programs.map((p) => (p as { id?: unknown })?.id));
  rec.samples.forEach((s, i) => {
    const program = (s as { program?: unknown })?.program;
    if (typeof program === "string" && !ids.has(program)) {
      ctx.addIssue({
        code: "custom",
        path: ["samples", i, "program"],
        message: `one of the programs (${[...ids].join(", ")})`,
      });
    }
  });
}, {
  when: ({ value }) =>
    isObject(value) && Array.isArray(value.programs) && Array.isArray(value.samples),
});
export type ProgramsRecord = z.infer<typeof ProgramsRecord>;

export const Results = z.object({
  schema: z.literal(2),
  created: z.iso.datetime(),
  machine: MachineInfo,
  params: RunParams,
  allocators: z.array(AllocatorInfo),
  benches: z.array(BenchInfo),
  samples: z.array(Sample),
  /** The traces of the runs whose learning layer was on (absent when no such run was planned;
   * only files that exist are listed). */
  traces: z.array(TraceRef).optional(),
  /** Callgrind counts (with --instructions). */
  instructions: z.object({
    workloads: z.array(InstructionWorkload),
    counts: z.array(InstructionCount),
  }).optional(),
  /** With --oracle. */
  oracle: OracleInfo.optional(),
  /** The parity records the peers' builds were chosen by (--peer-parity, or cached ones). */
  peer_parity: z.array(PeerParity).optional(),
  /** Real programs (bench --programs) or compare's command. */
  programs: ProgramsRecord.optional(),
});
export type Results = z.infer<typeof Results>;

/** Why a `programs` record cannot be read at all (written by a newer workbench), or null. */
function programsTooNew(x: unknown): string | null {
  if (!isObject(x) || !Number.isInteger(x.version) || (x.version as number) <= PROGRAMS_VERSION) {
    return null;
  }
  return `programs.version ${x.version}: written by a newer workbench (this one reads ` +
    `${PROGRAMS_VERSION})`;
}

/** Problems with the shape of a results.json's `programs` (empty when valid), each naming where
 * (from "programs."), what was expected and the value found. */
export function validatePrograms(x: unknown): string[] {
  const tooNew = programsTooNew(x);
  return tooNew ? [tooNew] : problemsOf(ProgramsRecord, x, "programs.");
}

/** Problems with the shape of a parsed results.json (empty when it is a valid schema-2 file),
 * each naming where, what was expected and the value found. */
export function validateResults(x: unknown): string[] {
  if (!isObject(x)) return ["results is not an object"];
  if (x.schema === 1) {
    return ["schema 1 (written before the peers and memory results): run the bench again"];
  }
  const tooNew = programsTooNew(x.programs);
  if (tooNew) return [tooNew];
  return problemsOf(Results, x);
}
