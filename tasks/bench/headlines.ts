// The headlines of a bench run, which the printed summary and the report lead with: where hakmem
// loses, not where it wins. Per peer (and glibc), the workloads where hakmem is slower, worst
// first, with the geometric means of speed and memory against it; hakmem's rank among all the
// allocators that ran (no single baseline: each allocator's geometric mean over the workloads of
// its value relative to the workload's best); and the targets "as fast as X" and "as little memory
// as X", each met only when it held in every round (a run of one round is an indication only).
// Pure: no Deno API, so the report bundles it too.

import {
  geomean,
  isPeer,
  memoryOf,
  normalisedRatio,
  REFERENCE_GLIBC,
  type SampleLike,
  type Summary,
  type SummaryInput,
} from "./stats.ts";
import { fmtRatio } from "../lib/format.ts";

/** A workload where hakmem did worse than a reference: its paired ratio (< 1). */
export interface Loss {
  bench: string;
  ratio: number;
}

/** hakmem's result in each round: the geometric mean over the workloads of that round's pairs. */
export interface RoundVerdict {
  rounds: number;
  /** Per round, the geometric mean of hakmem's ratios (null: no pair that round). */
  speed: (number | null)[];
  memory: (number | null)[];
  /** Met only when every round held (>= 1); null when no round had a pair. */
  speedMet: boolean | null;
  memoryMet: boolean | null;
  /** One round only: the verdicts are an indication, not a result. */
  indication: boolean;
}

export interface PeerLosses {
  reference: string;
  /** Workloads where hakmem is slower, worst first. */
  speed: Loss[];
  /** Workloads where hakmem holds more memory, worst first. */
  memory: Loss[];
  /** Workloads compared (with a speed ratio). */
  compared: number;
  speedGeomean: number | null;
  memoryGeomean: number | null;
  rounds: RoundVerdict;
}

export interface RankEntry {
  allocator: string;
  /** Geometric mean over the ranked workloads of its value relative to each workload's best
   * (1: the best on every workload). */
  score: number;
}

export interface Ranking {
  /** Best first. */
  entries: RankEntry[];
  /** The workloads every ranked allocator has a result for (the others are left out). */
  benches: string[];
}

export interface Headlines {
  hakmem: string;
  /** Against glibc and every peer, in the run's order. */
  losses: PeerLosses[];
  speed: Ranking;
  memory: Ranking;
  /** hakmem's place (1 = best) among the ranked allocators, or null. */
  speedRank: number | null;
  memoryRank: number | null;
  rounds: number;
}

/** Workloads with ratio < 1, worst first. */
export function lossesOf(ratios: readonly { bench: string; ratio: number | null }[]): Loss[] {
  return ratios.filter((r): r is Loss => r.ratio !== null && r.ratio < 1)
    .sort((a, b) => a.ratio - b.ratio || a.bench.localeCompare(b.bench));
}

/** The verdict of every round: in round r, hakmem's ratios against `ref` over the workloads both
 * ran that round, summed up as a geometric mean. */
export function roundVerdict(
  results: SummaryInput,
  hakmem: string,
  ref: string,
): RoundVerdict {
  const roundSet = new Set(results.samples.map((s) => s.round));
  const rounds = [...roundSet].sort((a, b) => a - b);
  const one = (r: number, what: "speed" | "memory"): number | null => {
    const ratios: number[] = [];
    for (const b of results.benches) {
      const at = (a: string) =>
        results.samples.find((s) => s.bench === b.id && s.allocator === a && s.round === r);
      const mine = at(hakmem);
      const theirs = at(ref);
      if (!mine || !theirs) continue;
      const v = (s: SampleLike) =>
        what === "speed"
          ? (s.ok && s.value !== null && s.value > 0 ? s.value : null)
          : memoryOf(s, b.memory_key);
      const x = v(mine);
      const y = v(theirs);
      if (x === null || y === null) continue;
      ratios.push(normalisedRatio(x, y, what === "speed" ? b.higher_is_better : false));
    }
    return geomean(ratios);
  };
  const speed = rounds.map((r) => one(r, "speed"));
  const memory = rounds.map((r) => one(r, "memory"));
  const met = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? null : v.length === xs.length && v.every((x) => x >= 1);
  };
  return {
    rounds: rounds.length,
    speed,
    memory,
    speedMet: met(speed),
    memoryMet: met(memory),
    indication: rounds.length === 1,
  };
}

/** The allocators ranked by their geometric mean over the workloads of value / best (speed) or
 * best / value (memory), on the workloads every one of them has a result for. */
export function rankAllocators(
  summary: Summary,
  allocators: readonly string[],
  what: "speed" | "memory",
): Ranking {
  const value = (b: string, a: string) => {
    const r = summary.rows.find((x) => x.bench === b && x.allocator === a);
    return (what === "speed" ? r?.median : r?.medianMemKiB) ?? null;
  };
  const benches = summary.benches.filter((b) => allocators.every((a) => value(b, a) !== null));
  const scores = new Map<string, number[]>(allocators.map((a) => [a, []]));
  for (const b of benches) {
    const row = summary.rows.find((x) => x.bench === b)!;
    const higher = what === "speed" ? row.higherIsBetter : false;
    const vs = allocators.map((a) => value(b, a)!);
    const best = higher ? Math.max(...vs) : Math.min(...vs);
    allocators.forEach((a, i) => scores.get(a)!.push(normalisedRatio(vs[i], best, higher)));
  }
  const entries = allocators.map((a) => ({ allocator: a, score: geomean(scores.get(a)!) }))
    .filter((e): e is RankEntry => e.score !== null)
    .sort((x, y) => y.score - x.score || x.allocator.localeCompare(y.allocator));
  return { entries, benches };
}

/** The headlines of `hakmem` (a hakmem variant's name) in a run. */
export function headlines(
  results: SummaryInput,
  summary: Summary,
  hakmem: string,
): Headlines {
  const ran = summary.allocators.filter((a) => summary.rows.some((r) => r.allocator === a));
  const refs = ran.filter((a) => a === REFERENCE_GLIBC || isPeer(results, a));
  const mine = summary.rows.filter((r) => r.allocator === hakmem);
  const overall = summary.overall.find((o) => o.allocator === hakmem);
  const losses = refs.map((ref): PeerLosses => {
    const speed = mine.map((r) => ({ bench: r.bench, ratio: r.speed[ref]?.ratio ?? null }));
    const memory = mine.map((r) => ({ bench: r.bench, ratio: r.memory[ref]?.ratio ?? null }));
    return {
      reference: ref,
      speed: lossesOf(speed),
      memory: lossesOf(memory),
      compared: speed.filter((r) => r.ratio !== null).length,
      speedGeomean: overall?.speed[ref]?.geomean ?? null,
      memoryGeomean: overall?.memory[ref]?.geomean ?? null,
      rounds: roundVerdict(results, hakmem, ref),
    };
  });
  const speed = rankAllocators(summary, ran, "speed");
  const memory = rankAllocators(summary, ran, "memory");
  const place = (r: Ranking) => {
    const i = r.entries.findIndex((e) => e.allocator === hakmem);
    return i < 0 ? null : i + 1;
  };
  const rounds = new Set(results.samples.map((s) => s.round)).size;
  return {
    hakmem,
    losses,
    speed,
    memory,
    speedRank: place(speed),
    memoryRank: place(memory),
    rounds,
  };
}

/** How a target fared over the rounds, in words. */
export function verdictText(met: boolean | null, perRound: (number | null)[]): string {
  if (met === null) return "n/a (no pair)";
  const held = perRound.filter((v) => v !== null && v >= 1).length;
  const word = perRound.length === 1
    ? (met
      ? "met in the one round (an indication only)"
      : "missed in the one round (an indication)")
    : met
    ? `MET in all ${perRound.length} rounds`
    : `MISSED (held in ${held} of ${perRound.length} rounds)`;
  return `${word}; per round ${perRound.map((r) => fmtRatio(r)).join(" ")}`;
}

/** The headlines as the printed summary's first lines. */
export function headlineText(h: Headlines, maxLosses = 6): string[] {
  const out: string[] = [
    `where ${h.hakmem} loses (speed, worst first; a ratio < 1 means hakmem is slower, ` +
    "memory < 1 means it holds more):",
  ];
  for (const l of h.losses) {
    const speed = l.speed.slice(0, maxLosses).map((s) => `${s.bench} ${fmtRatio(s.ratio)}`).join(
      ", ",
    );
    const more = l.speed.length > maxLosses ? `, +${l.speed.length - maxLosses} more` : "";
    out.push(
      `  vs ${l.reference}: speed ${fmtRatio(l.speedGeomean)}, memory ${
        fmtRatio(l.memoryGeomean)
      } ` +
        `(geomeans); slower on ${l.speed.length} of ${l.compared}` +
        (l.speed.length ? `: ${speed}${more}` : "") +
        `; more memory on ${l.memory.length}`,
    );
  }
  const rank = (title: string, r: Ranking, place: number | null) =>
    `  ${title} ${place ?? "—"} of ${r.entries.length} (over ${r.benches.length} workloads): ` +
    r.entries.map((e, i) => `${i + 1}. ${e.allocator} ${e.score.toFixed(2)}`).join("  ");
  out.push(
    `rank of ${h.hakmem} among all allocators (geomean over the workloads of each one's value ` +
      "relative to the workload's best; 1.00 = best everywhere):",
    rank("speed ", h.speed, h.speedRank),
    rank("memory", h.memory, h.memoryRank),
    `targets (met only when they hold in every round${
      h.rounds === 1 ? "; this run has one round: indications only" : ""
    }):`,
  );
  for (const l of h.losses) {
    out.push(
      `  as fast as ${l.reference}: ${verdictText(l.rounds.speedMet, l.rounds.speed)}`,
      `  as little memory as ${l.reference}: ${verdictText(l.rounds.memoryMet, l.rounds.memory)}`,
    );
  }
  return out;
}

/** The fields of results.json the peers' lines read. */
interface PeersInput {
  allocators: readonly {
    name: string;
    version: string | null;
    build_choice?: { kind: string; why: string; fallback: boolean } | null;
    builds?: readonly { kind: string; compiler: string | null; flags: string | null }[];
  }[];
  peer_parity?: readonly {
    peer: string;
    geomean: number | null;
    faster: string | null;
    workloads: readonly { id: string; ratio: number | null }[];
  }[];
}

/** Each source peer's version, the build it ran (compiler, flags) and why, and the parity
 * records: the lines of the printed summary. */
export function peerBuildLines(results: PeersInput): string[] {
  const built = results.allocators.filter((a) => a.build_choice);
  if (built.length === 0) return [];
  const out = [
    "peers as built (the bench runs the build named; upstream = its own release build):",
  ];
  for (const a of built) {
    const c = a.build_choice!;
    const b = a.builds?.find((x) => x.kind === c.kind);
    out.push(
      `  ${a.name} ${a.version ?? ""}: ${c.kind} build${c.fallback ? " (FALLBACK)" : ""}, ` +
        `${b?.compiler ?? "compiler unknown"}: ${c.why}`,
      `    ${b?.flags ?? "flags unknown"}`,
    );
  }
  for (const p of results.peer_parity ?? []) {
    out.push(
      `  parity ${p.peer}: upstream/zig speed ${fmtRatio(p.geomean)} (` +
        p.workloads.map((w) => `${w.id} ${fmtRatio(w.ratio)}`).join(", ") +
        `); faster: ${p.faster ?? "—"}`,
    );
  }
  return out;
}
