// The summary statistics of a results.json (schema 2, defined in tasks/bench/schema.ts, whose
// types are re-exported here): what the driver (tasks/bench/bench.ts: the table printed at the
// end), the report page (reports/) and the tests share, so all show the same numbers. Pure
// computation: no Deno API, so it also bundles for the browser.
//
// Ratios are computed pair by pair: in round r, the sample of allocator A and the sample of the
// reference R of the same bench form one pair; the ratio is normalised so that > 1 means A did
// better than R, whatever the direction:
//   speed   ops_per_s (higher is better): A / R      ns_per_op (lower is better): R / A
//   memory  the bench's memory figure (KiB, lower is better): R / A
// The reported ratio is the median of those per-round ratios. Pairing within a round cancels
// slow drifts of the machine (thermal, noisy neighbours) that hit both members of a pair alike.
// Every allocator that ran is a reference: the summary holds each allocator's ratios against every
// other one, and their geometric means over the benches.

import type { Metric } from "./schema.ts";

export type {
  AllocatorInfo,
  BenchInfo,
  InstructionCount,
  InstructionWorkload,
  MachineInfo,
  Metric,
  OracleInfo,
  PeerParity,
  Results,
  RssRecord,
  RunParams,
  Sample,
  TraceRef,
} from "./schema.ts";
export { validateResults } from "./schema.ts";

/** The report's default baseline peer (tasks/peers/peers.ts builds it). */
export const DEFAULT_BASELINE = "mimalloc3";
export const REFERENCE_GLIBC = "glibc";
/** Points kept of a run's RSS curve in results.json. */
export const MAX_CURVE_POINTS = 300;

/** A paired ratio and how many rounds formed a pair. */
export interface PairedRatio {
  ratio: number | null;
  pairs: number;
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
  /** Speed against every reference that ran (> 1: better than it). */
  speed: Record<string, PairedRatio>;
  /** Memory against every reference (> 1: this allocator used less). */
  memory: Record<string, PairedRatio>;
  /** Median of the bench's memory figure (KiB). */
  medianMemKiB: number | null;
  medianMaxRssKiB: number | null;
  medianMibS: number | null;
  medianMinflt: number | null;
  medianMajflt: number | null;
  medianWallS: number | null;
}

/** Per allocator over all benches: geometric means of its ratios against each reference. */
export interface OverallRow {
  allocator: string;
  speed: Record<string, { geomean: number | null; benches: number }>;
  memory: Record<string, { geomean: number | null; benches: number }>;
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
  /** Per bench, the peer (neither hakmem nor glibc) with the best median, or null. */
  bestPeer: Record<string, string | null>;
}

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

/** `curve` with at most `max` points: the samples are cut into max/2 runs of consecutive ones
 * and each run is kept as its lowest and its highest sample, in time order (so neither a peak nor
 * a dip is lost); times and values rounded. */
export function thinCurve(curve: readonly [number, number][], max: number): [number, number][] {
  const round = (p: readonly [number, number]): [number, number] => [
    Number(p[0].toFixed(3)),
    Math.round(p[1]),
  ];
  if (curve.length <= max) return curve.map(round);
  const runs = Math.max(1, Math.floor(max / 2));
  const out: [number, number][] = [];
  for (let i = 0; i < runs; i++) {
    const start = Math.floor((i * curve.length) / runs);
    const end = Math.floor(((i + 1) * curve.length) / runs);
    let lo = start;
    let hi = start;
    for (let k = start; k < end; k++) {
      if (curve[k][1] < curve[lo][1]) lo = k;
      if (curve[k][1] > curve[hi][1]) hi = k;
    }
    for (const k of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) {
      out.push(round(curve[k]));
    }
  }
  return out;
}

/** What summarize() reads: any results-like object (the report's own types fit too). */
export interface SummaryInput {
  benches: readonly {
    id: string;
    metric: string;
    higher_is_better: boolean;
    memory_key?: string | null;
  }[];
  allocators: readonly { name: string; kind?: string }[];
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
  rss?: { mib_s: number } | null;
  /** hakrun's core-to-core round trip before the run, ns (null or absent: not timed). */
  core_rtt_ns?: number | null;
}

/** A round whose runs saw core-to-core round trips this far apart ran on two machines (the host
 * moved the vCPUs between runs): 55 against 340 ns here, with cross-thread workloads 3-4x apart. */
export const CORE_RTT_SPREAD = 2;

/** Whether two core round trips (ns) were timed on different machines: more than CORE_RTT_SPREAD
 * apart. */
export function roundTripsApart(x: number, y: number): boolean {
  return Math.max(x, y) > Math.min(x, y) * CORE_RTT_SPREAD;
}

/** Whether two runs saw different machines: both timed the core round trip, and the two are
 * apart (roundTripsApart). */
export function machinesApart(a: SampleLike, b: SampleLike): boolean {
  const x = a.core_rtt_ns, y = b.core_rtt_ns;
  return !!x && !!y && roundTripsApart(x, y);
}

function usable(s: SampleLike): s is SampleLike & { value: number } {
  return s.ok && typeof s.value === "number" && Number.isFinite(s.value) && s.value > 0;
}

/** A sample's speed figure, or null when the run failed or has none. */
export function speedValue(s: SampleLike): number | null {
  return usable(s) ? s.value : null;
}

/** The memory figure of an ok sample (KiB): result[memoryKey], else its peak RSS. */
export function memoryOf(s: SampleLike, memoryKey: string | null | undefined): number | null {
  if (!usable(s)) return null;
  const v = memoryKey ? s.result?.[memoryKey] : s.maxrss_kib;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

/** Median of the per-round normalised ratios of `mine` against `ref` (samples of one bench),
 * each sample's number read by `value` (null: left out). */
export function pairedRatio(
  mine: readonly SampleLike[],
  ref: readonly SampleLike[],
  higherIsBetter: boolean,
  value: (s: SampleLike) => number | null = speedValue,
): PairedRatio {
  const ratios = roundRatios(mine, ref, higherIsBetter, value);
  return { ratio: median(ratios), pairs: ratios.length };
}

/** The normalised ratio of each sample of `mine` against the median of `ref`'s samples of the
 * same round (rounds where either has no number are left out). */
export function roundRatios<S extends { round: number }>(
  mine: readonly S[],
  ref: readonly S[],
  higherIsBetter: boolean,
  value: (s: S) => number | null,
): number[] {
  const refByRound = new Map<number, number[]>();
  for (const s of ref) {
    const v = value(s);
    if (v === null) continue;
    refByRound.set(s.round, [...(refByRound.get(s.round) ?? []), v]);
  }
  const ratios: number[] = [];
  for (const s of mine) {
    const v = value(s);
    const r = refByRound.get(s.round);
    if (v === null || !r) continue;
    const refValue = median(r);
    if (refValue === null || refValue <= 0) continue;
    ratios.push(normalisedRatio(v, refValue, higherIsBetter));
  }
  return ratios;
}

function metricOf(
  results: SummaryInput,
  bench: string,
  samples: readonly SampleLike[],
): { metric: Metric; higherIsBetter: boolean; memoryKey: string | null } {
  const b = results.benches.find((x) => x.id === bench);
  if (b) {
    return {
      metric: b.metric === "ns_per_op" ? "ns_per_op" : "ops_per_s",
      higherIsBetter: b.higher_is_better,
      memoryKey: b.memory_key ?? null,
    };
  }
  const m = samples.map((s) => s.result?.metric).find((x) => typeof x === "string");
  const metric: Metric = m === "ns_per_op" ? "ns_per_op" : "ops_per_s";
  return { metric, higherIsBetter: metric === "ops_per_s", memoryKey: null };
}

function numbers(samples: readonly SampleLike[], f: (s: SampleLike) => number | null | undefined) {
  return samples.map(f).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
}

/** Whether `name` is a peer: neither glibc nor a hakmem variant. */
export function isPeer(results: SummaryInput, name: string): boolean {
  const a = results.allocators.find((x) => x.name === name);
  if (a?.kind) return a.kind === "peer";
  return name !== REFERENCE_GLIBC && !name.startsWith("hakmem");
}

/** Summary statistics of a results.json (see the header of this file for the ratios). */
export function summarize(results: SummaryInput): Summary {
  const benches = results.benches.map((b) => b.id);
  const allocators = results.allocators.map((a) => a.name);
  for (const s of results.samples) {
    if (!benches.includes(s.bench)) benches.push(s.bench);
    if (!allocators.includes(s.allocator)) allocators.push(s.allocator);
  }
  const ran = allocators.filter((a) => results.samples.some((s) => s.allocator === a));
  const rows: SummaryRow[] = [];
  const bestPeer: Record<string, string | null> = {};
  for (const bench of benches) {
    const ofBench = results.samples.filter((s) => s.bench === bench);
    if (ofBench.length === 0) continue;
    const { metric, higherIsBetter, memoryKey } = metricOf(results, bench, ofBench);
    const mem = (s: SampleLike) => memoryOf(s, memoryKey);
    const by = new Map(ran.map((a) => [a, ofBench.filter((s) => s.allocator === a)]));
    for (const allocator of ran) {
      const mine = by.get(allocator)!;
      if (mine.length === 0) continue;
      const good = mine.filter(usable);
      const values = good.map((s) => s.value);
      const speed: Record<string, PairedRatio> = {};
      const memory: Record<string, PairedRatio> = {};
      for (const ref of ran) {
        speed[ref] = pairedRatio(mine, by.get(ref)!, higherIsBetter);
        memory[ref] = pairedRatio(mine, by.get(ref)!, false, mem);
      }
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
        speed,
        memory,
        medianMemKiB: median(numbers(good, mem)),
        medianMaxRssKiB: median(numbers(good, (s) => s.maxrss_kib)),
        medianMibS: median(numbers(good, (s) => s.rss?.mib_s)),
        medianMinflt: median(numbers(good, (s) => s.minflt)),
        medianMajflt: median(numbers(good, (s) => s.majflt)),
        medianWallS: median(numbers(good, (s) => s.wall_s)),
      });
    }
    const peers = rows.filter((r) =>
      r.bench === bench && r.median !== null && isPeer(results, r.allocator)
    );
    peers.sort((a, b) => (higherIsBetter ? b.median! - a.median! : a.median! - b.median!));
    bestPeer[bench] = peers[0]?.allocator ?? null;
  }
  const overall: OverallRow[] = [];
  for (const allocator of ran) {
    const mine = rows.filter((r) => r.allocator === allocator);
    if (mine.length === 0) continue;
    const speed: OverallRow["speed"] = {};
    const memory: OverallRow["memory"] = {};
    for (const ref of ran) {
      const s = mine.map((r) => r.speed[ref]?.ratio).filter((x): x is number => x != null);
      const m = mine.map((r) => r.memory[ref]?.ratio).filter((x): x is number => x != null);
      speed[ref] = { geomean: geomean(s), benches: s.length };
      memory[ref] = { geomean: geomean(m), benches: m.length };
    }
    overall.push({ allocator, speed, memory, failed: mine.reduce((s, r) => s + r.failed, 0) });
  }
  return { benches, allocators, rows, overall, bestPeer };
}

/** The row of (bench, allocator), if it has samples. */
export function summaryRow(
  summary: Summary,
  bench: string,
  allocator: string,
): SummaryRow | undefined {
  return summary.rows.find((r) => r.bench === bench && r.allocator === allocator);
}

/** The speed ratio of (bench, allocator) against `ref`, or null. */
export function speedRatio(summary: Summary, bench: string, alloc: string, ref: string) {
  return summaryRow(summary, bench, alloc)?.speed[ref]?.ratio ?? null;
}

/** The memory ratio of (bench, allocator) against `ref`, or null. */
export function memoryRatio(summary: Summary, bench: string, alloc: string, ref: string) {
  return summaryRow(summary, bench, alloc)?.memory[ref]?.ratio ?? null;
}

/** The geometric mean of `alloc`'s speed or memory ratios against `ref`, or null. */
export function overallRatio(
  summary: Summary,
  alloc: string,
  ref: string,
  what: "speed" | "memory",
): number | null {
  return summary.overall.find((o) => o.allocator === alloc)?.[what][ref]?.geomean ?? null;
}
