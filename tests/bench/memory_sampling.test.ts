/** hakrun's RSS sampling (bench/runner.c) and what the bench makes of a run
 * (tasks/bench/runner.ts): a child that grows its resident set in steps shows the steps in the
 * curve, the sampled peak agrees with the kernel's maxrss and MiB·s with the integral of the
 * samples; --sample-ms 0 samples nothing; a run killed by its time limit or by a signal is a failed
 * sample with the reason, never a number; --core-rtt records the machine's core-to-core round trip,
 * and the summary names the rounds where it changed. */
import assert from "node:assert/strict";
import { OFF_BENCH_HOST } from "../../tasks/lib/ci.ts";
import { join } from "node:path";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { bareAllocator, rssRecord, runOnce } from "../../tasks/bench/runner.ts";
import { run } from "../../tasks/lib/run.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";
import { machineChangeLines } from "../../tasks/bench/summary.ts";
import type { Results } from "../../tasks/bench/stats.ts";

const GLIBC = bareAllocator("glibc", "glibc", null);

/** A child whose resident set grows by 32 MiB every 0.1 s, four times, then drops: python3
 * holding filled byte strings (a test package of `deno task test`). */
const STEPS = 4;
const STEP_MIB = 32;
const GROW = "import time\na = []\nfor i in range(" + STEPS + "):\n" +
  "    a.append(b'x' * (" + STEP_MIB + " << 20))\n    time.sleep(0.1)\n" +
  "a = None\ntime.sleep(0.2)\n";

async function hakrun(): Promise<string> {
  return (await buildAllBench([])).get("hakrun")!;
}

Deno.test({
  name: "hakrun samples the child's RSS: steps in the curve, peak, MiB·s",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bin = await hakrun();
    const dir = await Deno.makeTempDir({ prefix: "hakmem-rss-" });
    try {
      const out = join(dir, "run.json");
      const r = await run(bin, ["--out", out, "--sample-ms", "5", "--", "python3", "-c", GROW], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const ru = JSON.parse(await Deno.readTextFile(out));
      assert.equal(ru.exit, 0);
      assert.equal(ru.rss_sample_ms, 5);
      const curve: [number, number][] = ru.rss_curve;
      // never more than one sample per 5 ms (how many fewer depends on the machine's load)
      assert.ok(curve.length >= 2, `${curve.length} samples`);
      assert.ok(curve.length <= ru.wall_s * 1000 / 5 + 2, `${curve.length} samples`);
      assert.ok(curve.every((p, i) => i === 0 || p[0] > curve[i - 1][0]), "times increase");
      const peak = Math.max(...curve.map((p) => p[1]));
      assert.equal(ru.rss_peak_kib, peak);
      // the shell held at least STEPS × STEP_MIB at its peak; the kernel's maxrss agrees
      assert.ok(peak >= STEPS * STEP_MIB * 1024 * 0.9, `peak ${peak} KiB`);
      assert.ok(
        Math.abs(ru.maxrss_kib - peak) <= ru.maxrss_kib * 0.1,
        `${ru.maxrss_kib} vs ${peak}`,
      );
      // it went up in steps and came back down at the end
      const last = curve[curve.length - 1][1];
      assert.ok(last < peak / 2, `the end (${last} KiB) is below half the peak`);
      const firstBig = curve.find((p) => p[1] >= STEP_MIB * 1024)!;
      const firstPeak = curve.find((p) => p[1] >= peak * 0.95)!;
      assert.ok(firstPeak[0] - firstBig[0] >= 0.25, "the peak came steps after the first step");
      // MiB·s: each sample held until the next one (the last until the end)
      let integral = 0;
      for (let i = 0; i < curve.length; i++) {
        const until = i + 1 < curve.length ? curve[i + 1][0] : ru.wall_s;
        integral += curve[i][1] / 1024 * (until - curve[i][0]);
      }
      assert.ok(Math.abs(ru.rss_mib_s - integral) < 0.01 * integral + 0.01, `${ru.rss_mib_s}`);
      // the record the bench keeps: thinned, the peak kept
      const rec = rssRecord(ru)!;
      assert.ok(rec.curve.length <= 300 && rec.curve.length > 0);
      assert.equal(Math.max(...rec.curve.map((p) => p[1])), peak);

      // --sample-ms 0: no samples
      const r0 = await run(bin, ["--out", out, "--sample-ms", "0", "--", "true"], {
        timeoutMs: 60_000,
      });
      assert.equal(r0.code, 0, r0.stderr);
      const ru0 = JSON.parse(await Deno.readTextFile(out));
      assert.deepEqual(ru0.rss_curve, []);
      assert.equal(rssRecord(ru0), null);
      // a run over before its first sample (`true`, under a 1 s interval) is one point: its
      // maxrss from the start (without it, hakmem's 9 ms live_heads had no curve)
      const r1 = await run(bin, ["--out", out, "--sample-ms", "1000", "--", "true"], {
        timeoutMs: 60_000,
      });
      assert.equal(r1.code, 0, r1.stderr);
      const ru1 = JSON.parse(await Deno.readTextFile(out));
      assert.ok(ru1.wall_s < 1 && ru1.maxrss_kib > 0, JSON.stringify(ru1));
      assert.deepEqual(ru1.rss_curve, [[0, ru1.maxrss_kib]]);
      assert.equal(ru1.rss_peak_kib, ru1.maxrss_kib);
      assert.ok(ru1.rss_mib_s > 0);
      const bad = await run(bin, ["--out", out, "--sample-ms", "-1", "--", "true"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--sample-ms expects milliseconds in 0\.\.60000, got '-1'/);
    } finally {
      await removeIfPresent(dir);
    }
  },
});

Deno.test({
  name: "a run killed by its time limit or a signal is a failed sample, never a number",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bin = await hakrun();
    const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-fail-" });
    try {
      const base = { hakrun: bin, allocator: GLIBC, tmpDir, trace: null };
      // prints a result line, then outlives its time limit
      const slow = await runOnce({
        ...base,
        program: "bash",
        args: ["-c", "echo '{\"value\": 5}'; sleep 30"],
        timeoutS: 1,
        seq: 0,
      });
      assert.equal(slow.ok, false);
      assert.equal(slow.timed_out, true);
      assert.equal(slow.value, null, "a killed run has no value, whatever it printed");
      assert.match(slow.stderr_tail, /\[bench\] timed out after 1 s \(killed\)/);
      // killed at its limit, long before its own end (how long after the limit depends on load)
      assert.ok(slow.wall_s >= 1 && slow.wall_s < 30, `wall ${slow.wall_s}`);
      // prints a result line, then dies of a signal
      const killed = await runOnce({
        ...base,
        program: "bash",
        args: ["-c", "echo '{\"value\": 5}'; kill -SEGV $$"],
        timeoutS: 30,
        seq: 1,
      });
      assert.equal(killed.ok, false);
      assert.equal(killed.signal, 11);
      assert.equal(killed.value, null);
      assert.match(killed.stderr_tail, /killed by signal 11 \(SIGSEGV\)/);
      // a good run for contrast
      const good = await runOnce({
        ...base,
        program: "bash",
        args: ["-c", "sleep 0.1; echo '{\"value\": 5}'"],
        timeoutS: 30,
        seq: 2,
      });
      assert.equal(good.ok, true, good.stderr_tail);
      assert.equal(good.value, 5);
      assert.ok(good.rss !== null && good.rss.curve.length > 0, "sampled");
    } finally {
      await removeIfPresent(tmpDir);
    }
  },
});

Deno.test({
  name: "hakrun --core-rtt times the core-to-core round trip (null on one CPU or without it)",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bin = await hakrun();
    const dir = await Deno.makeTempDir({ prefix: "hakmem-rtt-" });
    try {
      const out = join(dir, "ru.json");
      // the record's round trip, hakrun run as `cmd args… hakrun --out … flags -- true`
      const rtt = async (cmd: string[], flags: string[]) => {
        const argv = [...cmd, bin, "--out", out, ...flags, "--", "true"];
        const r = await run(argv[0], argv.slice(1), { timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(await Deno.readTextFile(out)).core_rtt_ns;
      };
      assert.equal(await rtt([], []), null, "not timed unless asked");
      assert.equal(await rtt(["taskset", "-c", "0"], ["--core-rtt"]), null, "one CPU: nothing");
      if (navigator.hardwareConcurrency >= 2) {
        const ns = await rtt([], ["--core-rtt"]);
        // a cache line between two cores: tens to hundreds of ns, never 0 or seconds
        assert.ok(typeof ns === "number" && ns > 1 && ns < 100_000, `round trip ${ns} ns`);
      }
    } finally {
      await removeIfPresent(dir);
    }
  },
});

Deno.test("the summary names the rounds whose runs saw the machine change", () => {
  const sample = (bench: string, round: number, rtt: number | null) => ({
    bench,
    round,
    core_rtt_ns: rtt,
  });
  const results = {
    samples: [
      sample("xthread", 0, 55),
      sample("xthread", 0, 60),
      sample("xthread", 1, 55),
      sample("xthread", 1, 340),
      sample("larson", 0, 50),
      sample("larson", 0, null),
    ],
  } as unknown as Results;
  assert.deepEqual(machineChangeLines(results).length, 1);
  assert.match(machineChangeLines(results)[0], /xthread r1 55-340 ns/);
  assert.doesNotMatch(machineChangeLines(results)[0], /larson|r0/);
  results.samples.splice(3, 1);
  assert.deepEqual(machineChangeLines(results), []);
});
