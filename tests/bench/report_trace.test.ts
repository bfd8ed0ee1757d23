// The ACE trace reader of the report (reports/trace/trace.ts) and how the report build reads the
// traces of a run (reports/build_report.ts): the hand-written fixture
// tests/bench/fixtures/ace_trace.jsonl has every kind of line of the first trace format, lines out
// of time order, unknown kinds and malformed lines; ace_trace_v2.jsonl the ticks' knobs, the new
// metrics and "phase" lines (and malformed ones of each); every series and summary they give is
// checked exactly. Then: bad input never throws, compaction caps every series and keeps the
// summary, and a run's trace files (one missing) become page entries.

import assert from "node:assert/strict";
import { join } from "node:path";
import { readResults, readTraces } from "../../reports/build_report.ts";
import { parseTrace, type Trace } from "../../reports/trace/trace.ts";
import { compactTrace, MAX_TRACE_POINTS, sampleIndexes } from "../../reports/trace/compact.ts";
import {
  ACE_TRACE_FIXTURE,
  ACE_TRACE_V2_FIXTURE,
  writeSyntheticRun,
} from "./fixtures/synthetic_results.ts";
import { SYNTHETIC_KNOB_DEFAULTS, syntheticTrace } from "./fixtures/synthetic_trace.ts";

const MiB = 1024 * 1024;

Deno.test("ACE trace fixture: summary and skipped lines", async () => {
  const tr = parseTrace(await Deno.readTextFile(ACE_TRACE_FIXTURE));
  assert.deepEqual(tr.summary, {
    lines: 27,
    kinds: { start: 1, tick: 6, elo: 4, decision: 4, scavenge: 2, guard: 1 },
    unknownKinds: { hint: 2 },
    // line 6 not JSON, 11 "t" a string, 12 no "t", 13 an array, 14 unknown loop, 15 a decision
    // without "new", 28 cut short
    malformed: 7,
    firstMalformedLine: 6,
    startT: 0,
    endT: 4.8,
    decisions: 4,
    lastDecisionT: 4.5,
    eloFrozenT: 1.2,
    eloStateChanges: 3,
    eloFinalState: "frozen",
    eloFinalBest: 16 * MiB,
    scavenges: 2,
    scavengedBytes: 3 * MiB,
    scavengesOverBudget: 1,
    scavengesIncomplete: 1,
    llcSources: ["pmu", "estimate"],
    phaseChanges: 0,
    // no phase line: from the start to the last decision
    settleS: 4.5,
    decisionsPerMin: 50,
    downsampled: false,
  });
  assert.deepEqual(tr.phases, []);
  assert.deepEqual(tr.start, {
    t: 0,
    pid: 4242,
    mode: "learning",
    fastMs: 500,
    slowMs: 30000,
  });
});

Deno.test("ACE trace fixture: reward and metrics in time order", async () => {
  const tr = parseTrace(await Deno.readTextFile(ACE_TRACE_FIXTURE));
  // the tick at 0.75 s comes after the one at 1.0 s in the file
  assert.deepEqual(tr.reward.fast, {
    t: [0.5, 0.75, 1.0, 4.6, 4.8],
    reward: [0.5, 0.55, 0.6, null, 0.4],
  });
  assert.deepEqual(tr.reward.slow, { t: [3.0], reward: [0.7] });
  const m = tr.metrics;
  assert.deepEqual(m.t, [0.5, 0.75, 1.0, 3.0, 4.6, 4.8]);
  assert.deepEqual(m.values.ops_per_s, [1000000, 1050000, 1100000, 1200000, null, 1300000]);
  assert.deepEqual(m.values.llc_miss_rate, [0.2, 0.19, 0.18, 0.15, null, 0.1]);
  assert.deepEqual(m.llcSource, ["pmu", "pmu", "estimate", "estimate", null, "pmu"]);
  assert.deepEqual(m.values.lock_wait_frac, [0.01, 0.015, 0.02, 0.01, null, null]);
  assert.deepEqual(m.values.remote_backlog, [10, 11, 12, 5, null, null]);
  assert.deepEqual(m.values.p99_lat_ns, [900, 920, 950, 800, null, null]);
  assert.deepEqual(m.values.ace_cpu_percent, [0.5, 0.55, 0.6, 0.4, null, null]);
  // slow-loop metrics: only the slow tick has them
  assert.deepEqual(m.values.rss_mb, [null, null, null, 120, null, null]);
  assert.deepEqual(m.values.frag_ratio, [null, null, null, 0.8, null, null]);
});

Deno.test("ACE trace fixture: knob step series", async () => {
  const tr = parseTrace(await Deno.readTextFile(ACE_TRACE_FIXTURE));
  // sorted by knob then class; "bundle" only had a malformed decision
  assert.deepEqual(tr.knobs, [
    {
      knob: "drain_threshold",
      cls: -1,
      label: "drain_threshold",
      t: [0, 1.5],
      v: [256, 128],
      rule: ["initial", "backlog"],
      decisions: 1,
      lastDecisionT: 1.5,
    },
    {
      knob: "tcache_cap",
      cls: 3,
      label: "tcache_cap[3]",
      t: [0, 1.0, 2.5, 4.5],
      v: [128, 96, 64, 128],
      rule: ["initial", "diet", "ucb1", "guard"],
      decisions: 3,
      lastDecisionT: 4.5,
    },
  ]);
  // without the ticks' knobs, the tracked knobs come from their decisions, held to the end
  assert.deepEqual(tr.knobTracks, [
    { knob: "drain_threshold", t: [0, 1.5, 4.8], v: [256, 128, 128] },
  ]);
});

Deno.test("ACE trace v2 fixture: the ticks' knobs, phases, settling", async () => {
  const tr = parseTrace(await Deno.readTextFile(ACE_TRACE_V2_FIXTURE));
  assert.deepEqual(tr.summary, {
    lines: 15,
    kinds: { start: 1, tick: 6, decision: 4, phase: 2 },
    unknownKinds: {},
    // line 10: "knobs" not an object; line 11: "changes" not a number
    malformed: 2,
    firstMalformedLine: 10,
    startT: 0,
    endT: 3,
    decisions: 4,
    lastDecisionT: 2,
    eloFrozenT: null,
    eloStateChanges: 0,
    eloFinalState: null,
    eloFinalBest: null,
    scavenges: 0,
    scavengedBytes: 0,
    scavengesOverBudget: 0,
    scavengesIncomplete: 0,
    llcSources: [],
    phaseChanges: 2,
    // before the first phase: 0.75 s; from the phase at 1.0 to the decision at 2.0: 1 s; none
    // after the one at 2.5
    settleS: 1,
    decisionsPerMin: 80,
    downsampled: false,
  });
  assert.deepEqual(tr.phases, [{ t: 1, changes: 1 }, { t: 2.5, changes: null }]);
  // from the start, changes at decisions (decay_ms, bigcache_mb, drain_threshold) and at a tick
  // that disagrees (bundle at 1.5), to the end; a tick without a knob says nothing of it
  assert.deepEqual(tr.knobTracks, [
    { knob: "decay_ms", t: [0, 0.25, 3], v: [500, 10, 10] },
    { knob: "bigcache_mb", t: [0, 0.75, 3], v: [16, 64, 64] },
    { knob: "bundle", t: [0, 1.5, 3], v: [32, 64, 64] },
    { knob: "drain_threshold", t: [0, 1, 3], v: [256, 128, 128] },
  ]);
  assert.deepEqual(tr.knobs.map((k) => [k.label, k.t, k.v, k.rule]), [
    ["bigcache_mb", [0, 0.75], [16, 64], ["initial", "refaults"]],
    ["decay_ms", [0, 0.25], [500, 10], ["initial", "reuse"]],
    ["drain_threshold", [0, 1], [256, 128], ["initial", "backlog"]],
    ["tcache_cap[4]", [0, 2], [128, 256], ["initial", "ucb1"]],
  ]);
  const m = tr.metrics;
  assert.deepEqual(m.t, [0.25, 0.5, 0.75, 1, 1.5, 3]);
  assert.deepEqual(m.values.idle_in_mb, [64, 0, null, null, null, null]);
  assert.deepEqual(m.values.large_idle_mb, [16, 0, null, null, null, null]);
  assert.deepEqual(m.values.large_cold_mb, [0, 0, 12.5, null, null, null]);
  assert.deepEqual(m.values.rss_mb, [28.9, 8.4, 30, null, null, 40.5]);
  assert.deepEqual(m.values.remote_backlog, [null, null, null, 400, null, null]);
  assert.deepEqual(tr.reward.slow, { t: [3], reward: [1.1] });
  // compaction keeps the tracks and the phases of a short trace as they are
  const c = compactTrace(tr, MAX_TRACE_POINTS);
  assert.deepEqual(c.knobTracks, tr.knobTracks);
  assert.deepEqual(c.phases, tr.phases);
});

Deno.test("ACE trace fixture: ELO ratings, transitions, scavenges, guards", async () => {
  const tr = parseTrace(await Deno.readTextFile(ACE_TRACE_FIXTURE));
  assert.deepEqual(tr.elo, {
    thresholds: [1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB],
    t: [0.5, 1.2, 3.5, 4.0],
    state: ["learn", "frozen", "canary", "frozen"],
    best: [4 * MiB, 4 * MiB, 4 * MiB, 16 * MiB],
    allocs: [512, 2048, 4096, 8192],
    // the canary line rates 64 MiB with a string threshold: that entry is skipped
    rating: [
      [1500, 1490, 1488, 1487],
      [1510, 1530, 1533, 1520],
      [1495, 1492, 1494, 1541],
      [1490, 1488, null, 1486],
    ],
    plays: [
      [10, 40, 41, 42],
      [12, 60, 70, 71],
      [9, 30, 35, 45],
      [8, 20, null, 21],
    ],
  });
  assert.deepEqual(tr.eloTransitions, [
    { t: 0.5, from: null, to: "learn" },
    { t: 1.2, from: "learn", to: "frozen" },
    { t: 3.5, from: "frozen", to: "canary" },
    { t: 4.0, from: "canary", to: "frozen" },
  ]);
  assert.deepEqual(tr.scavenges, [
    { t: 3.0, bytes: 1 * MiB, ns: 120000, budgetNs: 5000000, complete: true },
    { t: 4.0, bytes: 2 * MiB, ns: 6000000, budgetNs: 5000000, complete: false },
  ]);
  assert.deepEqual(tr.guards, [{ t: 4.5, guard: "rss_mb", value: 20000, limit: 16384 }]);
});

Deno.test("ACE trace: bad input is counted, never thrown", () => {
  const empty = parseTrace("");
  assert.deepEqual(empty.summary.lines, 0);
  assert.deepEqual(empty.summary.startT, null);
  assert.deepEqual(empty.knobs, []);
  const bad = [
    "\u0000\u0001binary",
    "null",
    "42",
    '"a string"',
    "{}",
    '{"t":1}',
    '{"kind":"tick"}',
    '{"t":-1,"kind":"tick","loop":"fast"}',
    '{"t":1e999,"kind":"tick","loop":"fast"}',
    '{"t":1,"kind":7}',
    '{"t":1,"kind":"tick","loop":"fast","reward":"high"}',
    '{"t":1,"kind":"decision","knob":"tcache_cap","cls":1.5,"old":1,"new":2}',
    '{"t":1,"kind":"decision","knob":3,"old":1,"new":2}',
    '{"t":1,"kind":"scavenge","bytes":null}',
    '{"t":1,"kind":"guard","value":1}',
    '{"t":1,"kind":"elo","ratings":[]}',
    '{"t":1,"kind":"tick","loop":"fast","knobs":[1,2]}',
    '{"t":1,"kind":"phase","changes":"1"}',
    "{",
  ];
  // an unknown kind named like Object's prototype is counted like any other
  const proto = parseTrace('{"t":1,"kind":"__proto__"}\n{"t":2,"kind":"__proto__"}');
  assert.deepEqual(Object.entries(proto.summary.unknownKinds), [["__proto__", 2]]);
  const tr = parseTrace(bad.join("\r\n") + "\r\n\r\n");
  assert.deepEqual(tr.summary.lines, bad.length);
  assert.deepEqual(tr.summary.malformed, bad.length);
  assert.deepEqual(tr.summary.firstMalformedLine, 1);
  assert.deepEqual(tr.summary.kinds, {});
  // optional fields may be missing or of the wrong type: the line still counts
  const lenient = parseTrace(
    [
      '{"t":1,"kind":"tick","loop":"slow","metrics":"not an object"}',
      '{"t":2,"kind":"decision","knob":"bundle","new":64}',
      '{"t":3,"kind":"elo","state":"learn","ratings":"none"}',
      '{"t":4,"kind":"scavenge","bytes":10,"complete":"yes"}',
    ].join("\n"),
  );
  assert.deepEqual(lenient.summary.malformed, 0);
  assert.deepEqual(lenient.reward.slow, { t: [1], reward: [null] });
  assert.deepEqual(lenient.knobs.map((k) => [k.label, k.t, k.v]), [["bundle", [2], [64]]]);
  assert.deepEqual(lenient.elo.thresholds, []);
  assert.deepEqual(lenient.elo.state, ["learn"]);
  assert.deepEqual(lenient.scavenges[0].complete, null);
});

Deno.test("sampleIndexes keeps the first and the last index", () => {
  assert.deepEqual(sampleIndexes(0, 5), []);
  assert.deepEqual(sampleIndexes(3, 5), [0, 1, 2]);
  assert.deepEqual(sampleIndexes(11, 6), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(sampleIndexes(10, 1), [0, 9]);
});

/** A long trace: `n` fast ticks, elo lines and scavenges, one knob changing at every tick. */
function longTrace(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = i / 10;
    lines.push(JSON.stringify({
      t,
      kind: "tick",
      loop: "fast",
      reward: 1 / 3 + i,
      metrics: { ops_per_s: 1e6 + i, llc_source: "estimate" },
    }));
    lines.push(JSON.stringify({
      t,
      kind: "elo",
      state: i % 2 ? "learn" : "canary",
      ratings: [{ threshold: MiB, rating: 1500 + i / 7, plays: i }],
    }));
    lines.push(JSON.stringify({ t, kind: "scavenge", bytes: 1, ns: 1, budget_ns: 2 }));
    lines.push(
      JSON.stringify({ t, kind: "decision", knob: "bundle", cls: -1, old: i, new: i + 1 }),
    );
  }
  return lines.join("\n");
}

Deno.test("compactTrace caps every series, keeps the ends and the summary", () => {
  const n = 5000;
  const full = parseTrace(longTrace(n));
  const max = 300;
  const c = compactTrace(full, max);
  const lengths = (tr: Trace) => [
    tr.reward.fast.t.length,
    tr.reward.fast.reward.length,
    tr.metrics.t.length,
    tr.metrics.values.ops_per_s.length,
    tr.metrics.llcSource.length,
    tr.elo.t.length,
    tr.elo.state.length,
    tr.elo.rating[0].length,
    tr.elo.plays[0].length,
    tr.knobs[0].t.length,
    tr.knobs[0].v.length,
    tr.knobs[0].rule.length,
    tr.scavenges.length,
    tr.eloTransitions.length,
    tr.knobTracks[0].t.length,
    tr.knobTracks[0].v.length,
  ];
  assert.deepEqual(lengths(full), [
    n,
    n,
    n,
    n,
    n,
    n,
    n,
    n,
    n,
    n + 1,
    n + 1,
    n + 1,
    n,
    n,
    n + 1,
    n + 1,
  ]);
  assert.deepEqual(lengths(c), Array(16).fill(max));
  assert.deepEqual(c.summary, { ...full.summary, downsampled: true });
  // first and last points survive; numbers are rounded to six significant digits
  assert.deepEqual(c.reward.fast.t[0], 0);
  assert.deepEqual(c.reward.fast.t[max - 1], (n - 1) / 10);
  assert.deepEqual(c.reward.fast.reward[0], 0.333333);
  assert.deepEqual(c.reward.fast.reward[max - 1], 4999.33);
  assert.deepEqual(c.knobs[0].v[0], 0);
  assert.deepEqual(c.knobs[0].v[max - 1], n);
  assert.deepEqual(c.elo.rating[0][max - 1], 2214.14);
  // a short trace is only rounded
  const small = parseTrace(longTrace(10));
  const cs = compactTrace(small, max);
  const round6 = (xs: (number | null)[]) => xs.map((x) => x === null ? null : +x.toPrecision(6));
  assert.deepEqual(cs.summary.downsampled, false);
  assert.deepEqual(cs.knobs, small.knobs);
  assert.deepEqual(cs.metrics.t, small.metrics.t);
  assert.deepEqual(cs.metrics.values.ops_per_s, round6(small.metrics.values.ops_per_s));
  assert.deepEqual(cs.metrics.values.ops_per_s.slice(0, 2), [1000000, 1000000]);
  assert.deepEqual(cs.reward.fast.reward, round6(small.reward.fast.reward));
  assert.deepEqual(cs.elo.rating, small.elo.rating.map(round6));
  assert.deepEqual(cs.scavenges, small.scavenges);
});

Deno.test("generated fixture traces parse cleanly", () => {
  const tr = parseTrace(syntheticTrace(1, 120, 75));
  assert.deepEqual(tr.summary.malformed, 0);
  assert.deepEqual(tr.summary.unknownKinds, {});
  assert.deepEqual(tr.summary.endT, 75);
  assert.deepEqual(tr.guards.map((g) => g.guard), ["p99_lat_ns"]);
  assert.deepEqual(tr.summary.eloFrozenT, 20);
  assert.deepEqual(tr.phases, [{ t: 40, changes: 1 }]);
  // the guard restores every knob that was off its default
  for (const k of tr.knobs) {
    assert.deepEqual(k.v[k.v.length - 1], SYNTHETIC_KNOB_DEFAULTS[k.knob], k.label);
  }
  // the ticks report the knobs in force: each track ends on its default too
  assert.deepEqual(tr.knobTracks.map((k) => k.knob), [
    "decay_ms",
    "bigcache_mb",
    "bundle",
    "drain_threshold",
  ]);
  for (const k of tr.knobTracks) {
    assert.deepEqual(k.v[k.v.length - 1], SYNTHETIC_KNOB_DEFAULTS[k.knob], k.knob);
  }
});

Deno.test("readTraces: the traces of a run, a missing file as a note", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hakmem-traces-" });
  try {
    await writeSyntheticRun(dir, { seed: 7, traces: true });
    const results = await readResults(dir);
    const entries = await readTraces(dir, results);
    assert.deepEqual(
      entries.map((e) => [e.bench, e.round, e.trace !== null]),
      [["larson", 0, true], ["larson", 1, true], ["larson", 2, true], ["fragment", 0, true], [
        "realloc_heavy",
        0,
        false,
      ]],
    );
    const missing = entries[4];
    assert.match(
      missing.note ?? "",
      /^cannot read traces\/realloc_heavy\.hakmem-learning\.r0\.jsonl: /,
    );
    const fragment = entries[3];
    assert.deepEqual(fragment.note, null);
    assert.deepEqual(
      fragment.trace,
      compactTrace(parseTrace(await Deno.readTextFile(ACE_TRACE_FIXTURE)), MAX_TRACE_POINTS),
    );
    assert.deepEqual(entries[1].trace?.guards.length, 1);
    // a run without traces has none
    const plain = await writeSyntheticRun(join(dir, "plain"), { seed: 7 });
    assert.deepEqual(await readTraces(plain, await readResults(plain)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
