/** The workloads added with memory as a result, at smoke scale: memory_return (its phases and the
 * RSS it read at each), realloc_growth, survivors and the bare pair loop of --instructions; and
 * those that judge learning: bursts, large_churn (large_mix's program), phases and cache_phases. Under
 * glibc and hakmem each does the same work (same checksum; cache_phases's phases are timed, so the
 * shape of its result is checked instead), reports what it measured, and rejects bad arguments
 * with exit 2. Then the instruction count of the pair loop under callgrind (valgrind,
 * installed with apt when missing), deterministic per op. No timing is asserted. */
import assert from "node:assert/strict";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { libraryFiles } from "../../tasks/build/build.ts";
import {
  callgrindMispredicts,
  callgrindTotal,
  countInstructions,
  VALGRIND,
} from "../../tasks/bench/instructions.ts";
import { bareAllocator } from "../../tasks/bench/runner.ts";
import { benchDef, INSTRUCTION_WORKLOADS } from "../../tasks/bench/catalogue.ts";
import { ensurePackages } from "../../tasks/lib/deps.ts";
import { OFF_BENCH_HOST, skipOrFail } from "../../tasks/lib/ci.ts";
import { badArgs, both } from "./fixtures/programs.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const SO = libraryFiles("x86_64-linux-gnu", "release").so;

Deno.test({
  name: "memory_return at smoke scale: phases in order, the RSS of each, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const prog = (await buildAllBench(["memory_return"])).get("memory_return")!;
    const args = ["--seed", "3", "--threads", "2", "--mib", "64", "--idle-ms", "50"];
    for (const l of await both(prog, [...args, "--work", "1000"])) {
      assert.equal(l.bench, "memory_return");
      assert.equal(l.metric, "ops_per_s");
      assert.equal(l.total_kib, 64 * 1024);
      const n = (k: string) => l[k] as number;
      assert.ok(n("value") > 0 && n("blocks") > 100, JSON.stringify(l));
      // phases in order, idle at least as long as asked
      const t = ["t_alloc_s", "t_freed_s", "t_idle_s", "t_work_s", "t_trim_s"].map(n);
      assert.ok(t.every((x, i) => i === 0 || x >= t[i - 1]), `phases ${t}`);
      assert.ok(t[2] - t[1] >= 0.05, "idle lasted --idle-ms");
      // everything allocated was resident (every page written); survivors are about 1 %
      assert.ok(n("rss_peak_kib") - n("rss_start_kib") >= 64 * 1024 * 0.9, JSON.stringify(l));
      assert.ok(n("live_kib") > 0 && n("live_kib") < 64 * 1024 * 0.05, `live ${n("live_kib")}`);
      for (const k of ["rss_freed_kib", "rss_idle_kib", "rss_work_kib", "rss_trim_kib"]) {
        assert.ok(n(k) > 0 && n(k) <= n("rss_peak_kib") * 1.1, `${k} ${n(k)}`);
      }
    }
    // the exited-threads shape: the workers exit after the frees, the main thread works on
    for (
      const l of await both(prog, [...args, "--work", "1000", "--exit", "1", "--mix", "small"])
    ) {
      const n = (k: string) => l[k] as number;
      assert.equal(l.exit, 1);
      assert.equal(l.mix, "small");
      assert.ok(n("live_kib") > 0 && n("live_kib") < 64 * 1024 * 0.05, `live ${n("live_kib")}`);
      assert.ok(n("rss_trim_kib") > 0 && n("rss_trim_kib") <= n("rss_peak_kib"), JSON.stringify(l));
    }
    await badArgs(prog, "memory_return", [
      ["--keep", "1"],
      ["--mib", "0"],
      ["--idle-ms", "x"],
      ["--exit", "2"],
      ["--mix", "huge"],
    ]);
  },
});

Deno.test({
  name: "realloc_growth and survivors at smoke scale: same work, what they report, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bins = await buildAllBench(["realloc_growth", "survivors"]);
    const growth = bins.get("realloc_growth")!;
    for (const l of await both(growth, ["--seed", "5", "--scale", "0.002"])) {
      assert.equal(l.bench, "realloc_growth");
      assert.equal(l.ops as number >= 10000, true, `ops ${l.ops}`);
      assert.ok((l.lives as number) > 0, "some buffers reached their limit");
      assert.ok((l.mib_grown as number) > 0);
      assert.equal(l.max_kib, 512);
    }
    await badArgs(growth, "realloc_growth", [["--max-kib", "8"], ["--buffers", "0"]]);

    const surv = bins.get("survivors")!;
    for (const l of await both(surv, ["--seed", "5", "--scale", "0.02", "--cycle-kib", "2048"])) {
      assert.equal(l.bench, "survivors");
      assert.equal(l.cycles, 4);
      assert.ok((l.live_end_kib as number) > 0, "the survivors are live at the end");
      assert.ok((l.rss_end_kib as number) >= (l.live_end_kib as number), "RSS holds them");
      assert.ok((l.frag_max as number) >= (l.frag_end as number) && (l.frag_end as number) >= 1);
    }
    await badArgs(surv, "survivors", [["--keep", "1"], ["--lifetime", "0"]]);
  },
});

Deno.test({
  name: "bursts at smoke scale: the bursts, their gaps and the RSS read while idle, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const prog = (await buildAllBench(["bursts"])).get("bursts")!;
    const args = ["--seed", "4", "--threads", "2", "--mib", "8", "--gap-ms", "30"];
    for (const l of await both(prog, [...args, "--jitter-ms", "20", "--scale", "0.25"])) {
      const n = (k: string) => l[k] as number;
      assert.equal(l.bench, "bursts");
      assert.equal(n("bursts"), 2, "8 bursts at scale 1");
      assert.ok(n("ops") > 100 && n("ops") % 2 === 0, "a malloc and a free per block");
      // the gaps are not busy time, and the process idled at least --gap-ms after each burst
      assert.ok(n("span_s") >= n("busy_s") + 2 * 0.03, JSON.stringify(l));
      assert.equal(n("seconds"), n("busy_s"));
      // every page of the 8 MiB was written: faulted in at least once, resident at the peak. The
      // kernel's RSS count (statm) is read from per-CPU counters without summing them: under
      // glibc it once read 5.9 MiB at the peak in 30 runs (kernel 6.18), about 4 MiB short, so
      // half the working set is what a reading guarantees
      assert.ok(n("faults_per_burst") > 0, JSON.stringify(l));
      assert.ok(n("rss_peak_kib") >= 8 * 1024 * 0.5, JSON.stringify(l));
      for (const k of ["rss_mean_kib", "rss_gap_end_kib"]) {
        assert.ok(n(k) > 0 && n(k) <= n("rss_peak_kib"), `${k} ${n(k)}`);
      }
    }
    await badArgs(prog, "bursts", [["--mib", "0"], ["--min", "4096", "--max", "1024"], [
      "--gap-ms",
      "x",
    ]]);
  },
});

Deno.test({
  name: "large_churn and phases at smoke scale: same work, each phase's rate and time, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bins = await buildAllBench(["large_mix", "phases"]);
    const churn = benchDef("large_churn")!;
    const mix = bins.get(churn.program)!;
    for (
      const l of await both(mix, [...churn.args(2, "quick"), "--seed", "6", "--scale", "0.005"])
    ) {
      assert.equal(l.ops, 20);
      assert.equal(l.ws, 12);
      const mean = l.mean_size as number;
      assert.ok(mean >= 1 << 20 && mean <= 8 << 20, `mean size ${mean}`);
    }

    const prog = bins.get("phases")!;
    for (const l of await both(prog, ["--seed", "6", "--threads", "2", "--scale", "0.01"])) {
      const n = (k: string) => l[k] as number;
      assert.equal(l.bench, "phases");
      assert.equal(n("cycles"), 2);
      assert.deepEqual(l.phase_names, ["bursts", "churn", "remote", "bursts", "churn", "remote"]);
      // the phases follow one another
      const starts = l.phase_starts_s as number[];
      const ends = l.phase_ends_s as number[];
      assert.equal(starts.length, 6);
      for (let i = 0; i < 6; i++) {
        assert.ok(ends[i] >= starts[i] && (i === 0 || starts[i] === ends[i - 1]), `${i}`);
      }
      // the value is the geometric mean of the three phases' rates
      const rates = ["bursts", "churn", "remote"].map((p) => n(`ops_per_s_${p}`));
      assert.ok(rates.every((r) => r > 0), JSON.stringify(l));
      const g = Math.cbrt(rates[0] * rates[1] * rates[2]);
      assert.ok(Math.abs(n("value") - g) <= 1e-6 * g, `${n("value")} vs ${g}`);
      const mean = n("churn_mean_size");
      assert.ok(mean >= 1 << 20 && mean <= 8 << 20, `churn mean size ${mean}`);
      assert.ok(n("bursts_rss_peak_kib") >= 64 * 1024 * 0.9, "the bursts' 64 MiB was resident");
    }
    await badArgs(prog, "phases", [["--cycles", "0"], ["--cycles", "21"]]);
  },
});

Deno.test({
  name: "cache_phases at smoke scale: timed phases in order, settled rates per cycle, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const prog = (await buildAllBench(["cache_phases"])).get("cache_phases")!;
    // phases of 60 ms, warm-up 15 ms (a quarter); timed phases do different work per allocator
    const args = ["--seed", "6", "--threads", "3", "--scale", "0.01", "--cycles", "3"];
    for (const l of await both(prog, args, false)) {
      const n = (k: string) => l[k] as number;
      assert.equal(l.bench, "cache_phases");
      assert.equal(n("cycles"), 3);
      assert.ok(Math.abs(n("phase_s") - 0.06) < 1e-9 && Math.abs(n("warmup_s") - 0.015) < 1e-9);
      const names = ["small", "remote", "mid"];
      assert.deepEqual(l.phase_names, [...names, ...names, ...names]);
      const starts = l.phase_starts_s as number[];
      const ends = l.phase_ends_s as number[];
      for (let i = 0; i < 9; i++) {
        assert.ok(ends[i] - starts[i] >= 0.06 - 1e-3, `phase ${i} lasted its time`);
        assert.ok(i === 0 || starts[i] >= ends[i - 1], `phase ${i} after the one before`);
      }
      // each phase's rate is over its settled time, summed over the cycles; the value is their
      // geometric mean
      const rates = names.map((p) => n(`ops_per_s_${p}`));
      const g = Math.cbrt(rates[0] * rates[1] * rates[2]);
      assert.ok(Math.abs(n("value") - g) <= 1e-6 * g, `${n("value")} vs ${g}`);
      for (const p of names) {
        const by = l[`ops_per_s_${p}_by_cycle`] as number[];
        assert.equal(by.length, 3, p);
        assert.ok(by.every((r) => r > 0), JSON.stringify(l));
        const lo = Math.min(...by), hi = Math.max(...by);
        const r = n(`ops_per_s_${p}`);
        assert.ok(r >= lo * 0.999 && r <= hi * 1.001, `${p}: ${r} within its cycles' ${by}`);
      }
      assert.ok(n("ops") > 0 && n("checksum") > 0, JSON.stringify(l));
    }
    await badArgs(prog, "cache_phases", [
      ["--threads", "1"],
      ["--cycles", "0"],
      ["--cycles", "21"],
    ]);
  },
});

Deno.test({
  name: "pairs and --instructions: the pair loop counted under callgrind, per pair",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const bins = await buildAllBench(["pairs"]);
    const pairs = bins.get("pairs")!;
    const [g] = await both(pairs, ["--scale", "0.001", "--batch", "10"]);
    assert.equal(g.ops, 100000);
    assert.equal(g.batch, 10);
    await badArgs(pairs, "pairs", [["--batch", "0"], ["--batch", "5000"], ["--size", "0"]]);
    assert.equal(callgrindTotal("events: Ir\nsummary: 12345\n"), 12345);
    assert.equal(callgrindTotal("events: Ir\ntotals: 678\n"), 678);
    assert.equal(callgrindTotal("nothing"), null);
    const branches = "events: Ir Bc Bcm Bi Bim\nsummary: 900 120 7 30 2\n";
    assert.equal(callgrindTotal(branches), 900);
    assert.equal(callgrindMispredicts(branches), 9, "conditional and indirect");
    assert.equal(callgrindMispredicts("events: Ir\nsummary: 12345\n"), null, "no --branch-sim");

    try {
      await ensurePackages([VALGRIND]);
    } catch (e) {
      return skipOrFail(t, e instanceof Error ? e.message : String(e));
    }
    const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-callgrind-" });
    try {
      const pair = { ...INSTRUCTION_WORKLOADS.find((w) => w.id === "pair_32")!, scale: 0.001 };
      const counts = await countInstructions({
        hakrun: (await buildAllBench([])).get("hakrun")!,
        bins,
        allocators: [
          bareAllocator("glibc", "glibc", null),
          bareAllocator("hakmem-balanced", "hakmem", SO, { HAKMEM_MODE: "balanced" }),
        ],
        workloads: [pair],
        seed: 1,
        tmpDir,
        log: () => {},
      });
      assert.equal(counts.length, 2);
      for (const c of counts) {
        assert.ok(c.ok, `${c.allocator}: ${c.note}`);
        assert.deepEqual(c.ops, [100000, 200000], "the 2s run did twice the pairs");
        // a malloc+free pair and the loop around it: tens to hundreds of instructions
        assert.ok(c.per_op! > 10 && c.per_op! < 2000, `${c.allocator}: ${c.per_op} per pair`);
        assert.ok(c.ir[1]! > c.ir[0]!);
        // every branch of the loop and of the allocator goes the same way at every pair: counted
        // in both runs, next to none per pair
        assert.ok(c.mispredicts!.every((m) => m! > 0), `${c.mispredicts}`);
        const miss = c.mispredicts_per_op;
        assert.ok(miss != null && miss >= 0 && miss < 0.1, `${c.allocator}: ${miss} per pair`);
      }
      // deterministic: a second count of glibc gives the same number
      const again = await countInstructions({
        hakrun: (await buildAllBench([])).get("hakrun")!,
        bins,
        allocators: [bareAllocator("glibc", "glibc", null)],
        workloads: [pair],
        seed: 1,
        tmpDir,
        log: () => {},
      });
      assert.ok(Math.abs(again[0].per_op! - counts[0].per_op!) < 0.5, `${again[0].per_op}`);
    } finally {
      await removeIfPresent(tmpDir);
    }
  },
});
