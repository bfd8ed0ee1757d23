/** tasks/bench_stats.ts on synthetic results: medians, per-round paired ratios normalised so that
 * > 1 means better (for both metric directions), failures, geometric means, validation. */
import assert from "node:assert/strict";
import {
  geomean,
  median,
  normalisedRatio,
  type Results,
  type Sample,
  summarize,
  summaryRow,
  validateResults,
} from "../../tasks/bench_stats.ts";

function sample(
  bench: string,
  allocator: string,
  round: number,
  value: number | null,
  extra: Partial<Sample> = {},
): Sample {
  const ok = value !== null;
  return {
    bench,
    allocator,
    round,
    ok,
    exit: ok ? 0 : null,
    signal: ok ? null : 11,
    timed_out: false,
    stderr_tail: ok ? "" : "Segmentation fault",
    value,
    result: ok ? { bench, metric: "x", value } : null,
    wall_s: 1,
    user_s: 0.9,
    sys_s: 0.1,
    maxrss_kib: 1000,
    minflt: 10,
    majflt: 0,
    hakmem: null,
    ...extra,
  };
}

function results(samples: Sample[]): Results {
  return {
    schema: 1,
    created: new Date(0).toISOString(),
    machine: {
      cpu: "test cpu",
      cores: 2,
      kernel: "6.0",
      glibc: "2.36",
      zig: "0.15.2",
      deno: "2.9.6",
      commit: null,
    },
    params: {
      profile: "quick",
      benches: ["thr", "lat"],
      allocators: ["glibc", "hakmem-balanced", "mimalloc"],
      modes: ["balanced"],
      repeat: 3,
      threads: 2,
      seed: 1,
    },
    allocators: [
      { name: "glibc", kind: "glibc", lib: null, available: true, note: null },
      { name: "hakmem-balanced", kind: "hakmem", lib: "/x.so", available: true, note: null },
      { name: "mimalloc", kind: "peer", lib: "/m.so", available: true, note: null },
    ],
    benches: [
      {
        id: "thr",
        program: "thr",
        args: [],
        metric: "ops_per_s",
        higher_is_better: true,
        title: "t",
        description: "d",
      },
      {
        id: "lat",
        program: "lat",
        args: [],
        metric: "ns_per_op",
        higher_is_better: false,
        title: "l",
        description: "d",
      },
    ],
    samples,
  };
}

const close = (a: number | null, b: number, eps = 1e-12) =>
  assert.ok(a !== null && Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

Deno.test("median and geomean", () => {
  assert.equal(median([]), null);
  assert.equal(median([3]), 3);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 2, Infinity]), 2);
  assert.equal(geomean([]), null);
  close(geomean([2, 8]), 4);
  close(geomean([0.5, 2]), 1);
});

Deno.test("normalisedRatio: > 1 means better in both directions", () => {
  assert.equal(normalisedRatio(200, 100, true), 2); // twice the ops/s
  assert.equal(normalisedRatio(50, 100, false), 2); // half the ns/op
  assert.equal(normalisedRatio(200, 100, false), 0.5);
});

Deno.test("summarize: medians, min/max, ratios paired within rounds", () => {
  // The machine drifts: round 1 is twice as fast for everyone. Paired ratios stay exact.
  const s = summarize(results([
    sample("thr", "glibc", 0, 100),
    sample("thr", "glibc", 1, 200),
    sample("thr", "glibc", 2, 100),
    sample("thr", "hakmem-balanced", 0, 150),
    sample("thr", "hakmem-balanced", 1, 300),
    sample("thr", "hakmem-balanced", 2, 150),
    sample("thr", "mimalloc", 0, 300),
    sample("thr", "mimalloc", 1, 600),
    sample("thr", "mimalloc", 2, 300),
    sample("lat", "glibc", 0, 20),
    sample("lat", "glibc", 1, 40),
    sample("lat", "glibc", 2, 20),
    sample("lat", "hakmem-balanced", 0, 10, { maxrss_kib: 500 }),
    sample("lat", "hakmem-balanced", 1, 20, { maxrss_kib: 700 }),
    sample("lat", "hakmem-balanced", 2, 10, { maxrss_kib: 600 }),
    sample("lat", "mimalloc", 0, 40),
    sample("lat", "mimalloc", 1, 80),
    sample("lat", "mimalloc", 2, 40),
  ]));
  assert.deepEqual(s.benches, ["thr", "lat"]);
  assert.deepEqual(s.allocators, ["glibc", "hakmem-balanced", "mimalloc"]);
  assert.equal(s.rows.length, 6);

  const ht = summaryRow(s, "thr", "hakmem-balanced")!;
  assert.equal(ht.metric, "ops_per_s");
  assert.equal(ht.higherIsBetter, true);
  assert.equal(ht.n, 3);
  assert.equal(ht.ok, 3);
  assert.equal(ht.failed, 0);
  assert.equal(ht.median, 150);
  assert.equal(ht.min, 150);
  assert.equal(ht.max, 300);
  close(ht.ratioVsGlibc, 1.5); // the unpaired medians would give 150/100 too, but…
  close(ht.ratioVsMimalloc, 0.5);
  assert.equal(ht.pairsVsGlibc, 3);

  const hl = summaryRow(s, "lat", "hakmem-balanced")!;
  assert.equal(hl.metric, "ns_per_op");
  assert.equal(hl.higherIsBetter, false);
  close(hl.ratioVsGlibc, 2); // half the ns per op: twice as good
  close(hl.ratioVsMimalloc, 4);
  assert.equal(hl.medianMaxRssKiB, 600);

  const gl = summaryRow(s, "lat", "glibc")!;
  close(gl.ratioVsGlibc, 1);
  close(gl.ratioVsMimalloc, 2);

  const o = s.overall.find((x) => x.allocator === "hakmem-balanced")!;
  close(o.geomeanVsGlibc, Math.sqrt(1.5 * 2));
  close(o.geomeanVsMimalloc, Math.sqrt(0.5 * 4));
  assert.equal(o.benchesVsGlibc, 2);
});

Deno.test("summarize: pairing differs from a ratio of medians under drift", () => {
  // glibc: 100, 100, 400; hakmem: 110, 110, 420 → per-round ratios 1.1, 1.1, 1.05 → 1.1.
  const s = summarize(results([
    sample("thr", "glibc", 0, 100),
    sample("thr", "glibc", 1, 100),
    sample("thr", "glibc", 2, 400),
    sample("thr", "hakmem-balanced", 0, 110),
    sample("thr", "hakmem-balanced", 1, 110),
    sample("thr", "hakmem-balanced", 2, 420),
  ]));
  close(summaryRow(s, "thr", "hakmem-balanced")!.ratioVsGlibc, 1.1);
  // no mimalloc samples: no ratio against it
  assert.equal(summaryRow(s, "thr", "hakmem-balanced")!.ratioVsMimalloc, null);
});

Deno.test("summarize: failed samples are counted and left out of every statistic", () => {
  const s = summarize(results([
    sample("thr", "glibc", 0, 100),
    sample("thr", "glibc", 1, 100),
    sample("thr", "glibc", 2, null), // glibc failed in round 2: no pair there
    sample("thr", "hakmem-balanced", 0, 200, { maxrss_kib: 10 }),
    sample("thr", "hakmem-balanced", 1, null, { maxrss_kib: 99999 }),
    sample("thr", "hakmem-balanced", 2, 400, { maxrss_kib: 30 }),
    sample("thr", "mimalloc", 0, null),
    sample("thr", "mimalloc", 1, null),
  ]));
  const h = summaryRow(s, "thr", "hakmem-balanced")!;
  assert.equal(h.n, 3);
  assert.equal(h.ok, 2);
  assert.equal(h.failed, 1);
  assert.equal(h.median, 300);
  close(h.ratioVsGlibc, 2); // only round 0 pairs
  assert.equal(h.pairsVsGlibc, 1);
  assert.equal(h.ratioVsMimalloc, null);
  assert.equal(h.medianMaxRssKiB, 20); // the failed run's RSS is not counted
  const m = summaryRow(s, "thr", "mimalloc")!;
  assert.equal(m.ok, 0);
  assert.equal(m.median, null);
  assert.equal(m.min, null);
  assert.equal(m.ratioVsGlibc, null);
  assert.equal(summaryRow(s, "lat", "glibc"), undefined);
  assert.equal(s.overall.find((x) => x.allocator === "mimalloc")!.failed, 2);
});

Deno.test("summarize: a bench missing from results.benches takes the metric of its samples", () => {
  const r = results([
    sample("other", "glibc", 0, 10, { result: { metric: "ns_per_op", value: 10 } }),
    sample("other", "hakmem-balanced", 0, 5, { result: { metric: "ns_per_op", value: 5 } }),
  ]);
  const s = summarize(r);
  assert.ok(s.benches.includes("other"));
  const h = summaryRow(s, "other", "hakmem-balanced")!;
  assert.equal(h.higherIsBetter, false);
  close(h.ratioVsGlibc, 2);
});

Deno.test("validateResults accepts a good file and names what is wrong in a bad one", () => {
  const good = results([sample("thr", "glibc", 0, 100), sample("thr", "glibc", 1, null)]);
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(good))), []);
  const bad = JSON.parse(JSON.stringify(good));
  bad.schema = 2;
  bad.machine.cores = "two";
  bad.samples[0].value = null; // ok sample without a value
  delete bad.samples[1].wall_s;
  const errs = validateResults(bad);
  assert.ok(errs.includes("schema must be 1"), errs.join("; "));
  assert.ok(errs.includes("machine.cores"), errs.join("; "));
  assert.ok(errs.includes("samples[0].value (ok sample)"), errs.join("; "));
  assert.ok(errs.includes("samples[1].wall_s"), errs.join("; "));
  assert.deepEqual(validateResults(null), ["results is not an object"]);
});

Deno.test("validateResults: the optional traces list, with paths inside the run directory", () => {
  const good = results([sample("thr", "hakmem-balanced", 0, 100)]);
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(good))), [], "without traces");
  good.traces = [];
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(good))), [], "empty traces");
  good.traces = [
    { bench: "thr", allocator: "hakmem-learning", round: 0, file: "traces/a.jsonl" },
    { bench: "lat", allocator: "hakmem-learning", round: 2, file: "traces/b.jsonl" },
  ];
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(good))), [], "two traces");

  const bad = JSON.parse(JSON.stringify(good));
  bad.traces.push(
    { bench: "thr", allocator: "hakmem-learning", round: -1, file: "/etc/passwd" },
    { bench: 3, allocator: "hakmem-learning", round: 1.5, file: "traces/../../x.jsonl" },
    { bench: "thr", allocator: "hakmem-learning", round: 0 },
    "traces/c.jsonl",
  );
  const errs = validateResults(bad);
  const fileErr = (i: number) => `traces[${i}].file (relative, inside the run directory)`;
  assert.deepEqual(errs, [
    "traces[2].round",
    fileErr(2),
    "traces[3].bench/allocator",
    "traces[3].round",
    fileErr(3),
    fileErr(4),
    "traces[5]: object",
  ]);
  assert.deepEqual(validateResults({ ...good, traces: {} }), ["traces: array"]);
});
