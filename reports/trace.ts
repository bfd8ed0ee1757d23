// ACE traces (HAKMEM_ACE_TRACE, JSONL: one JSON object per line, each with "t" — seconds since ACE
// started — and "kind") turned into the series the report's Learning section draws. Pure and
// defensive: no Deno API (it also bundles for the browser), never throws on bad input. Lines of an
// unknown kind are counted per kind and skipped; lines that are not a JSON object with a finite
// "t" and a string "kind", or a known kind without its required fields, are counted as malformed
// and skipped. Unknown fields are ignored. Numbers may be null ("not measured").
//
//   parseTrace(text)          -> Trace (every point)
//   compactTrace(trace, max)  -> the same with at most `max` points per series, numbers rounded to
//                                six significant digits (what the report page embeds)

/** Points per series the report embeds (compactTrace's `max` in reports/build_report.ts). */
export const MAX_TRACE_POINTS = 2000;

/** The metrics of a tick (the "metrics" object M of the trace format), in chart order. */
export const METRIC_KEYS = [
  "ops_per_s",
  "llc_miss_rate",
  "lock_wait_frac",
  "remote_backlog",
  "p99_lat_ns",
  "ace_cpu_percent",
  "rss_mb",
  "frag_ratio",
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

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
  /** True when compactTrace() dropped points of some series. */
  downsampled: boolean;
}

export interface Trace {
  start: TraceStart | null;
  summary: TraceSummary;
  reward: { fast: RewardSeries; slow: RewardSeries };
  metrics: MetricTable;
  knobs: KnobSeries[];
  elo: EloTable;
  eloTransitions: EloTransition[];
  scavenges: ScavengeEvent[];
  guards: GuardTrip[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** One line that passed the checks of its kind, with its time. */
type Line =
  | { kind: "start"; t: number; start: TraceStart }
  | { kind: "tick"; t: number; loop: "fast" | "slow"; reward: number | null; metrics: Obj }
  | {
    kind: "decision";
    t: number;
    rule: string;
    knob: string;
    cls: number;
    old: number | null;
    new: number;
  }
  | { kind: "scavenge"; t: number; event: ScavengeEvent }
  | { kind: "guard"; t: number; trip: GuardTrip }
  | {
    kind: "elo";
    t: number;
    state: string;
    best: number | null;
    allocs: number | null;
    ratings: { threshold: number; rating: number; plays: number | null }[];
  };

const KNOWN_KINDS = new Set(["start", "tick", "decision", "scavenge", "guard", "elo"]);

/** The record of a parsed line of a known kind, or null when its required fields are missing. */
function record(o: Obj, t: number, kind: string): Line | null {
  switch (kind) {
    case "start":
      return {
        kind,
        t,
        start: {
          t,
          pid: num(o.pid),
          mode: str(o.mode),
          fastMs: num(o.fast_ms),
          slowMs: num(o.slow_ms),
        },
      };
    case "tick": {
      if (o.loop !== "fast" && o.loop !== "slow") return null;
      if (o.reward !== undefined && o.reward !== null && num(o.reward) === null) return null;
      return {
        kind,
        t,
        loop: o.loop,
        reward: num(o.reward),
        metrics: isObj(o.metrics) ? o.metrics : {},
      };
    }
    case "decision": {
      const knob = str(o.knob);
      const value = num(o.new);
      const cls = o.cls === undefined || o.cls === null ? -1 : num(o.cls);
      if (knob === null || value === null || cls === null || !Number.isInteger(cls)) return null;
      return { kind, t, rule: str(o.rule) ?? "?", knob, cls, old: num(o.old), new: value };
    }
    case "scavenge": {
      const bytes = num(o.bytes);
      if (bytes === null) return null;
      const complete = typeof o.complete === "boolean" ? o.complete : null;
      return {
        kind,
        t,
        event: { t, bytes, ns: num(o.ns), budgetNs: num(o.budget_ns), complete },
      };
    }
    case "guard": {
      const guard = str(o.guard);
      if (guard === null) return null;
      return { kind, t, trip: { t, guard, value: num(o.value), limit: num(o.limit) } };
    }
    case "elo": {
      const state = str(o.state);
      if (state === null) return null;
      const ratings: { threshold: number; rating: number; plays: number | null }[] = [];
      if (Array.isArray(o.ratings)) {
        for (const r of o.ratings) {
          if (!isObj(r)) continue;
          const threshold = num(r.threshold);
          const rating = num(r.rating);
          if (threshold !== null && rating !== null) {
            ratings.push({ threshold, rating, plays: num(r.plays) });
          }
        }
      }
      return { kind, t, state, best: num(o.best), allocs: num(o.allocs), ratings };
    }
  }
  return null;
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
      downsampled: false,
    },
    reward: { fast: { t: [], reward: [] }, slow: { t: [], reward: [] } },
    metrics: { t: [], values, llcSource: [] },
    knobs: [],
    elo: { thresholds: [], t: [], state: [], best: [], allocs: [], rating: [], plays: [] },
    eloTransitions: [],
    scavenges: [],
    guards: [],
  };
}

/** Parses the text of an ACE trace (never throws; see the header of this file). */
export function parseTrace(text: string): Trace {
  const out = emptyTrace();
  const s = out.summary;
  const recs: Line[] = [];
  // counted in a Map: a kind such as "__proto__" must not reach an object's prototype
  const unknown = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    s.lines++;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      o = undefined;
    }
    const t = isObj(o) ? num(o.t) : null;
    const kind = isObj(o) ? str(o.kind) : null;
    if (!isObj(o) || t === null || t < 0 || kind === null) {
      s.malformed++;
      s.firstMalformedLine ??= i + 1;
      return;
    }
    if (!KNOWN_KINDS.has(kind)) {
      unknown.set(kind, (unknown.get(kind) ?? 0) + 1);
      return;
    }
    const r = record(o, t, kind);
    if (r === null) {
      s.malformed++;
      s.firstMalformedLine ??= i + 1;
      return;
    }
    s.kinds[kind] = (s.kinds[kind] ?? 0) + 1;
    recs.push(r);
  });
  s.unknownKinds = Object.fromEntries(unknown);
  // time order (stable: lines of the same time keep the file's order)
  recs.sort((a, b) => a.t - b.t);
  if (recs.length > 0) {
    s.startT = recs[0].t;
    s.endT = recs[recs.length - 1].t;
  }
  const knobs = new Map<string, KnobSeries>();
  const thresholds = new Set<number>();
  for (const r of recs) {
    if (r.kind === "elo") { for (const x of r.ratings) thresholds.add(x.threshold); }
  }
  const elo = out.elo;
  elo.thresholds = [...thresholds].sort((a, b) => a - b);
  elo.rating = elo.thresholds.map(() => []);
  elo.plays = elo.thresholds.map(() => []);
  for (const r of recs) {
    switch (r.kind) {
      case "start":
        out.start ??= r.start;
        break;
      case "tick": {
        const series = out.reward[r.loop];
        series.t.push(r.t);
        series.reward.push(r.reward);
        const m = out.metrics;
        m.t.push(r.t);
        for (const k of METRIC_KEYS) m.values[k].push(num(r.metrics[k]));
        const src = str(r.metrics.llc_source);
        m.llcSource.push(src);
        if (src !== null && !s.llcSources.includes(src)) s.llcSources.push(src);
        break;
      }
      case "decision": {
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
        break;
      }
      case "scavenge": {
        const e = r.event;
        out.scavenges.push(e);
        s.scavenges++;
        s.scavengedBytes += e.bytes;
        if (e.ns !== null && e.budgetNs !== null && e.ns > e.budgetNs) s.scavengesOverBudget++;
        if (e.complete === false) s.scavengesIncomplete++;
        break;
      }
      case "guard":
        out.guards.push(r.trip);
        break;
      case "elo": {
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
        break;
      }
    }
  }
  out.knobs = [...knobs.values()].sort((a, b) =>
    a.knob < b.knob ? -1 : a.knob > b.knob ? 1 : a.cls - b.cls
  );
  return out;
}

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
