// The results.json format of `deno task bench` (schema 1) and its summary statistics. Shared by the
// driver (tasks/bench.ts: the table printed at the end) and the report page (reports/), so both
// show the same numbers. Pure computation: no Deno API, so it also bundles for the browser.
//
// Ratios are computed pair by pair: in round r, the sample of allocator A and the sample of the
// reference (glibc, mimalloc) of the same bench form one pair; the ratio is normalised so that
// > 1 means A did better than the reference, whatever the metric direction:
//   ops_per_s (higher is better): A / ref      ns_per_op (lower is better): ref / A
// The reported ratio is the median of those per-round ratios. Pairing within a round cancels
// slow drifts of the machine (thermal, noisy neighbours) that hit both members of a pair alike.

export type Metric = "ops_per_s" | "ns_per_op";

export interface MachineInfo {
  cpu: string;
  cores: number;
  kernel: string;
  glibc: string;
  zig: string;
  deno: string;
  commit: string | null;
}

export interface RunParams {
  profile: "quick" | "full";
  benches: string[];
  allocators: string[];
  modes: string[];
  repeat: number;
  threads: number;
  seed: number;
}

export interface AllocatorInfo {
  name: string;
  kind: "glibc" | "hakmem" | "peer";
  /** Library preloaded (absolute path), null for glibc. */
  lib: string | null;
  available: boolean;
  /** Why it is unavailable (with the install line), or other remarks. */
  note: string | null;
}

export interface BenchInfo {
  id: string;
  /** Program name (bench/<program>.c). */
  program: string;
  /** Arguments besides --seed (--threads, --scale and the variant's own). */
  args: string[];
  metric: Metric;
  higher_is_better: boolean;
  title: string;
  description: string;
}

export interface Sample {
  bench: string;
  allocator: string;
  round: number;
  ok: boolean;
  exit: number | null;
  signal: number | null;
  timed_out: boolean;
  /** Last lines of the program's stderr when the run failed (else ""). */
  stderr_tail: string;
  /** The metric value (result.value) when ok, else null. */
  value: number | null;
  /** The program's JSON line, parsed. */
  result: Record<string, unknown> | null;
  wall_s: number;
  user_s: number;
  sys_s: number;
  maxrss_kib: number;
  minflt: number;
  majflt: number;
  /** hakmem's statistics (HAKMEM_STATS_FILE) for hakmem allocators, else null. */
  hakmem: Record<string, unknown> | null;
}

/** The ACE trace (HAKMEM_ACE_TRACE, JSON lines) one hakmem run wrote. */
export interface TraceRef {
  bench: string;
  allocator: string;
  round: number;
  /** Relative to the run directory, e.g. "traces/larson.hakmem-learning.r0.jsonl". */
  file: string;
}

export interface Results {
  schema: 1;
  created: string;
  machine: MachineInfo;
  params: RunParams;
  allocators: AllocatorInfo[];
  benches: BenchInfo[];
  samples: Sample[];
  /** The traces of the runs whose learning layer was on (absent when no such run was planned;
   * only files that exist are listed). */
  traces?: TraceRef[];
}

/** Statistics of one (bench, allocator). Numbers are null when there is no ok sample. */
export interface SummaryRow {
  bench: string;
  allocator: string;
  metric: Metric;
  higherIsBetter: boolean;
  /** Samples recorded (ok or not). */
  n: number;
  /** Samples that succeeded. */
  ok: number;
  /** Samples that failed (crash, non-zero exit, time-out, no result line). */
  failed: number;
  median: number | null;
  min: number | null;
  max: number | null;
  /** Median over rounds of the per-round ratio against glibc (> 1: better than glibc). */
  ratioVsGlibc: number | null;
  /** The same against mimalloc (null when mimalloc did not run). */
  ratioVsMimalloc: number | null;
  /** Number of rounds that formed a pair with glibc / mimalloc. */
  pairsVsGlibc: number;
  pairsVsMimalloc: number;
  medianMaxRssKiB: number | null;
  medianMinflt: number | null;
  medianMajflt: number | null;
  medianWallS: number | null;
}

/** Per allocator over all benches: geometric mean of its ratios (benches with a ratio only). */
export interface OverallRow {
  allocator: string;
  geomeanVsGlibc: number | null;
  geomeanVsMimalloc: number | null;
  /** Benches that entered each geometric mean. */
  benchesVsGlibc: number;
  benchesVsMimalloc: number;
  failed: number;
}

export interface Summary {
  /** Bench ids and allocator names in the order of results.benches / results.allocators (plus
   * any that only appear in samples). */
  benches: string[];
  allocators: string[];
  /** One row per (bench, allocator) that has samples, benches outer, allocators inner. */
  rows: SummaryRow[];
  overall: OverallRow[];
}

export const REFERENCE_GLIBC = "glibc";
export const REFERENCE_MIMALLOC = "mimalloc";

/** Median of the finite numbers in `xs` (mean of the two middle ones for an even count), or null
 * when there are none. */
export function median(xs: readonly number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Geometric mean of the positive finite numbers in `xs`, or null when there are none. */
export function geomean(xs: readonly number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length === 0) return null;
  return Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length);
}

/** The ratio of `value` against `reference`, normalised so that > 1 means `value` is better. */
export function normalisedRatio(value: number, reference: number, higherIsBetter: boolean): number {
  return higherIsBetter ? value / reference : reference / value;
}

/** What summarize() reads: any results-like object (the report's own types fit too). */
export interface SummaryInput {
  benches: readonly { id: string; metric: string; higher_is_better: boolean }[];
  allocators: readonly { name: string }[];
  samples: readonly SampleLike[];
}

/** The fields of a sample that summarize() reads. */
export interface SampleLike {
  bench: string;
  allocator: string;
  round: number;
  ok: boolean;
  value: number | null;
  result: Record<string, unknown> | null;
  wall_s: number;
  maxrss_kib: number;
  minflt: number;
  majflt: number;
}

function usable(s: SampleLike): s is SampleLike & { value: number } {
  return s.ok && typeof s.value === "number" && Number.isFinite(s.value) && s.value > 0;
}

/** Median of the per-round normalised ratios of `mine` against `ref` (samples of one bench). */
function pairedRatio(
  mine: readonly SampleLike[],
  ref: readonly SampleLike[],
  higherIsBetter: boolean,
): { ratio: number | null; pairs: number } {
  const refByRound = new Map<number, number[]>();
  for (const s of ref) {
    if (!usable(s)) continue;
    const l = refByRound.get(s.round) ?? [];
    l.push(s.value);
    refByRound.set(s.round, l);
  }
  const ratios: number[] = [];
  for (const s of mine) {
    if (!usable(s)) continue;
    const r = refByRound.get(s.round);
    if (!r) continue;
    const refValue = median(r);
    if (refValue === null || refValue <= 0) continue;
    ratios.push(normalisedRatio(s.value, refValue, higherIsBetter));
  }
  return { ratio: median(ratios), pairs: ratios.length };
}

function metricOf(
  results: SummaryInput,
  bench: string,
  samples: readonly SampleLike[],
): { metric: Metric; higherIsBetter: boolean } {
  const b = results.benches.find((x) => x.id === bench);
  if (b) {
    return {
      metric: b.metric === "ns_per_op" ? "ns_per_op" : "ops_per_s",
      higherIsBetter: b.higher_is_better,
    };
  }
  const m = samples.map((s) => s.result?.metric).find((x) => typeof x === "string");
  const metric: Metric = m === "ns_per_op" ? "ns_per_op" : "ops_per_s";
  return { metric, higherIsBetter: metric === "ops_per_s" };
}

function numbers(samples: readonly SampleLike[], f: (s: SampleLike) => number): number[] {
  return samples.map(f).filter((x) => typeof x === "number" && Number.isFinite(x));
}

/** Summary statistics of a results.json (see the header of this file for the ratios). */
export function summarize(results: SummaryInput): Summary {
  const benches = results.benches.map((b) => b.id);
  const allocators = results.allocators.map((a) => a.name);
  for (const s of results.samples) {
    if (!benches.includes(s.bench)) benches.push(s.bench);
    if (!allocators.includes(s.allocator)) allocators.push(s.allocator);
  }
  const rows: SummaryRow[] = [];
  for (const bench of benches) {
    const ofBench = results.samples.filter((s) => s.bench === bench);
    if (ofBench.length === 0) continue;
    const { metric, higherIsBetter } = metricOf(results, bench, ofBench);
    const glibc = ofBench.filter((s) => s.allocator === REFERENCE_GLIBC);
    const mimalloc = ofBench.filter((s) => s.allocator === REFERENCE_MIMALLOC);
    for (const allocator of allocators) {
      const mine = ofBench.filter((s) => s.allocator === allocator);
      if (mine.length === 0) continue;
      const good = mine.filter(usable);
      const values = good.map((s) => s.value);
      const vsGlibc = pairedRatio(mine, glibc, higherIsBetter);
      const vsMimalloc = pairedRatio(mine, mimalloc, higherIsBetter);
      rows.push({
        bench,
        allocator,
        metric,
        higherIsBetter,
        n: mine.length,
        ok: good.length,
        failed: mine.length - good.length,
        median: median(values),
        min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null,
        ratioVsGlibc: vsGlibc.ratio,
        ratioVsMimalloc: vsMimalloc.ratio,
        pairsVsGlibc: vsGlibc.pairs,
        pairsVsMimalloc: vsMimalloc.pairs,
        medianMaxRssKiB: median(numbers(good, (s) => s.maxrss_kib)),
        medianMinflt: median(numbers(good, (s) => s.minflt)),
        medianMajflt: median(numbers(good, (s) => s.majflt)),
        medianWallS: median(numbers(good, (s) => s.wall_s)),
      });
    }
  }
  const overall: OverallRow[] = [];
  for (const allocator of allocators) {
    const mine = rows.filter((r) => r.allocator === allocator);
    if (mine.length === 0) continue;
    const g = mine.map((r) => r.ratioVsGlibc).filter((x): x is number => x !== null);
    const m = mine.map((r) => r.ratioVsMimalloc).filter((x): x is number => x !== null);
    overall.push({
      allocator,
      geomeanVsGlibc: geomean(g),
      geomeanVsMimalloc: geomean(m),
      benchesVsGlibc: g.length,
      benchesVsMimalloc: m.length,
      failed: mine.reduce((s, r) => s + r.failed, 0),
    });
  }
  return { benches, allocators, rows, overall };
}

/** The row of (bench, allocator), if it has samples. */
export function summaryRow(
  summary: Summary,
  bench: string,
  allocator: string,
): SummaryRow | undefined {
  return summary.rows.find((r) => r.bench === bench && r.allocator === allocator);
}

/** Problems with the shape of a parsed results.json (empty when it is a valid schema-1 file). */
export function validateResults(x: unknown): string[] {
  const errs: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const numOrNull = (v: unknown) => v === null || num(v);
  const str = (v: unknown) => typeof v === "string";
  const check = (cond: boolean, what: string) => {
    if (!cond) errs.push(what);
  };
  if (!isObj(x)) return ["results is not an object"];
  check(x.schema === 1, "schema must be 1");
  check(str(x.created) && !Number.isNaN(Date.parse(x.created as string)), "created: ISO date");
  const m = x.machine;
  if (!isObj(m)) errs.push("machine: object");
  else {
    for (const k of ["cpu", "kernel", "glibc", "zig", "deno"]) check(str(m[k]), `machine.${k}`);
    check(Number.isInteger(m.cores) && (m.cores as number) > 0, "machine.cores");
    check(m.commit === null || str(m.commit), "machine.commit");
  }
  const p = x.params;
  if (!isObj(p)) errs.push("params: object");
  else {
    check(p.profile === "quick" || p.profile === "full", "params.profile");
    for (const k of ["benches", "allocators", "modes"]) {
      check(Array.isArray(p[k]) && (p[k] as unknown[]).every(str), `params.${k}: string[]`);
    }
    for (const k of ["repeat", "threads", "seed"]) check(Number.isInteger(p[k]), `params.${k}`);
  }
  if (!Array.isArray(x.allocators)) errs.push("allocators: array");
  else {
    x.allocators.forEach((a: unknown, i) => {
      if (!isObj(a)) return errs.push(`allocators[${i}]: object`);
      check(str(a.name), `allocators[${i}].name`);
      check(["glibc", "hakmem", "peer"].includes(a.kind as string), `allocators[${i}].kind`);
      check(a.lib === null || str(a.lib), `allocators[${i}].lib`);
      check(typeof a.available === "boolean", `allocators[${i}].available`);
      check(a.note === null || str(a.note), `allocators[${i}].note`);
    });
  }
  if (!Array.isArray(x.benches)) errs.push("benches: array");
  else {
    x.benches.forEach((b: unknown, i) => {
      if (!isObj(b)) return errs.push(`benches[${i}]: object`);
      for (const k of ["id", "program", "title", "description"]) {
        check(str(b[k]), `benches[${i}].${k}`);
      }
      check(Array.isArray(b.args) && (b.args as unknown[]).every(str), `benches[${i}].args`);
      check(b.metric === "ops_per_s" || b.metric === "ns_per_op", `benches[${i}].metric`);
      check(typeof b.higher_is_better === "boolean", `benches[${i}].higher_is_better`);
    });
  }
  if (!Array.isArray(x.samples)) errs.push("samples: array");
  else {
    x.samples.forEach((s: unknown, i) => {
      if (!isObj(s)) return errs.push(`samples[${i}]: object`);
      check(str(s.bench) && str(s.allocator), `samples[${i}].bench/allocator`);
      check(Number.isInteger(s.round), `samples[${i}].round`);
      check(typeof s.ok === "boolean" && typeof s.timed_out === "boolean", `samples[${i}].ok`);
      check(s.exit === null || Number.isInteger(s.exit), `samples[${i}].exit`);
      check(s.signal === null || Number.isInteger(s.signal), `samples[${i}].signal`);
      check(str(s.stderr_tail), `samples[${i}].stderr_tail`);
      check(numOrNull(s.value), `samples[${i}].value`);
      check(s.result === null || isObj(s.result), `samples[${i}].result`);
      check(s.hakmem === null || isObj(s.hakmem), `samples[${i}].hakmem`);
      for (const k of ["wall_s", "user_s", "sys_s", "maxrss_kib", "minflt", "majflt"]) {
        check(num(s[k]), `samples[${i}].${k}`);
      }
      if (s.ok === true) check(num(s.value), `samples[${i}].value (ok sample)`);
    });
  }
  if (x.traces !== undefined) {
    if (!Array.isArray(x.traces)) errs.push("traces: array");
    else {
      x.traces.forEach((t: unknown, i) => {
        if (!isObj(t)) return errs.push(`traces[${i}]: object`);
        check(str(t.bench) && str(t.allocator), `traces[${i}].bench/allocator`);
        check(
          Number.isInteger(t.round) && (t.round as number) >= 0,
          `traces[${i}].round`,
        );
        // a path inside the run directory: the report reads it
        check(
          str(t.file) && t.file !== "" && !(t.file as string).startsWith("/") &&
            !(t.file as string).split("/").includes(".."),
          `traces[${i}].file (relative, inside the run directory)`,
        );
      });
    }
  }
  return errs;
}
