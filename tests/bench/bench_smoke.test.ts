/** `deno task bench` end to end: the quick profile, every bench, glibc, hakmem and mimalloc 3
 * (built from its pinned crate: the source-built peer of CI), one round. Checks that every bench
 * produced a sane sample under each allocator with its RSS sampled, that results.json has the
 * schema-2 shape with every allocator's version and source, and that the report page was
 * written. Also: usage errors, the summary tables, the ACE traces of learning runs, --oracle end
 * to end, and large_mix at a tiny scale (the variants themselves: bench_variants.test.ts).
 * Timings are never asserted. */
import assert from "node:assert/strict";
import { OFF_BENCH_HOST } from "../../tasks/lib/ci.ts";
import { join } from "node:path";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { BENCH_IDS } from "../../tasks/bench/catalogue.ts";
import { traceFile } from "../../tasks/bench/variants.ts";
import { summaryText } from "../../tasks/bench/summary.ts";
import { libraryFiles } from "../../tasks/build/build.ts";
import { summarize, validateResults } from "../../tasks/bench/stats.ts";
import type { Results, Sample } from "../../tasks/bench/stats.ts";
import { endText, run } from "../../tasks/lib/run.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const TIMEOUT_MS = 300_000;
const ALLOCATORS = ["glibc", "hakmem-balanced", "hakmem-harden", "mimalloc3"];

function tail(s: string, n = 60): string {
  return s.trimEnd().split("\n").slice(-n).join("\n");
}

/** `deno task bench --profile quick ARGS --out OUT`, killed after TIMEOUT_MS: checks that it
 * exited 0 and wrote a valid results.json; returns that and what it printed (stderr's tail). */
async function benchTask(
  args: string[],
  out: string,
): Promise<{ results: Results; stdout: string; stderr: string }> {
  const res = await run(
    Deno.execPath(),
    ["task", "bench", "--profile", "quick", ...args, "--out", out],
    { timeoutMs: TIMEOUT_MS },
  );
  const stdout = res.stdout;
  const stderr = tail(res.stderr);
  const log = `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${stderr}`;
  assert.equal(res.code, 0, `bench ${endText(res, TIMEOUT_MS)}\n${log}`);
  const raw: unknown = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
  assert.deepEqual(validateResults(raw), [], "results.json shape");
  return { results: raw as Results, stdout, stderr };
}

Deno.test({
  name: "bench --profile quick (glibc, hakmem, mimalloc3): every bench sampled, results, report",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: OFF_BENCH_HOST,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "hakmem-bench-smoke-" });
    try {
      const { results, stdout, stderr } = await benchTask(
        ["--allocators", "glibc,hakmem,mimalloc3", "--repeat", "1"],
        out,
      );
      const log = `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${stderr}`;
      assert.equal(results.params.profile, "quick");
      assert.equal(results.params.repeat, 1);
      assert.deepEqual(results.params.allocators, ALLOCATORS);
      const ids = results.benches.map((b) => b.id);
      assert.equal(ids.length, BENCH_IDS.length, `benches: ${ids.join(", ")}`);
      assert.ok(results.machine.cores >= 1 && results.machine.cpu.length > 0);
      assert.equal(results.params.baseline, "mimalloc3");
      // every allocator ran, with its version and where it came from
      for (const a of results.allocators) {
        assert.ok(a.available, `${a.name}: ${a.note}`);
        assert.ok(a.version && a.source, `${a.name}: version ${a.version}, source ${a.source}`);
      }
      const mi = results.allocators.find((a) => a.name === "mimalloc3")!;
      assert.equal(mi.version, "3.6.0");
      assert.match(mi.source!, /^crate libmimalloc-sys2 0\.1\.65 \(sha256 [0-9a-f]{64}\)$/);
      // the upstream build, unless a parity record on this machine measured the zig one faster
      assert.match(
        mi.lib!,
        /\.cache\/peers\/mimalloc3-3\.6\.0-(upstream|zig)-[0-9a-f]{12}\/libmimalloc3\.so$/,
      );
      assert.ok(mi.build_choice && mi.build_choice.why.length > 0, "the build's choice is named");
      assert.match(mi.build!, /-O3/);

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
            // hakrun sampled the resident set (every run lasts more than a few samples)
            assert.ok(s.rss && s.rss.curve.length > 0 && s.rss.peak_kib > 0, `${what}: rss`);
            assert.ok(s.rss.mib_s > 0 && s.rss.curve.length <= 300, `${what}: rss`);
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
      assert.ok(summary.rows.every((r) => r.medianMemKiB !== null && r.medianMemKiB > 0));
      assert.match(stdout, /hakmem against each allocator/);
      // the headlines lead the summary: losses per reference, the rank, the targets (one round)
      assert.match(stdout, /^where hakmem-balanced loses/m);
      assert.ok(stdout.indexOf("where hakmem-balanced loses") < stdout.indexOf("medians over"));
      assert.match(stdout, /^ {2}vs mimalloc3: speed \d/m);
      assert.match(
        stdout,
        new RegExp(`^ {2}speed {2}\\d of ${ALLOCATORS.length} \\(over \\d+ workloads\\)`, "m"),
      );
      assert.match(stdout, /one round: indications only/);
      assert.match(stdout, /^ {2}mimalloc3 3\.6\.0: (upstream|zig) build/m);
      // memory_return went through its phases in order, and its memory figure is its own
      const mr = results.samples.find((s) => s.bench === "memory_return" && s.ok)!;
      const t = ["t_alloc_s", "t_freed_s", "t_idle_s", "t_work_s", "t_trim_s"]
        .map((k) => mr.result![k] as number);
      assert.ok(t.every((x, i) => i === 0 || x >= t[i - 1]), `phases in order: ${t}`);
      assert.equal(
        summary.rows.find((r) => r.bench === "memory_return" && r.allocator === mr.allocator)
          ?.medianMemKiB,
        mr.result!.rss_work_kib,
      );

      const html = await Deno.readTextFile(join(out, "index.html"));
      assert.ok(html.length > 10_000, `index.html is only ${html.length} bytes`);
      assert.match(html, /<html/i);
    } finally {
      await removeIfPresent(out);
    }
  },
});

Deno.test("bench: an unknown bench id, allocator or mode is a usage error listing the valid ones", async () => {
  const cases: [string[], RegExp][] = [
    [["--benches", "larson,nope"], /unknown bench: nope; valid: larson, tiny_hot_16/],
    [
      ["--allocators", "glibc,ptmalloc"],
      /unknown allocator: ptmalloc; valid: glibc, hakmem, mimalloc3, mimalloc2, jemalloc, tcmalloc, snmalloc, rpmalloc\n/,
    ],
    [["--allocators", "mimalloc"], /unknown allocator: mimalloc; valid: glibc, hakmem, mimalloc3/],
    [["--modes", "turbo"], /unknown mode: turbo; valid: minimal, fast, balanced/],
    [["--allocators", "glibc", "--ladder"], /--ladder, --thresholds and --oracle run hakmem/],
    [
      ["--oracle", "--oracle-grid", "HAKMEM_NOPE=1"],
      /--oracle-grid: unknown option HAKMEM_NOPE; accepted \(the integer options that may change at run time\): (HAKMEM_[A-Z_]+, )*HAKMEM_BIGCACHE_MB, /,
    ],
    [
      ["--oracle", "--oracle-grid", "HAKMEM_BUNDLE=0,32"],
      /HAKMEM_BUNDLE=0: not an integer in 1\.\.256/,
    ],
    [["--oracle-grid", "HAKMEM_BUNDLE=32"], /--oracle-grid needs --oracle/],
  ];
  for (const [args, want] of cases) {
    const res = await run(
      Deno.execPath(),
      ["run", "-A", "tasks/cli.ts", "bench", "--profile", "quick", ...args],
    );
    assert.equal(res.code, 2, `${args.join(" ")}: ${endText(res)}\n${res.stderr}`);
    assert.match(res.stderr, want);
  }
});

/** A one-bench, one-round results file with the given allocators and their values. */
function tinyResults(values: Record<string, number>): Results {
  const sample = (allocator: string, value: number): Sample => ({
    bench: "thr",
    allocator,
    round: 0,
    ok: true,
    exit: 0,
    signal: null,
    timed_out: false,
    stderr_tail: "",
    value,
    result: { value },
    wall_s: 1,
    user_s: 1,
    sys_s: 0,
    maxrss_kib: 1024,
    minflt: 1,
    majflt: 0,
    rss: null,
    hakmem: null,
  });
  const names = Object.keys(values);
  return {
    schema: 2,
    created: new Date(0).toISOString(),
    machine: {
      cpu: "cpu",
      cores: 1,
      kernel: "k",
      glibc: "g",
      zig: "z",
      deno: "d",
      commit: null,
    },
    params: {
      profile: "quick",
      benches: ["thr"],
      allocators: names,
      modes: [],
      repeat: 1,
      threads: 1,
      seed: 1,
      duration_s: null,
      baseline: "mimalloc3",
      instructions: false,
    },
    allocators: names.map((name) => ({
      name,
      kind: name === "glibc" ? "glibc" : name.startsWith("hakmem-") ? "hakmem" : "peer",
      lib: null,
      available: true,
      note: null,
      version: null,
      source: null,
      build: null,
    })),
    benches: [{
      id: "thr",
      program: "thr",
      args: [],
      metric: "ops_per_s",
      higher_is_better: true,
      title: "t",
      description: "d",
      memory_key: null,
    }],
    samples: names.map((n) => sample(n, values[n])),
  };
}

Deno.test("bench summary: ratio columns for one hakmem, a table per reference for many", () => {
  const one = summaryText(tinyResults({ glibc: 100, "hakmem-balanced": 150, mimalloc3: 300 }));
  assert.match(one, /hakmem\/glibc\s+hakmem\/mimalloc3\s+mem hakmem\/mimalloc3/);
  assert.match(
    one,
    /^thr\s+ops\/s\s+100\.0\s+150\.0\s+300\.0\s+mimalloc3\s+1\.50×\s+0\.50×\s+1\.00×\s+0$/m,
  );
  assert.doesNotMatch(one, /hakmem variants vs/);
  const versus = one.split("hakmem against each allocator")[1]?.split("\n\n")[0] ?? "";
  assert.match(versus, /^glibc\s+1\.50×\s+1\.00×$/m);
  assert.match(versus, /^mimalloc3\s+0\.50×\s+1\.00×$/m);

  const many = summaryText(tinyResults({
    glibc: 100,
    "hakmem-minimal": 50,
    "hakmem-minimal+bigcache": 200,
    "hakmem-balanced": 100,
    mimalloc3: 400,
  }));
  assert.doesNotMatch(many, /\/glibc/);
  const vsGlibc = many.split("hakmem variants vs glibc\n")[1]?.split("\n\n")[0] ?? "";
  assert.match(vsGlibc, /^bench\s+minimal\s+minimal\+bigcache\s+balanced$/m);
  assert.match(vsGlibc, /^thr\s+0\.50×\s+2\.00×\s+1\.00×$/m);
  assert.match(vsGlibc, /^geomean\s+0\.50×\s+2\.00×\s+1\.00×$/m);
  const vsBase = many.split("hakmem variants vs mimalloc3\n")[1]?.split("\n\n")[0] ?? "";
  assert.match(vsBase, /^thr\s+0\.13×\s+0\.50×\s+0\.25×$/m);
});

/** Runs a bench program with exactly the variables `env`. */
function runProgram(path: string, args: string[], env: Record<string, string> = {}) {
  return run(path, args, { env, clearEnv: true, timeoutMs: TIMEOUT_MS });
}

Deno.test({
  name: "large_mix at a tiny scale: same work and checksum under glibc and hakmem, bad args",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  fn: async () => {
    const bins = await buildAllBench(["large_mix"]);
    const prog = bins.get("large_mix")!;
    const so = libraryFiles("x86_64-linux-gnu", "release").so;
    const args = ["--seed", "7", "--scale", "0.005", "--ws", "4"];
    const runs: [string, Record<string, string>][] = [
      ["glibc", {}],
      ["hakmem-minimal", { LD_PRELOAD: so, HAKMEM_MODE: "minimal" }],
      ["hakmem-balanced", { LD_PRELOAD: so, HAKMEM_MODE: "balanced" }],
    ];
    const lines: Record<string, unknown>[] = [];
    for (const [name, env] of runs) {
      const r = await runProgram(prog, args, env);
      assert.equal(r.code, 0, `${name}: exit ${r.code}\n${r.stderr}`);
      const line = JSON.parse(r.stdout.trim());
      assert.equal(line.bench, "large_mix", name);
      assert.equal(line.metric, "ops_per_s", name);
      assert.ok(typeof line.value === "number" && line.value > 0, `${name}: value ${line.value}`);
      assert.equal(line.ops, 20, name);
      assert.equal(line.ws, 4, name);
      assert.equal(line.min, 256 << 10, name);
      assert.equal(line.max, 32 << 20, name);
      assert.ok(line.mean_size >= line.min && line.mean_size <= line.max, name);
      lines.push(line);
    }
    // the seed fixes the sizes and the contents: every allocator did the same work
    for (const l of lines.slice(1)) {
      assert.equal(l.checksum, lines[0].checksum);
      assert.equal(l.mean_size, lines[0].mean_size);
    }
    for (
      const bad of [
        ["--min", "1048576", "--max", "65536"],
        ["--ws", "0"],
        ["--sizes", "1"],
      ]
    ) {
      const r = await runProgram(prog, bad);
      assert.equal(r.code, 2, `${bad.join(" ")}: exit ${r.code}`);
      assert.match(r.stderr, /^large_mix: /, bad.join(" "));
    }
  },
});

Deno.test({
  name: "bench --modes learning,balanced: each learning run leaves an ACE trace, listed in results",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "hakmem-bench-traces-" });
    try {
      const { results, stderr } = await benchTask(
        [
          "--benches",
          "large_mix",
          "--allocators",
          "hakmem",
          "--modes",
          "learning,balanced",
          "--repeat",
          "2",
        ],
        out,
      );
      assert.deepEqual(results.params.allocators, ["hakmem-learning", "hakmem-balanced"]);
      assert.deepEqual(results.params.modes, ["learning", "balanced"]);
      assert.equal(
        results.allocators.find((a) => a.name === "hakmem-learning")?.note,
        "HAKMEM_MODE=learning",
      );
      assert.equal(results.samples.length, 4);
      assert.ok(results.samples.every((s) => s.ok), stderr);
      // one trace per learning run, none for balanced; each starts with ACE's "start" line
      assert.deepEqual(
        results.traces?.map((t) => [t.bench, t.allocator, t.round]).sort(),
        [["large_mix", "hakmem-learning", 0], ["large_mix", "hakmem-learning", 1]],
      );
      for (const t of results.traces!) {
        assert.equal(t.file, traceFile(t.bench, t.allocator, t.round));
        const first = (await Deno.readTextFile(join(out, t.file))).split("\n")[0];
        assert.equal(JSON.parse(first).kind, "start", `${t.file}: ${first}`);
      }
    } finally {
      await removeIfPresent(out);
    }
  },
});

Deno.test({
  name: "bench --oracle: the grid next to balanced and learning, calibrated under learning",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "hakmem-bench-oracle-" });
    try {
      const { results, stdout, stderr } = await benchTask(
        [
          "--oracle",
          "--oracle-grid",
          "HAKMEM_BIGCACHE_MB=16,256",
          "--benches",
          "large_churn",
          "--allocators",
          "hakmem",
          "--duration",
          "0.3",
          "--repeat",
          "1",
          // a seed whose plain shuffle puts the grid's variant between balanced and learning
          "--seed",
          "5",
        ],
        out,
      );
      // 16 MiB is balanced's own budget: that combination is balanced itself
      assert.deepEqual(results.params.allocators, [
        "hakmem-balanced",
        "hakmem-learning",
        "hakmem-oracle-bc256",
      ]);
      assert.deepEqual(results.oracle, {
        grid: "HAKMEM_BIGCACHE_MB=16,256",
        axes: [{ option: "HAKMEM_BIGCACHE_MB", values: [16, 256] }],
        balanced: "hakmem-balanced",
        learning: "hakmem-learning",
        fixed: ["hakmem-balanced", "hakmem-oracle-bc256"],
      });
      assert.equal(results.params.duration_s, 0.3);
      // the scale was calibrated under the variant judged, whose runs must last
      assert.equal(results.params.calibrated_with, "hakmem-learning");
      const scale = Number(results.benches[0].args.at(-1));
      assert.ok(scale > 0 && scale !== 0.15, `calibrated --scale ${scale}`);
      assert.ok(results.samples.every((s) => s.ok), stderr);
      assert.deepEqual(results.traces?.map((t) => t.allocator), ["hakmem-learning"]);
      // balanced and learning ran one right after the other (samples are in run order)
      const ran = results.samples.map((s) => s.allocator);
      assert.equal(
        Math.abs(ran.indexOf("hakmem-balanced") - ran.indexOf("hakmem-learning")),
        1,
        `run order: ${ran}`,
      );
      assert.match(
        stdout,
        /^oracle: learning against balanced and the 1 fixed configuration of the grid HAKMEM_BIGCACHE_MB=16,256/m,
      );
      assert.match(stdout, /^large_churn\s+[\d.]+×\s+[\d.]+×\s+(balanced|oracle-bc256)\s/m);
      // one round: the target takes the best of that round and says it overstates
      assert.match(
        stdout,
        /^target (MET|MISSED|n\/a): learning ≥ 0\.95× the best fixed configuration .*overstated/m,
      );
      assert.match(stdout, /^target (MET|MISSED|n\/a): RSS·time ≤ 1\.1× balanced's/m);
      assert.match(await Deno.readTextFile(join(out, "index.html")), /<html/i);
    } finally {
      await removeIfPresent(out);
    }
  },
});
