/** `deno task bench` end to end: the quick profile, every bench, glibc and hakmem, one round.
 * Checks that every bench produced a sane sample under both allocators, that results.json has
 * the schema-1 shape and that the report page was written. Timings are never asserted. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BENCH_IDS } from "../../tasks/bench.ts";
import { summarize, validateResults } from "../../tasks/bench_stats.ts";
import type { Results } from "../../tasks/bench_stats.ts";
import { ROOT } from "../../tasks/targets.ts";

const TIMEOUT_MS = 170_000;
const ALLOCATORS = ["glibc", "hakmem-balanced"];

function tail(s: string, n = 60): string {
  return s.trimEnd().split("\n").slice(-n).join("\n");
}

Deno.test({
  name: "bench --profile quick (glibc, hakmem): a sane sample of every bench, results, report",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
      console.warn("SKIPPED: the bench suite runs on x86_64 Linux only");
      return;
    }
    const out = await Deno.makeTempDir({ prefix: "hakmem-bench-smoke-" });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "bench",
          "--profile",
          "quick",
          "--allocators",
          "glibc,hakmem",
          "--repeat",
          "1",
          "--out",
          out,
        ],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
      const res = await child.output().finally(() => clearTimeout(timer));
      const dec = new TextDecoder();
      const stdout = dec.decode(res.stdout);
      const stderr = dec.decode(res.stderr);
      const log = `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`;
      assert.equal(
        res.signal,
        null,
        `bench was killed (${res.signal}; limit ${TIMEOUT_MS} ms)\n${log}`,
      );
      assert.equal(res.code, 0, `bench exited ${res.code}\n${log}`);

      const raw: unknown = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
      assert.deepEqual(validateResults(raw), [], "results.json shape");
      const results = raw as Results;
      assert.equal(results.params.profile, "quick");
      assert.equal(results.params.repeat, 1);
      assert.deepEqual(results.params.allocators, ALLOCATORS);
      const ids = results.benches.map((b) => b.id);
      assert.equal(ids.length, BENCH_IDS.length, `benches: ${ids.join(", ")}`);
      assert.ok(results.machine.cores >= 1 && results.machine.cpu.length > 0);

      for (const b of results.benches) {
        for (const a of ALLOCATORS) {
          const ok = results.samples.filter((s) => s.bench === b.id && s.allocator === a && s.ok);
          assert.ok(ok.length > 0, `${b.id} under ${a}: no ok sample\n${log}`);
          for (const s of ok) {
            const what = `${b.id} under ${a}`;
            for (
              const [k, v] of [["value", s.value], ["wall_s", s.wall_s], ["maxrss", s.maxrss_kib]]
            ) {
              assert.ok(
                typeof v === "number" && Number.isFinite(v) && v > 0,
                `${what}: ${k} = ${v}`,
              );
            }
            assert.equal(s.exit, 0, what);
            assert.equal(s.result?.bench !== undefined, true, `${what}: result line`);
            assert.equal(s.result?.metric, b.metric, `${what}: metric of the program`);
            if (a.startsWith("hakmem-")) assert.ok(s.hakmem !== null, `${what}: hakmem stats`);
            else assert.equal(s.hakmem, null, what);
          }
        }
      }
      // the printed summary names every bench and the summary module agrees on the counts
      const summary = summarize(results);
      for (const id of ids) assert.ok(stdout.includes(id), `summary table lacks ${id}`);
      assert.equal(summary.rows.length, ids.length * ALLOCATORS.length);
      assert.ok(summary.rows.every((r) => r.failed === 0 && r.median !== null));

      const html = await Deno.readTextFile(join(out, "index.html"));
      assert.ok(html.length > 10_000, `index.html is only ${html.length} bytes`);
      assert.match(html, /<html/i);
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("bench: an unknown bench id, allocator or mode is a usage error listing the valid ones", async () => {
  const cases: [string[], RegExp][] = [
    [["--benches", "larson,nope"], /unknown bench: nope; valid: larson, tiny_hot_16/],
    [["--allocators", "glibc,ptmalloc"], /unknown allocator: ptmalloc; valid: glibc, hakmem/],
    [["--modes", "turbo"], /unknown mode: turbo; valid: minimal, fast, balanced/],
  ];
  for (const [args, want] of cases) {
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/cli.ts", "bench", "--profile", "quick", ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 2, `${args.join(" ")}: exit ${res.code}\n${stderr}`);
    assert.match(stderr, want);
  }
});
