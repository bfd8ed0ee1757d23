/// <reference lib="dom" />
// The report's view of one run: its summary (tasks/bench/stats.ts, the numbers the terminal
// prints too), the allocators that ran, the reference of the normalised charts, and small
// accessors shared by the sections.

import {
  median,
  memoryOf,
  normalisedRatio,
  REFERENCE_GLIBC,
  type Results,
  type Sample,
  summarize,
  type Summary,
  type SummaryRow,
} from "../tasks/bench/stats.ts";

export interface RunView {
  results: Results;
  summary: Summary;
  /** Allocators that ran (available and with samples), in results order. */
  allocs: string[];
  /** Reference of the normalised charts: the run's baseline when it ran, else glibc. */
  reference: string;
}

export function view(results: Results): RunView {
  const summary = summarize(results);
  const ran = new Set(results.samples.map((s) => s.allocator));
  const allocs = summary.allocators.filter((a) => ran.has(a));
  const base = results.params.baseline;
  const reference = results.samples.some((s) => s.allocator === base && s.ok)
    ? base
    : REFERENCE_GLIBC;
  return { results, summary, allocs, reference };
}

export function samplesOf(r: Results, bench: string, alloc: string): Sample[] {
  return r.samples.filter((s) => s.bench === bench && s.allocator === alloc);
}

export function benchInfo(r: Results, id: string) {
  return r.benches.find((b) => b.id === id) ?? {
    id,
    program: id,
    args: [],
    metric: "ops_per_s" as const,
    higher_is_better: true,
    title: id,
    description: "",
    memory_key: null,
  };
}

/** min and max over rounds of the normalised ratio against `ref` (pair by pair per round), of
 * the speed or of the memory figure. */
export function ratioSpread(
  r: Results,
  bench: string,
  alloc: string,
  ref: string,
  what: "speed" | "memory",
): { min: number; max: number } | null {
  const info = benchInfo(r, bench);
  const value = (s: Sample) =>
    what === "speed"
      ? (s.ok && s.value !== null && s.value > 0 ? s.value : null)
      : memoryOf(s, info.memory_key);
  const refByRound = new Map<number, number[]>();
  for (const s of samplesOf(r, bench, ref)) {
    const v = value(s);
    if (v !== null) refByRound.set(s.round, [...(refByRound.get(s.round) ?? []), v]);
  }
  const ratios: number[] = [];
  for (const s of samplesOf(r, bench, alloc)) {
    const v = value(s);
    const rv = median(refByRound.get(s.round) ?? []);
    if (v === null || rv === null || rv <= 0) continue;
    ratios.push(normalisedRatio(v, rv, what === "speed" ? info.higher_is_better : false));
  }
  return ratios.length ? { min: Math.min(...ratios), max: Math.max(...ratios) } : null;
}

/** The speed or memory ratio of a row against `ref`, or null. */
export function refRatio(
  row: SummaryRow | undefined,
  ref: string,
  what: "speed" | "memory" = "speed",
): number | null {
  return row?.[what][ref]?.ratio ?? null;
}

/** Median over ok samples of a numeric extra of the program's result line (e.g. "p99_ns"). */
export function medianExtra(samples: Sample[], key: string): number | null {
  const xs: number[] = [];
  for (const s of samples) {
    const v = s.ok ? s.result?.[key] : undefined;
    if (typeof v === "number" && Number.isFinite(v)) xs.push(v);
  }
  return median(xs);
}

export const LATENCY_KEYS = ["p50_ns", "p99_ns", "max_ns"] as const;

/** How a failed sample ended, in words. */
export function failureText(s: Sample): string {
  if (s.timed_out) return "timed out";
  if (s.signal !== null) return `killed by signal ${s.signal}${signalName(s.signal)}`;
  if (s.exit !== null && s.exit !== 0) return `exit status ${s.exit}`;
  if (s.exit === 0) return "exit 0 but no valid result line";
  return "did not run";
}

function signalName(sig: number): string {
  const names: Record<number, string> = {
    4: "SIGILL",
    6: "SIGABRT",
    7: "SIGBUS",
    8: "SIGFPE",
    9: "SIGKILL",
    11: "SIGSEGV",
    15: "SIGTERM",
  };
  return names[sig] ? ` (${names[sig]})` : "";
}
