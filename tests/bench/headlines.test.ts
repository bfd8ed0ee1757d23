/** The headlines (tasks/bench/headlines.ts) on synthetic results: per reference the workloads where
 * hakmem is slower, worst first; the rank among all allocators that no single baseline decides;
 * targets met only when they hold in every round, one round an indication; and the printed lines.
 * Pure functions, no bench run. */
import assert from "node:assert/strict";
import {
  headlines,
  headlineText,
  lossesOf,
  peerBuildLines,
  rankAllocators,
  roundVerdict,
  verdictText,
} from "../../tasks/bench/headlines.ts";
import { summarize, type SummaryInput, validateResults } from "../../tasks/bench/stats.ts";
import { syntheticResults } from "./fixtures/synthetic_results.ts";

const H = "hakmem-balanced";

/** Results of `values[bench][allocator]` = one value per round (ops/s unless the bench id starts
 * with "ns_"); memory: `mem[bench][allocator]` KiB per round (default 1000). */
function results(
  values: Record<string, Record<string, number[]>>,
  mem: Record<string, Record<string, number[]>> = {},
): SummaryInput {
  const benches = Object.keys(values).map((id) => ({
    id,
    metric: id.startsWith("ns_") ? "ns_per_op" : "ops_per_s",
    higher_is_better: !id.startsWith("ns_"),
    memory_key: null,
  }));
  const names = [...new Set(Object.values(values).flatMap((v) => Object.keys(v)))];
  const allocators = names.map((name) => ({
    name,
    kind: name === "glibc" ? "glibc" : name.startsWith("hakmem") ? "hakmem" : "peer",
  }));
  const samples = Object.entries(values).flatMap(([bench, per]) =>
    Object.entries(per).flatMap(([allocator, vs]) =>
      vs.map((value, round) => ({
        bench,
        allocator,
        round,
        ok: true,
        value,
        result: {},
        wall_s: 1,
        maxrss_kib: mem[bench]?.[allocator]?.[round] ?? 1000,
        minflt: 0,
        majflt: 0,
      }))
    )
  );
  return { benches, allocators, samples };
}

Deno.test("headlines: losses per reference, worst first; wins are not listed", () => {
  assert.deepEqual(
    lossesOf([
      { bench: "a", ratio: 0.9 },
      { bench: "b", ratio: 1.2 },
      { bench: "c", ratio: 0.3 },
      { bench: "d", ratio: null },
      { bench: "e", ratio: 1 },
    ]),
    [{ bench: "c", ratio: 0.3 }, { bench: "a", ratio: 0.9 }],
  );
  const r = results({
    small: { [H]: [200, 200], mimalloc3: [100, 100], glibc: [50, 50] },
    large: { [H]: [10, 10], mimalloc3: [40, 40], glibc: [20, 20] },
    ns_pair: { [H]: [20, 20], mimalloc3: [10, 10], glibc: [40, 40] },
  });
  const hl = headlines(r, summarize(r), H);
  assert.deepEqual(hl.losses.map((l) => l.reference), ["mimalloc3", "glibc"]);
  const mi = hl.losses[0];
  // hakmem takes twice mimalloc's time per pair (0.5), a quarter of its large speed (0.25)
  assert.deepEqual(mi.speed, [{ bench: "large", ratio: 0.25 }, { bench: "ns_pair", ratio: 0.5 }]);
  assert.equal(mi.compared, 3);
  assert.ok(Math.abs(mi.speedGeomean! - Math.cbrt(2 * 0.25 * 0.5)) < 1e-9);
  assert.deepEqual(hl.losses[1].speed, [{ bench: "large", ratio: 0.5 }]);
  assert.deepEqual(mi.memory, [], "the same memory everywhere: no memory loss");
});

Deno.test("headlines: the rank over all allocators, relative to each workload's best", () => {
  // A is best on one workload by far, B is second everywhere: B ranks first, and the rank does
  // not depend on which allocator is taken as the baseline
  const r = results({
    w1: { A: [1000], B: [500], [H]: [400], glibc: [100] },
    w2: { A: [100], B: [450], [H]: [500], glibc: [200] },
    w3: { A: [100], B: [450], [H]: [300], glibc: [400] },
  });
  const s = summarize(r);
  const rank = rankAllocators(s, ["A", "B", H, "glibc"], "speed");
  assert.deepEqual(rank.entries.map((e) => e.allocator), ["B", H, "A", "glibc"]);
  assert.ok(Math.abs(rank.entries[0].score - Math.cbrt(0.5 * 0.9 * 1)) < 1e-9);
  assert.ok(Math.abs(rank.entries[3].score - Math.cbrt(0.1 * 0.4 * (400 / 450))) < 1e-9);
  assert.deepEqual(rank.benches, ["w1", "w2", "w3"]);
  const hl = headlines(r, s, H);
  assert.equal(hl.speedRank, 2);
  assert.equal(hl.speed.entries.length, 4);
  // a workload one allocator has no result for is left out of the rank for all
  const partial = results({
    w1: { A: [1000], [H]: [400] },
    w2: { A: [100], [H]: [500], B: [10] },
  });
  const pr = rankAllocators(summarize(partial), ["A", H, "B"], "speed");
  assert.deepEqual(pr.benches, ["w2"]);
  assert.deepEqual(pr.entries.map((e) => e.allocator), [H, "A", "B"]);
  // memory ranks the least memory first
  const m = results(
    { w: { A: [1], [H]: [1], B: [1] } },
    { w: { A: [3000], [H]: [1000], B: [2000] } },
  );
  const mr = rankAllocators(summarize(m), ["A", H, "B"], "memory");
  assert.deepEqual(mr.entries.map((e) => [e.allocator, e.score]), [[H, 1], ["B", 0.5], [
    "A",
    1 / 3,
  ]]);
});

Deno.test("headlines: a target is met only when it holds in every round", () => {
  // faster than the peer in rounds 0 and 2, slower in round 1: the median says faster, the
  // verdict says missed
  const r = results({
    w: { [H]: [110, 90, 120], peer: [100, 100, 100] },
    v: { [H]: [100, 100, 100], peer: [100, 100, 100] },
  });
  const v = roundVerdict(r, H, "peer");
  assert.equal(v.rounds, 3);
  assert.equal(v.speedMet, false);
  assert.ok(Math.abs(v.speed[1]! - Math.sqrt(0.9)) < 1e-9);
  assert.equal(v.memoryMet, true, "the same memory in every round holds");
  assert.equal(v.indication, false);
  const s = summarize(r);
  assert.ok(s.overall.find((o) => o.allocator === H)!.speed.peer.geomean! > 1, "the median wins");
  assert.match(verdictText(v.speedMet, v.speed), /^MISSED \(held in 2 of 3 rounds\)/);
  // every round faster: met
  const all = roundVerdict(results({ w: { [H]: [110, 105], peer: [100, 100] } }), H, "peer");
  assert.equal(all.speedMet, true);
  assert.match(verdictText(all.speedMet, all.speed), /^MET in all 2 rounds; per round 1\.10×/);
  // one round: an indication, never a result
  const one = roundVerdict(results({ w: { [H]: [110], peer: [100] } }), H, "peer");
  assert.equal(one.indication, true);
  assert.match(verdictText(one.speedMet, one.speed), /an indication only/);
  // a round where a side failed leaves the verdict unmet
  const failed = results({ w: { [H]: [110, 110], peer: [100, 100] } });
  (failed.samples as unknown as { ok: boolean }[])[1].ok = false;
  assert.equal(roundVerdict(failed, H, "peer").speedMet, false);
  assert.equal(verdictText(null, []), "n/a (no pair)");
});

Deno.test("headlines: the printed lines lead with losses, then the rank and the targets", () => {
  const r = results({
    big: { [H]: [10, 10], mimalloc3: [40, 40], glibc: [20, 20] },
    small: { [H]: [200, 200], mimalloc3: [100, 100], glibc: [50, 50] },
  });
  const text = headlineText(headlines(r, summarize(r), H)).join("\n");
  assert.match(text, /^where hakmem-balanced loses/);
  assert.match(
    text,
    /^ {2}vs mimalloc3: speed 0\.71×, memory 1\.00× \(geomeans\); slower on 1 of 2: big 0\.25×;/m,
  );
  assert.match(text, /^ {2}speed {2}2 of 3 \(over 2 workloads\): 1\. mimalloc3 /m);
  assert.match(text, /^ {2}as fast as mimalloc3: MISSED \(held in 0 of 2 rounds\)/m);
  assert.ok(
    text.indexOf("loses") < text.indexOf("rank of") &&
      text.indexOf("rank of") < text.indexOf("targets"),
  );
  // the peers as built, with the fallback marked, and the parity records
  const lines = peerBuildLines({
    allocators: [
      { name: "glibc", version: "2.36" },
      {
        name: "snmalloc",
        version: "0.7.6",
        build_choice: { kind: "zig", why: "the upstream build failed (x)", fallback: true },
        builds: [{ kind: "zig", compiler: "zig 0.15.2 cc", flags: "zig c++ -O3" }],
      },
    ],
    peer_parity: [{
      peer: "mimalloc3",
      geomean: 1.07,
      faster: "upstream",
      workloads: [{ id: "pair_32", ratio: 1.1 }, { id: "larson", ratio: null }],
    }],
  }).join("\n");
  assert.match(lines, /snmalloc 0\.7\.6: zig build \(FALLBACK\), zig 0\.15\.2 cc: the upstream/);
  assert.match(lines, /zig c\+\+ -O3/);
  assert.match(lines, /parity mimalloc3: upstream\/zig speed 1\.07× \(pair_32 1\.10×, larson —\)/);
  assert.deepEqual(peerBuildLines({ allocators: [{ name: "glibc", version: null }] }), []);
});

Deno.test("results.json: the peers' builds, the build choice and the parity records validate", () => {
  const good = syntheticResults();
  assert.deepEqual(validateResults(good), []);
  const bad = structuredClone(good) as unknown as Record<string, unknown>;
  const allocs = bad.allocators as Record<string, unknown>[];
  (allocs.find((a) => a.name === "mimalloc3")!.builds as Record<string, unknown>[])[0].lib = 3;
  allocs.find((a) => a.name === "jemalloc")!.build_choice = { kind: "zig" };
  const parity = (bad.peer_parity as Record<string, unknown>[])[0];
  parity.faster = "gcc";
  (parity.workloads as Record<string, unknown>[])[1].ratio = "1.2";
  assert.deepEqual(validateResults(bad), [
    "allocators[2].builds[0].lib: expected string, got 3",
    "allocators[3].build_choice.why: expected string, got nothing",
    "allocators[3].build_choice.fallback: expected boolean, got nothing",
    'peer_parity[0].workloads[1].ratio: expected number, got "1.2"',
    'peer_parity[0].faster: expected one of "upstream"|"zig", got "gcc"',
  ]);
});
