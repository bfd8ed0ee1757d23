// ACE traces (HAKMEM_ACE_TRACE, JSONL: one JSON object per line, each with "t" — seconds since ACE
// started — and "kind") turned into the series the report's Learning section draws. Pure and
// defensive: no Deno API (it also bundles for the browser), never throws on bad input. Lines of an
// unknown kind are counted per kind and skipped; lines that are not a JSON object with a finite
// "t" and a string "kind", or a known kind without its required fields, are counted as malformed
// and skipped. Unknown fields are ignored. Numbers may be null ("not measured").
// Kinds: start, tick (reward, the knobs of TICK_KNOBS, the metrics of METRIC_KEYS), decision (a
// knob's old and new value, the rule), phase (the workload changed phase: ACE's controllers
// forgot), scavenge, guard, elo.
//
//   parseTrace(text)          -> Trace (every point)
// (reports/trace/lines.ts reads and checks each line; reports/trace/compact.ts thins a Trace for
// the page.)

import { readLine, type TraceLine } from "./lines.ts";

/** The metrics of a tick (the "metrics" object M of the trace format), in chart order. */
export const METRIC_KEYS = [
  "ops_per_s",
  "llc_miss_rate",
  "lock_wait_frac",
  "remote_backlog",
  "p99_lat_ns",
  "ace_cpu_percent",
  "idle_in_mb",
  "large_idle_mb",
  "large_cold_mb",
  "rss_mb",
  "frag_ratio",
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** The knobs every tick reports (its "knobs" object), in chart order. */
export const TICK_KNOBS = ["decay_ms", "bigcache_mb", "bundle", "drain_threshold"] as const;
export type TickKnob = (typeof TICK_KNOBS)[number];

/** The value of a knob every tick reports, over time: its value at the trace's start, a point
 * where it changed (at a tick whose value differs from the last one known, or at a decision on
 * it), and the end of the trace. */
export interface KnobTrack {
  knob: TickKnob;
  t: number[];
  v: number[];
}

/** A "phase" line: the workload changed phase and ACE's controllers forgot what they learnt. */
export interface PhaseChange {
  t: number;
  /** Phase changes so far, as the line counts them (null when not given). */
  changes: number | null;
}

/** Reward of one ACE loop over time (its "tick" lines). */
export interface RewardSeries {
  t: number[];
  reward: (number | null)[];
}

/** Metrics of every tick (fast and slow loops merged in time order), one column per metric. */
export interface MetricTable {
  t: number[];
  values: Record<MetricKey, (number | null)[]>;
  /** Where each llc_miss_rate came from ("pmu", "estimate"), null when not given. */
  llcSource: (string | null)[];
}

/** The value of one knob (knob + class) over time: a step series. */
export interface KnobSeries {
  knob: string;
  /** Class index, -1 for a global knob. */
  cls: number;
  /** "tcache_cap[3]", or the knob name for a global knob. */
  label: string;
  /** The first point is the value before the first decision ("initial"), at the trace's start;
   * each later point is the value a decision set, at its time. */
  t: number[];
  v: number[];
  /** The rule that set each value ("initial" for the first point). */
  rule: string[];
  decisions: number;
  lastDecisionT: number;
}

/** ELO ratings over time: one row per "elo" line. */
export interface EloTable {
  /** Candidate thresholds (bytes), ascending. */
  thresholds: number[];
  t: number[];
  state: string[];
  /** Threshold in use ("best"), null when not given. */
  best: (number | null)[];
  allocs: (number | null)[];
  /** rating[i][j] / plays[i][j]: threshold i at row j (null when the line did not rate it). */
  rating: (number | null)[][];
  plays: (number | null)[][];
}

/** A change of the ELO state (the first "elo" line is a change from null). */
export interface EloTransition {
  t: number;
  from: string | null;
  to: string;
}

export interface ScavengeEvent {
  t: number;
  bytes: number;
  ns: number | null;
  budgetNs: number | null;
  complete: boolean | null;
}

export interface GuardTrip {
  t: number;
  guard: string;
  value: number | null;
  limit: number | null;
}

export interface TraceStart {
  t: number;
  pid: number | null;
  mode: string | null;
  fastMs: number | null;
  slowMs: number | null;
}

export interface TraceSummary {
  /** Non-blank lines. */
  lines: number;
  /** Lines of each known kind that were used. */
  kinds: Record<string, number>;
  /** Lines of unknown kinds, per kind. */
  unknownKinds: Record<string, number>;
  malformed: number;
  /** 1-based number of the first malformed line, null when there is none. */
  firstMalformedLine: number | null;
  /** Time span of the used lines (null when there is none). */
  startT: number | null;
  endT: number | null;
  decisions: number;
  /** Time of the last decision over every knob (null when there is none). */
  lastDecisionT: number | null;
  /** Time ELO first went "frozen", null when it never did. */
  eloFrozenT: number | null;
  /** Changes of the ELO state after its first "elo" line. */
  eloStateChanges: number;
  /** The state and threshold of the last "elo" line. */
  eloFinalState: string | null;
  eloFinalBest: number | null;
  scavenges: number;
  scavengedBytes: number;
  /** Scavenges that took longer than their budget, and those that did not complete. */
  scavengesOverBudget: number;
  scavengesIncomplete: number;
  /** Distinct llc_source values, in order of first appearance. */
  llcSources: string[];
  /** "phase" lines. */
  phaseChanges: number;
  /** The longest time, over the stretches the phase lines cut the trace into, from the start of
   * a stretch to its last decision (null without decisions): how long ACE took to settle. */
  settleS: number | null;
  /** Decisions per minute over the trace's span (null when it spans no time). */
  decisionsPerMin: number | null;
  /** True when compactTrace() dropped points of some series. */
  downsampled: boolean;
}

export interface Trace {
  start: TraceStart | null;
  summary: TraceSummary;
  reward: { fast: RewardSeries; slow: RewardSeries };
  metrics: MetricTable;
  knobs: KnobSeries[];
  /** The knobs of the ticks (TICK_KNOBS), those that some line gave. */
  knobTracks: KnobTrack[];
  phases: PhaseChange[];
  elo: EloTable;
  eloTransitions: EloTransition[];
  scavenges: ScavengeEvent[];
  guards: GuardTrip[];
}

function emptyTrace(): Trace {
  const values = {} as Record<MetricKey, (number | null)[]>;
  for (const k of METRIC_KEYS) values[k] = [];
  return {
    start: null,
    summary: {
      lines: 0,
      kinds: {},
      unknownKinds: {},
      malformed: 0,
      firstMalformedLine: null,
      startT: null,
      endT: null,
      decisions: 0,
      lastDecisionT: null,
      eloFrozenT: null,
      eloStateChanges: 0,
      eloFinalState: null,
      eloFinalBest: null,
      scavenges: 0,
      scavengedBytes: 0,
      scavengesOverBudget: 0,
      scavengesIncomplete: 0,
      llcSources: [],
      phaseChanges: 0,
      settleS: null,
      decisionsPerMin: null,
      downsampled: false,
    },
    reward: { fast: { t: [], reward: [] }, slow: { t: [], reward: [] } },
    metrics: { t: [], values, llcSource: [] },
    knobs: [],
    knobTracks: [],
    phases: [],
    elo: { thresholds: [], t: [], state: [], best: [], allocs: [], rating: [], plays: [] },
    eloTransitions: [],
    scavenges: [],
    guards: [],
  };
}

/** The used lines of `text` in time order (stable: lines of the same time keep the file's
 * order); counts the lines, the kinds, the unknown kinds and the malformed lines in `s`. */
function readLines(text: string, s: TraceSummary): TraceLine[] {
  const recs: TraceLine[] = [];
  // counted in a Map: a kind such as "__proto__" must not reach an object's prototype
  const unknown = new Map<string, number>();
  text.split(/\r?\n/).forEach((text, i) => {
    if (text.trim() === "") return;
    s.lines++;
    const r = readLine(text);
    if ("line" in r) {
      s.kinds[r.line.kind] = (s.kinds[r.line.kind] ?? 0) + 1;
      recs.push(r.line);
    } else if ("unknownKind" in r) {
      unknown.set(r.unknownKind, (unknown.get(r.unknownKind) ?? 0) + 1);
    } else {
      s.malformed++;
      s.firstMalformedLine ??= i + 1;
    }
  });
  s.unknownKinds = Object.fromEntries(unknown);
  recs.sort((a, b) => a.t - b.t);
  if (recs.length > 0) {
    s.startT = recs[0].t;
    s.endT = recs[recs.length - 1].t;
  }
  return recs;
}

type Line<K extends TraceLine["kind"]> = Extract<TraceLine, { kind: K }>;

/** The tracks of the knobs every tick reports (see KnobTrack). */
class KnobTracks {
  #tracks = new Map<TickKnob, KnobTrack>();
  constructor(private readonly s: TraceSummary) {}

  /** Adds (t, v) to a knob's track when the value changed. A track begins at the trace's start:
   * with the value before the decision that made it (its "old"), or with a tick's value (a tick
   * reports it before any decision of its own time). */
  add(knob: TickKnob, t: number, v: number, before: number | null): void {
    let k = this.#tracks.get(knob);
    if (!k) {
      this.#tracks.set(knob, k = { knob, t: [], v: [] });
      if (before !== null) {
        k.t.push(this.s.startT ?? t);
        k.v.push(before);
      } else t = this.s.startT ?? t;
    }
    if (k.v.length === 0 || k.v[k.v.length - 1] !== v) {
      k.t.push(t);
      k.v.push(v);
    }
  }

  /** The tracks in TICK_KNOBS order, each reaching the end of the trace (a value holds until it
   * changes). */
  done(): KnobTrack[] {
    return TICK_KNOBS.filter((k) => this.#tracks.has(k)).map((k) => {
      const tr = this.#tracks.get(k)!;
      const last = tr.t.length - 1;
      if (this.s.endT !== null && this.s.endT > tr.t[last]) {
        tr.t.push(this.s.endT);
        tr.v.push(tr.v[last]);
      }
      return tr;
    });
  }
}

function addTick(out: Trace, r: Line<"tick">, tracks: KnobTracks): void {
  const series = out.reward[r.loop];
  series.t.push(r.t);
  series.reward.push(r.reward);
  const m = out.metrics;
  m.t.push(r.t);
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  for (const k of METRIC_KEYS) m.values[k].push(num(r.metrics[k]));
  const src = typeof r.metrics.llc_source === "string" ? r.metrics.llc_source : null;
  m.llcSource.push(src);
  if (src !== null && !out.summary.llcSources.includes(src)) out.summary.llcSources.push(src);
  for (const k of TICK_KNOBS) {
    const v = num(r.knobs[k]);
    if (v !== null) tracks.add(k, r.t, v, null);
  }
}

function addDecision(
  out: Trace,
  r: Line<"decision">,
  knobs: Map<string, KnobSeries>,
  tracks: KnobTracks,
): void {
  const s = out.summary;
  const key = `${r.knob}\u0000${r.cls}`;
  let k = knobs.get(key);
  if (!k) {
    k = {
      knob: r.knob,
      cls: r.cls,
      label: r.cls >= 0 ? `${r.knob}[${r.cls}]` : r.knob,
      t: [],
      v: [],
      rule: [],
      decisions: 0,
      lastDecisionT: r.t,
    };
    if (r.old !== null) {
      k.t.push(s.startT ?? r.t);
      k.v.push(r.old);
      k.rule.push("initial");
    }
    knobs.set(key, k);
  }
  k.t.push(r.t);
  k.v.push(r.new);
  k.rule.push(r.rule);
  k.decisions++;
  k.lastDecisionT = r.t;
  s.decisions++;
  s.lastDecisionT = r.t;
  if (r.cls < 0 && (TICK_KNOBS as readonly string[]).includes(r.knob)) {
    tracks.add(r.knob as TickKnob, r.t, r.new, r.old);
  }
}

function addScavenge(out: Trace, r: Line<"scavenge">): void {
  const s = out.summary;
  const e: ScavengeEvent = {
    t: r.t,
    bytes: r.bytes,
    ns: r.ns,
    budgetNs: r.budget_ns,
    complete: r.complete,
  };
  out.scavenges.push(e);
  s.scavenges++;
  s.scavengedBytes += e.bytes;
  if (e.ns !== null && e.budgetNs !== null && e.ns > e.budgetNs) s.scavengesOverBudget++;
  if (e.complete === false) s.scavengesIncomplete++;
}

/** The candidates' thresholds of every "elo" line, ascending, as the table's rows. */
function eloTable(out: Trace, recs: readonly TraceLine[]): void {
  const thresholds = new Set<number>();
  for (const r of recs) {
    if (r.kind === "elo") { for (const x of r.ratings) thresholds.add(x.threshold); }
  }
  const elo = out.elo;
  elo.thresholds = [...thresholds].sort((a, b) => a - b);
  elo.rating = elo.thresholds.map(() => []);
  elo.plays = elo.thresholds.map(() => []);
}

function addElo(out: Trace, r: Line<"elo">): void {
  const s = out.summary;
  const elo = out.elo;
  const prev = elo.state.length > 0 ? elo.state[elo.state.length - 1] : null;
  if (prev !== r.state) {
    out.eloTransitions.push({ t: r.t, from: prev, to: r.state });
    if (prev !== null) s.eloStateChanges++;
  }
  if (r.state === "frozen") s.eloFrozenT ??= r.t;
  elo.t.push(r.t);
  elo.state.push(r.state);
  elo.best.push(r.best);
  elo.allocs.push(r.allocs);
  elo.thresholds.forEach((th, i) => {
    const x = r.ratings.find((y) => y.threshold === th);
    elo.rating[i].push(x ? x.rating : null);
    elo.plays[i].push(x ? x.plays : null);
  });
  s.eloFinalState = r.state;
  s.eloFinalBest = r.best;
}

/** Parses the text of an ACE trace (never throws; see the header of this file). */
export function parseTrace(text: string): Trace {
  const out = emptyTrace();
  const recs = readLines(text, out.summary);
  const knobs = new Map<string, KnobSeries>();
  const tracks = new KnobTracks(out.summary);
  eloTable(out, recs);
  for (const r of recs) {
    switch (r.kind) {
      case "start":
        out.start ??= { t: r.t, pid: r.pid, mode: r.mode, fastMs: r.fast_ms, slowMs: r.slow_ms };
        break;
      case "tick":
        addTick(out, r, tracks);
        break;
      case "phase":
        out.phases.push({ t: r.t, changes: r.changes });
        out.summary.phaseChanges++;
        break;
      case "decision":
        addDecision(out, r, knobs, tracks);
        break;
      case "scavenge":
        addScavenge(out, r);
        break;
      case "guard":
        out.guards.push({ t: r.t, guard: r.guard, value: r.value, limit: r.limit });
        break;
      case "elo":
        addElo(out, r);
        break;
    }
  }
  out.knobs = [...knobs.values()].sort((a, b) =>
    a.knob < b.knob ? -1 : a.knob > b.knob ? 1 : a.cls - b.cls
  );
  out.knobTracks = tracks.done();
  settle(out, recs);
  return out;
}

/** summary.settleS and decisionsPerMin (see TraceSummary). */
function settle(out: Trace, recs: readonly TraceLine[]): void {
  const s = out.summary;
  if (s.startT === null || s.endT === null) return;
  const span = s.endT - s.startT;
  if (span > 0) s.decisionsPerMin = (s.decisions * 60) / span;
  let from = s.startT;
  let worst: number | null = null;
  let last: number | null = null;
  const close = () => {
    if (last !== null) worst = Math.max(worst ?? 0, last - from);
  };
  for (const r of recs) {
    if (r.kind === "phase") {
      close();
      from = r.t;
      last = null;
    } else if (r.kind === "decision") last = r.t;
  }
  close();
  s.settleS = worst;
}
