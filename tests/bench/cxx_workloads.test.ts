/** The C++ workloads (bench/cxx_objects.cc, cxx_pairs.cc; built with the system's g++ by
 * buildAllBench) at smoke scale: under glibc and hakmem each does the same work (the same checksum
 * or count), with hakmem's operators new and delete serving it, and rejects bad arguments with
 * exit 2. Their catalogue entries. No timing is asserted. */
import assert from "node:assert/strict";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { benchDef, INSTRUCTION_WORKLOADS } from "../../tasks/bench/catalogue.ts";
import { badArgs, both } from "./fixtures/programs.ts";

const isX86Linux = Deno.build.os === "linux" && Deno.build.arch === "x86_64";
const num = (l: Record<string, unknown>, k: string) => l[k] as number;

Deno.test({
  name: "C++ workloads at smoke scale: same work under glibc and hakmem, bad args",
  ignore: !isX86Linux,
  sanitizeResources: false,
  fn: async (t) => {
    const bins = await buildAllBench(["cxx_objects", "cxx_pairs"]);

    await t.step(
      "cxx_objects: objects, strings and containers checked, same checksum",
      async () => {
        const prog = bins.get("cxx_objects")!;
        for (const threads of ["1", "2"]) {
          const args = ["--seed", "3", "--threads", threads, "--scale", "0.005", "--live", "2000"];
          const lines = await both(prog, args);
          for (const l of lines) {
            assert.equal(l.bench, "cxx_objects");
            assert.equal(num(l, "ops"), 20000 * Number(threads));
            assert.equal(num(l, "live"), 2000);
          }
        }
        await badArgs(prog, "cxx_objects", [["--live", "3"], ["--size", "8"]]);
      },
    );

    await t.step("cxx_pairs: both entry points, the same count", async () => {
      const prog = bins.get("cxx_pairs")!;
      for (const api of ["new", "malloc"]) {
        const args = ["--api", api, "--size", "40", "--batch", "1000", "--scale", "0.001"];
        const lines = await both(prog, args, false);
        for (const l of lines) {
          assert.equal(l.api, api);
          assert.equal(num(l, "ops"), 100000);
          assert.ok(num(l, "value") > 0);
        }
      }
      await badArgs(prog, "cxx_pairs", [["--api", "calloc"], ["--batch", "0"]]);
    });
  },
});

Deno.test("C++ workloads in the catalogue: one binary for the two pair loops", () => {
  const nd = benchDef("cxx_new_delete")!, mf = benchDef("cxx_malloc_free")!;
  assert.equal(nd.program, "cxx_pairs");
  assert.equal(mf.program, "cxx_pairs");
  const rest = (a: string[]) => a.filter((x) => x !== "new" && x !== "malloc");
  assert.deepEqual(rest(nd.args(2, "full")), rest(mf.args(2, "full")));
  assert.equal(benchDef("cxx_objects")!.metric, "ops_per_s");
  const ids = INSTRUCTION_WORKLOADS.map((w) => w.id);
  assert.ok(ids.includes("new_delete_40") && ids.includes("malloc_free_40"), ids.join(", "));
});
