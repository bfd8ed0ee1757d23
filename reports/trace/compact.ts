// A parsed ACE trace (reports/trace/trace.ts) made small enough for the report page to embed:
//
//   compactTrace(trace, max)  -> the same with at most `max` points per series, numbers rounded to
//                                six significant digits
//
// Pure (no Deno API).

import { METRIC_KEYS, type MetricKey, type RewardSeries, type Trace } from "./trace.ts";

/** Points per series the report embeds (compactTrace's `max` in reports/build_report.ts). */
export const MAX_TRACE_POINTS = 2000;

/** At most `max` indexes of 0..n-1, evenly spread, always the first and the last. */
export function sampleIndexes(n: number, max: number): number[] {
  const m = Math.max(2, Math.floor(max));
  if (n <= m) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: m }, (_, i) => Math.round((i * (n - 1)) / (m - 1)));
}

function round6(v: number): number {
  return Number(v.toPrecision(6));
}

function roundOrNull(v: number | null): number | null {
  return v === null ? null : round6(v);
}

/** `trace` with at most `max` points per series (evenly sampled, keeping the first and the last)
 * and its numbers rounded to six significant digits; the summary is kept as it was (computed from
 * every point), with `downsampled` set when points were dropped. */
export function compactTrace(trace: Trace, max: number): Trace {
  let dropped = false;
  const pick = <T>(xs: T[], idx: number[]): T[] => idx.map((i) => xs[i]);
  const indexes = (n: number) => {
    const idx = sampleIndexes(n, max);
    if (idx.length < n) dropped = true;
    return idx;
  };
  const reward = (r: RewardSeries): RewardSeries => {
    const idx = indexes(r.t.length);
    return { t: pick(r.t, idx).map(round6), reward: pick(r.reward, idx).map(roundOrNull) };
  };
  const mIdx = indexes(trace.metrics.t.length);
  const values = {} as Record<MetricKey, (number | null)[]>;
  for (const k of METRIC_KEYS) values[k] = pick(trace.metrics.values[k], mIdx).map(roundOrNull);
  const e = trace.elo;
  const eIdx = indexes(e.t.length);
  const cut = <T>(xs: T[]) => {
    if (xs.length > max) dropped = true;
    return xs.slice(0, Math.max(0, max));
  };
  const out: Trace = {
    start: trace.start,
    summary: { ...trace.summary },
    reward: { fast: reward(trace.reward.fast), slow: reward(trace.reward.slow) },
    metrics: {
      t: pick(trace.metrics.t, mIdx).map(round6),
      values,
      llcSource: pick(trace.metrics.llcSource, mIdx),
    },
    knobs: trace.knobs.map((k) => {
      const idx = indexes(k.t.length);
      return {
        ...k,
        t: pick(k.t, idx).map(round6),
        v: pick(k.v, idx).map(round6),
        rule: pick(k.rule, idx),
      };
    }),
    knobTracks: trace.knobTracks.map((k) => {
      const idx = indexes(k.t.length);
      return { ...k, t: pick(k.t, idx).map(round6), v: pick(k.v, idx).map(round6) };
    }),
    phases: cut(trace.phases),
    elo: {
      thresholds: e.thresholds,
      t: pick(e.t, eIdx).map(round6),
      state: pick(e.state, eIdx),
      best: pick(e.best, eIdx),
      allocs: pick(e.allocs, eIdx),
      rating: e.rating.map((xs) => pick(xs, eIdx).map(roundOrNull)),
      plays: e.plays.map((xs) => pick(xs, eIdx)),
    },
    eloTransitions: cut(trace.eloTransitions),
    scavenges: cut(trace.scavenges),
    guards: cut(trace.guards),
  };
  out.summary.downsampled = trace.summary.downsampled || dropped;
  return out;
}
