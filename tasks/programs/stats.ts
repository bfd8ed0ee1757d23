// Statistics of a `programs` record (tasks/bench/schema.ts): per program and allocator the
// medians of time, peak RSS and CPU, and each as a ratio to every other allocator that ran, pair
// by pair within a round (the bench's way: tasks/bench/stats.ts), with the spread over rounds;
// then the headlines, losses first. Shared by the printed summaries (bench, compare) and the
// report page; pure, so it bundles for the browser.
//
// Ratios here are plain quotients, allocator ÷ reference: < 1 means less time or memory than the
// reference (the question "how much of glibc's time does my program take under hakmem?").

import { geomean, median, REFERENCE_GLIBC, roundRatios } from "../bench/stats.ts";
import type { ProgramSample, ProgramsRecord } from "../bench/schema.ts";
import { fmtRatio } from "../lib/format.ts";

export type ProgramMetric = "time" | "rss" | "user" | "sys";

/** The figures compared, in table order. */
export const PROGRAM_METRICS: readonly {
  key: ProgramMetric;
  label: string;
  value: (s: ProgramSample) => number;
}[] = [
  { key: "time", label: "time", value: (s) => s.wall_s },
  { key: "rss", label: "peak RSS", value: (s) => s.maxrss_kib },
  { key: "user", label: "user CPU", value: (s) => s.user_s },
  { key: "sys", label: "sys CPU", value: (s) => s.sys_s },
];

/** The first columns of a figures table (terminal and page): the program unless there is one. */
export function figureColumns(onlyOne: boolean): string[] {
  return [...(onlyOne ? [] : ["program"]), "allocator", "time s", "peak RSS", "user s", "sys s"];
}

/** A ratio's median over the rounds and its spread. */
export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  /** Rounds in which both sides ran ok. */
  rounds: number;
}

export interface ProgramRow {
  program: string;
  allocator: string;
  n: number;
  ok: number;
  failed: number;
  /** Runs whose output differed from glibc's of the same round. */
  differs: number;
  median: Record<ProgramMetric, number | null>;
  medianMibS: number | null;
  /** Against every allocator that ran this program: allocator ÷ reference per metric. */
  ratios: Record<string, Record<ProgramMetric, Spread>>;
}

export interface ProgramsSummary {
  /** Program ids with samples, and allocators with samples, in record/given order. */
  programs: string[];
  allocators: string[];
  rows: ProgramRow[];
  /** Per allocator and reference: the geometric mean over the programs of the median ratios. */
  geomean: Record<string, Record<string, Record<ProgramMetric, number | null>>>;
}

function spread(xs: number[]): Spread {
  return {
    median: median(xs),
    min: xs.length ? Math.min(...xs) : null,
    max: xs.length ? Math.max(...xs) : null,
    rounds: xs.length,
  };
}

const okOnly = (ss: readonly ProgramSample[]) => ss.filter((s) => s.ok);

/** The statistics of `rec`; `order` gives the allocators' order (e.g. results.allocators). */
export function summarizePrograms(
  rec: ProgramsRecord,
  order: readonly string[] = [],
): ProgramsSummary {
  const programs = rec.programs.map((p) => p.id).filter((id) =>
    rec.samples.some((s) => s.program === id)
  );
  const allocators = [...order, ...rec.samples.map((s) => s.allocator)]
    .filter((a, i, all) => all.indexOf(a) === i && rec.samples.some((s) => s.allocator === a));
  const rows: ProgramRow[] = [];
  for (const program of programs) {
    const of = (a: string) => rec.samples.filter((s) => s.program === program && s.allocator === a);
    for (const allocator of allocators) {
      const mine = of(allocator);
      if (mine.length === 0) continue;
      const good = okOnly(mine);
      const med = {} as Record<ProgramMetric, number | null>;
      for (const m of PROGRAM_METRICS) med[m.key] = median(good.map(m.value));
      const ratios: ProgramRow["ratios"] = {};
      for (const ref of allocators) {
        const theirs = okOnly(of(ref));
        if (theirs.length === 0) continue;
        ratios[ref] = {} as Record<ProgramMetric, Spread>;
        for (const m of PROGRAM_METRICS) {
          ratios[ref][m.key] = spread(roundRatios(good, theirs, true, m.value));
        }
      }
      rows.push({
        program,
        allocator,
        n: mine.length,
        ok: good.length,
        failed: mine.length - good.length,
        differs: mine.filter((s) => s.output === "differs").length,
        median: med,
        medianMibS: median(good.flatMap((s) => (s.rss ? [s.rss.mib_s] : []))),
        ratios,
      });
    }
  }
  const geo: ProgramsSummary["geomean"] = {};
  for (const a of allocators) {
    geo[a] = {};
    for (const ref of allocators) {
      geo[a][ref] = {} as Record<ProgramMetric, number | null>;
      for (const m of PROGRAM_METRICS) {
        geo[a][ref][m.key] = geomean(
          rows.filter((r) => r.allocator === a).flatMap((r) => {
            const x = r.ratios[ref]?.[m.key].median;
            return x != null ? [x] : [];
          }),
        );
      }
    }
  }
  return { programs, allocators, rows, geomean: geo };
}

export function programRow(
  s: ProgramsSummary,
  program: string,
  allocator: string,
): ProgramRow | undefined {
  return s.rows.find((r) => r.program === program && r.allocator === allocator);
}

const isHakmem = (a: string) => a.startsWith("hakmem");

/** One comparison of a hakmem variant with another allocator on one program and figure. */
export interface Verdict {
  hakmem: string;
  other: string;
  program: string;
  metric: "time" | "rss";
  ratio: Spread;
}

/** Every (hakmem variant, other allocator, program, time | peak RSS) with a ratio, the losses
 * (hakmem took more) first, worst first, then the rest, best last. */
export function verdicts(s: ProgramsSummary): Verdict[] {
  const out: Verdict[] = [];
  for (const r of s.rows.filter((x) => isHakmem(x.allocator))) {
    for (const [other, byMetric] of Object.entries(r.ratios)) {
      if (isHakmem(other)) continue;
      for (const metric of ["time", "rss"] as const) {
        if (byMetric[metric].median !== null) {
          out.push({
            hakmem: r.allocator,
            other,
            program: r.program,
            metric,
            ratio: byMetric[metric],
          });
        }
      }
    }
  }
  return out.sort((a, b) => b.ratio.median! - a.ratio.median!);
}

/** "2nd of 8": where `alloc` stands by median time on `program` (1 = fastest), or null. */
export function timeRank(
  s: ProgramsSummary,
  program: string,
  alloc: string,
): { rank: number; of: number } | null {
  const times = s.rows.filter((r) => r.program === program && r.median.time !== null);
  const mine = times.find((r) => r.allocator === alloc);
  if (!mine) return null;
  return {
    rank: 1 + times.filter((r) => r.median.time! < mine.median.time!).length,
    of: times.length,
  };
}

function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** "1.12× (1.05–1.20)": a ratio and its spread over the rounds (one round: the ratio alone). */
export function fmtSpread(x: Spread | undefined): string {
  if (!x || x.median === null) return "—";
  if (x.rounds < 2) return fmtRatio(x.median);
  return `${fmtRatio(x.median)} (${x.min!.toFixed(2)}–${x.max!.toFixed(2)})`;
}

/** The headlines in words, losses first: where a hakmem variant took more time or memory than
 * a peer (then glibc), worst first, saying whether it held in every round; then the wins; then
 * each variant's rank by time per program. One round is marked as an indication. */
export function headlines(s: ProgramsSummary, repeat: number): string[] {
  const vs = verdicts(s);
  const what = (v: Verdict) => (v.metric === "time" ? "time" : "peak RSS");
  const every = (v: Verdict, worse: boolean) => {
    const all = worse ? v.ratio.min! > 1 : v.ratio.max! < 1;
    return v.ratio.rounds < 2
      ? "one round: an indication"
      : all
      ? `in every one of ${v.ratio.rounds} rounds`
      : `not in every round: ${v.ratio.min!.toFixed(2)}–${v.ratio.max!.toFixed(2)}`;
  };
  const line = (v: Verdict, worse: boolean) =>
    `${v.hakmem} ${
      v.metric === "time"
        ? (worse ? "is slower than" : "is faster than")
        : (worse ? "uses more memory than" : "uses less memory than")
    } ${v.other} on ${v.program}: ${fmtRatio(v.ratio.median)} its ${what(v)} (${every(v, worse)})`;
  // peers before glibc: losing to a peer is the news a user of a malloc replacement needs
  const peersFirst = (xs: Verdict[]) => [
    ...xs.filter((v) => v.other !== REFERENCE_GLIBC),
    ...xs.filter((v) => v.other === REFERENCE_GLIBC),
  ];
  const losses = peersFirst(vs.filter((v) => v.ratio.median! > 1));
  const wins = peersFirst(vs.filter((v) => v.ratio.median! < 1).reverse());
  const out: string[] = [];
  if (vs.length === 0) return ["no hakmem run to compare (or no other allocator ran ok)"];
  out.push(
    losses.length === 0
      ? "hakmem lost nowhere: no program where a variant took more time or peak RSS than another allocator"
      : `where hakmem loses (${losses.length}):`,
    ...losses.map((v) => `  ${line(v, true)}`),
  );
  if (wins.length > 0) out.push(`where hakmem wins (${wins.length}):`);
  out.push(...wins.map((v) => `  ${line(v, false)}`));
  for (const h of s.allocators.filter(isHakmem)) {
    const ranks = s.programs.flatMap((p) => {
      const r = timeRank(s, p, h);
      return r ? [`${ordinal(r.rank)} of ${r.of} on ${p}`] : [];
    });
    if (ranks.length > 0) out.push(`${h} by time: ${ranks.join(", ")}`);
  }
  if (repeat < 2) out.push("one round only: every ratio is an indication, not a measurement");
  return out;
}
