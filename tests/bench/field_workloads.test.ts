/** The field's patterns (bench/prodcons.c, large_buffers.c, interp_heap.c, mixed_rounds.c) at
 * smoke scale: under glibc and hakmem each does the same work (the same checksum; prodcons, which
 * runs for a fixed time, accounts for every block it allocated), reports what the pattern says
 * (sizes, counts, more threads than cores) and rejects bad arguments with exit 2. Their catalogue
 * entries have a quick-profile scale and the suite's result line. No timing is asserted. */
import assert from "node:assert/strict";
import { OFF_BENCH_HOST } from "../../tasks/lib/ci.ts";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { benchDef } from "../../tasks/bench/catalogue.ts";
import { badArgs, both } from "./fixtures/programs.ts";

const PROGRAMS = ["prodcons", "large_buffers", "interp_heap", "mixed_rounds"];

const num = (l: Record<string, unknown>, k: string) => l[k] as number;

Deno.test({
  name: "field workloads at smoke scale: same work under glibc and hakmem, the pattern, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async (t) => {
    const bins = await buildAllBench(PROGRAMS);
    const cpus = navigator.hardwareConcurrency;

    await t.step("prodcons: more threads than cores, 64 B blocks, every block freed", async () => {
      const prog = bins.get("prodcons")!;
      for (const l of await both(prog, ["--seed", "4", "--scale", "0.05"], false)) {
        assert.equal(l.bench, "prodcons");
        assert.equal(l.metric, "ops_per_s");
        assert.equal(num(l, "size"), 64);
        // batches vary around --batch: a fixed count could divide an allocator's own batches
        assert.deepEqual([num(l, "batch"), num(l, "batch_min"), num(l, "batch_max")], [64, 32, 96]);
        assert.ok(num(l, "workers") > num(l, "cpus") && num(l, "cpus") === cpus, `${l.workers}`);
        assert.ok(num(l, "seconds") >= 0.2 * 0.9, "a fixed time: 4 s × 0.05");
        // frees over the time, and every block allocated was freed (by then or after)
        assert.ok(num(l, "ops") > 1000 && num(l, "value") > 0, JSON.stringify(l));
        assert.equal(num(l, "ops") + num(l, "leftover"), num(l, "allocs"));
      }
      await badArgs(prog, "prodcons", [["--workers", "1"], ["--size", "8"], ["--ms", "x"], [
        "--vary",
        "2",
      ]]);
    });

    await t.step("prodcons --split 1: threads that only free, every block freed", async () => {
      const prog = bins.get("prodcons")!;
      for (const l of await both(prog, ["--seed", "4", "--scale", "0.05", "--split", "1"], false)) {
        assert.equal(num(l, "split"), 1);
        assert.ok(num(l, "ops") > 1000 && num(l, "value") > 0, JSON.stringify(l));
        assert.equal(num(l, "ops") + num(l, "leftover"), num(l, "allocs"));
      }
      await badArgs(prog, "prodcons", [["--split", "2"]]);
    });

    await t.step("large_buffers: 20 slots of 5–25 MiB, every byte written", async () => {
      const prog = bins.get("large_buffers")!;
      const lines = await both(prog, ["--seed", "5", "--scale", "0.005"]);
      for (const l of lines) {
        assert.equal(l.bench, "large_buffers");
        assert.equal(num(l, "ops"), 10, "2000 × 0.005 iterations");
        assert.equal(num(l, "slots"), 20);
        assert.deepEqual([num(l, "min"), num(l, "max")], [5 << 20, 25 << 20]);
        const gib = num(l, "gib_initialised");
        assert.ok(gib >= 10 * 5 / 1024 && gib <= 10 * 25 / 1024, `${gib} GiB initialised`);
      }
      await badArgs(prog, "large_buffers", [["--slots", "0"], [
        "--min-mib",
        "30",
        "--max-mib",
        "20",
      ]]);
    });

    await t.step("interp_heap: one and two threads, the same graph under both", async () => {
      const prog = bins.get("interp_heap")!;
      for (const threads of ["1", "2"]) {
        const args = ["--seed", "6", "--threads", threads, "--scale", "0.005"];
        const lines = await both(prog, args);
        assert.equal(lines[0].ops, lines[1].ops, "the same number of calls");
        for (const l of lines) {
          assert.equal(num(l, "threads"), Number(threads));
          assert.equal(num(l, "objects"), 20000);
          // every object is allocated and freed, containers add reallocs: more than 2 per object
          assert.ok(num(l, "ops") > 2 * 20000 * num(l, "cycles") * Number(threads));
        }
      }
      await badArgs(prog, "interp_heap", [["--objects", "3"], ["--threads", "0"]]);
    });

    await t.step("mixed_rounds: 1000 blocks of 8 B – 8 KiB per thread, in rounds", async () => {
      const prog = bins.get("mixed_rounds")!;
      for (const threads of ["1", "2"]) {
        const args = ["--seed", "7", "--threads", threads, "--scale", "0.001"];
        const lines = await both(prog, args);
        for (const l of lines) {
          assert.deepEqual([num(l, "min"), num(l, "max"), num(l, "blocks")], [8, 8192, 1000]);
          assert.equal(num(l, "ops"), num(l, "rounds") * 1000 * Number(threads));
        }
      }
      await badArgs(prog, "mixed_rounds", [["--max", "4", "--min", "8"], ["--blocks", "0"]]);
    });
  },
});

Deno.test("field workloads in the catalogue: ids, programs, quick scales", () => {
  const ids = [
    "prodcons",
    "prodcons_split",
    "large_buffers",
    "interp_heap_1",
    "interp_heap_2",
    "mixed_rounds_1",
    "mixed_rounds_2",
  ];
  for (const id of ids) {
    const d = benchDef(id);
    assert.ok(d, `${id} is in the catalogue`);
    assert.ok(PROGRAMS.includes(d.program), `${id}: program ${d.program}`);
    assert.equal(d.metric, "ops_per_s");
    assert.ok(d.quickScale > 0 && d.quickScale < 1, `${id}: quick scale ${d.quickScale}`);
  }
  assert.deepEqual(benchDef("interp_heap_2")!.args(8, "full"), ["--threads", "2"]);
  assert.deepEqual(benchDef("mixed_rounds_1")!.args(8, "quick"), ["--threads", "1"]);
});
