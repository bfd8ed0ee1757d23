// The oracle's verdict (`deno task bench --oracle`, tasks/bench/oracle.ts) computed from a
// results.json: per workload, the learning variant against balanced (throughput, and RSS·time =
// the MiB·s hakrun integrated), against the best fixed configuration by throughput (of the same
// rounds, and picked on the other rounds), and the fixed configuration that holds least memory
// over time; then the targets. Pure (bundles for
// the report page), so the terminal summary and the report show the same numbers.
//
// Ratios are paired by round like every ratio of the suite (tasks/bench/stats.ts), medians of the
// per-round ratios. Throughput ratios are normalised (> 1: learning is faster). RSS·time ratios
// are NOT inverted: learning's MiB·s over the other's, so < 1 means learning held less memory over
// time (the "RSS·time ≤ 1.1× balanced's").

import {
  CORE_RTT_SPREAD,
  geomean,
  machinesApart,
  median,
  type Metric,
  pairedRatio,
  type Results,
  roundRatios,
  type SampleLike,
  speedValue,
  summarize,
  type Summary,
  summaryRow,
} from "./stats.ts";
import { fmtRatio } from "../lib/format.ts";

/** The learning issue's targets (issue 23, "Targets"): on every workload, learning ≥ 0.95× the
 * best fixed configuration and ≥ 0.98× balanced, and RSS·time ≤ 1.1× balanced's where it gains no
 * speed. */
export const TARGET_NEAR_BEST = 0.95;
export const TARGET_SPEED_VS_BALANCED = 0.98;
export const TARGET_MIBS_NO_GAIN = 1.1;

export interface OracleRow {
  bench: string;
  metric: Metric;
  /** Learning's throughput against balanced (normalised: > 1 faster). */
  speedVsBalanced: number | null;
  /** Learning's MiB·s over balanced's (< 1: less memory over time). */
  mibsVsBalanced: number | null;
  /** The fixed configuration with the best median throughput, and learning against it. */
  bestSpeed: string | null;
  speedVsBest: number | null;
  mibsVsBest: number | null;
  /** Learning against the best fixed configuration picked without the round it is judged on
   * (heldOutBest): the configurations picked, one per round, and the median ratio; null with one
   * round. */
  bestHeldOut: string[];
  speedVsBestHeldOut: number | null;
  /** Rounds whose held-out pick ran on another machine than learning's run (core round trips
   * more than CORE_RTT_SPREAD apart): their ratios compare two machines. */
  heldOutMachinesApart: number;
  /** The fixed configuration with the lowest median MiB·s: its throughput and MiB·s against
   * balanced, and learning's MiB·s over its. */
  bestMemory: string | null;
  bestMemorySpeedVsBalanced: number | null;
  bestMemoryMibsVsBalanced: number | null;
  mibsVsBestMemory: number | null;
  /** Learning against the baseline peer (mimalloc3) when it ran. */
  speedVsBaseline: number | null;
  /** Median MiB·s of learning and balanced. */
  learningMibs: number | null;
  balancedMibs: number | null;
  /** Median wall time of learning's runs, s: ACE's time to learn (--oracle calibrates the scales
   * so that it is about --duration). */
  learningWallS: number | null;
}

export interface OracleTarget {
  what: string;
  met: boolean | null;
  detail: string;
}

export interface OracleTable {
  learning: string;
  balanced: string;
  fixed: string[];
  rows: OracleRow[];
  geomeanSpeedVsBalanced: number | null;
  geomeanMibsVsBalanced: number | null;
  geomeanSpeedVsBest: number | null;
  geomeanSpeedVsBestHeldOut: number | null;
  targets: OracleTarget[];
}

function mibs(s: SampleLike): number | null {
  const v = s.ok ? s.rss?.mib_s : undefined;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

/** Per round, the fixed configuration with the best median over the other rounds, and learning's
 * ratio to it in that round (normalised: > 1 learning faster). The best of many configurations on
 * the rounds that also judge it is the largest of many noisy draws: with 23 configurations that
 * behave alike on a workload, it beat learning by their spread alone (10-13 % here). Picked on
 * other rounds, it is what a user who chose the setting from an earlier run gets. Empty with
 * fewer than 2 rounds. */
export function heldOutBest(
  results: Results,
  bench: string,
  higherIsBetter: boolean,
): Map<number, { pick: string; ratio: number; apart: boolean }> {
  const o = results.oracle;
  const out = new Map<number, { pick: string; ratio: number; apart: boolean }>();
  if (!o) return out;
  const of = results.samples.filter((s) => s.bench === bench);
  const rounds = [...new Set(of.map((s) => s.round))].sort((a, b) => a - b);
  if (rounds.length < 2) return out;
  for (const r of rounds) {
    let pick: string | null = null;
    let best = 0;
    for (const c of o.fixed) {
      const m = median(
        of.filter((s) => s.allocator === c && s.round !== r).map(speedValue)
          .filter((v): v is number => v !== null),
      );
      if (m === null) continue;
      if (pick === null || (higherIsBetter ? m > best : m < best)) [pick, best] = [c, m];
    }
    if (pick === null) continue;
    const inRound = (a: string) => of.filter((s) => s.allocator === a && s.round === r);
    const learning = inRound(o.learning), picked = inRound(pick);
    const ratio = median(roundRatios(learning, picked, higherIsBetter, speedValue));
    const apart = learning.some((l) => picked.some((p) => machinesApart(l, p)));
    if (ratio !== null) out.set(r, { pick, ratio, apart });
  }
  return out;
}

/** `name` without the "hakmem-" of every hakmem variant. */
export function variantLabel(name: string): string {
  return name.startsWith("hakmem-") ? name.slice("hakmem-".length) : name;
}

/** The oracle's table of a run with results.oracle, or null without. Its rows are medians of the
 * per-round ratios; its targets are met only when they hold in every round (`perRound` false: as
 * judged on the rows alone, for one round's table). */
export function oracleTable(
  results: Results,
  summary: Summary,
  perRound = true,
  heldOut?: { full: Results; round: number },
): OracleTable | null {
  const o = results.oracle;
  if (!o) return null;
  const samples = (bench: string, alloc: string) =>
    results.samples.filter((s) => s.bench === bench && s.allocator === alloc);
  const rows: OracleRow[] = [];
  for (const bench of summary.benches) {
    const learn = summaryRow(summary, bench, o.learning);
    if (!learn) continue;
    const hib = learn.higherIsBetter;
    const mine = samples(bench, o.learning);
    const speedTo = (ref: string) =>
      summaryRow(summary, bench, o.learning)?.speed[ref]?.ratio ?? null;
    const mibsOf = (a: string, ref: string) =>
      pairedRatio(samples(bench, a), samples(bench, ref), true, mibs).ratio;
    const fixed = o.fixed.map((name) => summaryRow(summary, bench, name))
      .filter((r) => r !== undefined && r.median !== null);
    const bySpeed = [...fixed].sort((a, b) =>
      hib ? b!.median! - a!.median! : a!.median! - b!.median!
    );
    const byMemory = fixed.filter((r) => r!.medianMibS !== null)
      .sort((a, b) => a!.medianMibS! - b!.medianMibS!);
    const bestSpeed = bySpeed[0]?.allocator ?? null;
    const bestMemory = byMemory[0]?.allocator ?? null;
    // one round's table (judged round by round) takes its round's pick from the whole run
    const held = heldOutBest(heldOut?.full ?? results, bench, hib);
    const picks = heldOut ? [held.get(heldOut.round)].filter((p) => p !== undefined) : [
      ...held.values(),
    ];
    rows.push({
      bench,
      metric: learn.metric,
      speedVsBalanced: speedTo(o.balanced),
      mibsVsBalanced: mibsOf(o.learning, o.balanced),
      bestSpeed,
      speedVsBest: bestSpeed ? speedTo(bestSpeed) : null,
      mibsVsBest: bestSpeed ? mibsOf(o.learning, bestSpeed) : null,
      bestHeldOut: picks.map((p) => p!.pick),
      speedVsBestHeldOut: median(picks.map((p) => p!.ratio)),
      heldOutMachinesApart: picks.filter((p) => p!.apart).length,
      bestMemory,
      bestMemorySpeedVsBalanced: bestMemory
        ? summaryRow(summary, bench, bestMemory)?.speed[o.balanced]?.ratio ?? null
        : null,
      bestMemoryMibsVsBalanced: bestMemory ? mibsOf(bestMemory, o.balanced) : null,
      mibsVsBestMemory: bestMemory ? mibsOf(o.learning, bestMemory) : null,
      speedVsBaseline: speedTo(results.params.baseline),
      learningMibs: median(mine.map(mibs).filter((x): x is number => x !== null)),
      balancedMibs: summaryRow(summary, bench, o.balanced)?.medianMibS ?? null,
      learningWallS: learn.medianWallS,
    });
  }
  const g = (f: (r: OracleRow) => number | null) =>
    geomean(rows.map(f).filter((x): x is number => x !== null));
  const table: OracleTable = {
    learning: o.learning,
    balanced: o.balanced,
    fixed: o.fixed,
    rows,
    geomeanSpeedVsBalanced: g((r) => r.speedVsBalanced),
    geomeanMibsVsBalanced: g((r) => r.mibsVsBalanced),
    geomeanSpeedVsBest: g((r) => r.speedVsBest),
    geomeanSpeedVsBestHeldOut: g((r) => r.speedVsBestHeldOut),
    targets: [],
  };
  table.targets = targets(table);
  if (perRound) table.targets = everyRound(results, table.targets);
  return table;
}

/** `overall` judged again round by round: a target is met only when it held in every round
 * (never on the median of a noisy run); the detail says in how many it held, and a run of one
 * round is an indication only. */
function everyRound(results: Results, overall: OracleTarget[]): OracleTarget[] {
  const rounds = [...new Set(results.samples.map((s) => s.round))].sort((a, b) => a - b);
  const per = rounds.map((r) => {
    const sub = { ...results, samples: results.samples.filter((s) => s.round === r) };
    return oracleTable(sub, summarize(sub), false, { full: results, round: r })?.targets ?? [];
  });
  return overall.map((t, i) => {
    const verdicts = per.map((p) => p[i]?.met ?? null);
    const judged = verdicts.filter((v): v is boolean => v !== null);
    if (judged.length === 0) return t;
    const held = judged.filter((v) => v).length;
    const note = rounds.length === 1
      ? "one round: an indication only"
      : `held in ${held} of ${rounds.length} rounds`;
    return { ...t, met: held === rounds.length, detail: `${t.detail}; ${note}` };
  });
}

/** A variant's place in the speed–memory trade of one bench, both against balanced. */
export interface TradePoint {
  allocator: string;
  /** Throughput against balanced (normalised: > 1 faster). */
  speed: number | null;
  /** MiB·s over balanced's (< 1: less memory over time). */
  mibs: number | null;
}

/** Every fixed configuration and the learning variant on `bench`, against balanced. */
export function tradePoints(results: Results, summary: Summary, bench: string): TradePoint[] {
  const o = results.oracle;
  if (!o) return [];
  const samples = (alloc: string) =>
    results.samples.filter((s) => s.bench === bench && s.allocator === alloc);
  return [...o.fixed, o.learning].filter((a) => summaryRow(summary, bench, a)).map((a) => ({
    allocator: a,
    speed: summaryRow(summary, bench, a)?.speed[o.balanced]?.ratio ?? null,
    mibs: pairedRatio(samples(a), samples(o.balanced), true, mibs).ratio,
  }));
}

/** The targets, each met or not on this run (null: nothing to judge). Against the best
 * fixed configuration: the one picked on the other rounds when the run has several (heldOutBest),
 * else the best of this round, which overstates it. */
function targets(t: OracleTable): OracleTarget[] {
  const list = (rows: OracleRow[], f: (r: OracleRow) => number | null) =>
    rows.map((r) => `${r.bench} (${fmtRatio(f(r))})`).join(", ");
  const heldOut = t.rows.some((r) => r.speedVsBestHeldOut !== null);
  const vsBest = (r: OracleRow) => heldOut ? r.speedVsBestHeldOut : r.speedVsBest;
  const nearJudged = t.rows.filter((r) => vsBest(r) !== null);
  const far = nearJudged.filter((r) => vsBest(r)! < TARGET_NEAR_BEST);
  const judged = t.rows.filter((r) => r.speedVsBalanced !== null);
  const slow = judged.filter((r) => r.speedVsBalanced! < TARGET_SPEED_VS_BALANCED);
  const noGain = t.rows.filter((r) =>
    r.speedVsBalanced !== null && r.speedVsBalanced <= 1 && r.mibsVsBalanced !== null
  );
  const heavy = noGain.filter((r) => r.mibsVsBalanced! > TARGET_MIBS_NO_GAIN);
  const verdict = (all: OracleRow[], bad: OracleRow[], f: (r: OracleRow) => number | null) =>
    bad.length === 0 ? `${all.length} of ${all.length}` : `not on ${list(bad, f)}`;
  const apart = t.rows.reduce((n, r) => n + r.heldOutMachinesApart, 0);
  return [
    {
      what: `learning ≥ ${TARGET_NEAR_BEST}× the best fixed configuration on every workload (` +
        (heldOut ? "picked on the other rounds" : "the best of the same round: overstated") + ")",
      met: nearJudged.length ? far.length === 0 : null,
      detail: verdict(nearJudged, far, vsBest) +
        (apart > 0
          ? `; ${apart} workload-round(s) compare runs on two machines (core round trips more ` +
            `than ${CORE_RTT_SPREAD}x apart)`
          : ""),
    },
    {
      what: `learning ≥ ${TARGET_SPEED_VS_BALANCED}× balanced's throughput on every workload`,
      met: judged.length ? slow.length === 0 : null,
      detail: verdict(judged, slow, (r) => r.speedVsBalanced),
    },
    {
      what: `RSS·time ≤ ${TARGET_MIBS_NO_GAIN}× balanced's where learning gains no speed`,
      met: noGain.length ? heavy.length === 0 : null,
      detail: noGain.length
        ? verdict(noGain, heavy, (r) => r.mibsVsBalanced)
        : "learning gained speed on every workload",
    },
  ];
}
