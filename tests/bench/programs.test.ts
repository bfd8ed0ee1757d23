/** The programs mode of the bench: its record's schema and statistics on a synthetic record (the
 * headlines lead with the losses, peers before glibc; ratios paired by round with their spread),
 * which programs a run picks, the output check, a program that cannot be installed, hakrun's
 * --tree sampling, and `deno task bench --programs python3,sqlite3` end to end at the quick
 * scale under glibc, hakmem and mimalloc 3 with its report rendered in headless Chromium (a
 * synthetic record with an unavailable program, a failed run and a differing output too).
 * Timings are never asserted. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BENCH_HOST, skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { bareAllocator, runRaw } from "../../tasks/bench/runner.ts";
import { type Results, validateResults } from "../../tasks/bench/stats.ts";
import { PROGRAM_IDS, z3Problem } from "../../tasks/programs/catalogue.ts";
import { ensureProgram, programIdsOf, programProblems } from "../../tasks/programs/programs.ts";
import { markOutputs } from "../../tasks/programs/run.ts";
import {
  type ProgramSample,
  type ProgramsRecord,
  validatePrograms,
} from "../../tasks/bench/schema.ts";
import { headlines, summarizePrograms } from "../../tasks/programs/stats.ts";
import { programsSummaryText } from "../../tasks/programs/summary.ts";
import { writeReport } from "../../reports/build_report.ts";
import { endText, run } from "../../tasks/lib/run.ts";
import { assertClean, haveChromium, openReport, withBrowser } from "./browser.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

function sample(
  program: string,
  allocator: string,
  round: number,
  wall: number,
  rssKiB: number,
  more: Partial<ProgramSample> = {},
): ProgramSample {
  return {
    program,
    allocator,
    round,
    ok: true,
    exit: 0,
    signal: null,
    timed_out: false,
    stderr_tail: "",
    wall_s: wall,
    user_s: wall * 0.9,
    sys_s: wall * 0.1,
    maxrss_kib: rssKiB,
    minflt: 100,
    majflt: 0,
    rss: {
      sample_ms: 10,
      peak_kib: rssKiB,
      mib_s: rssKiB / 1024 * wall / 2,
      curve: [[0, 1000], [wall / 2, rssKiB], [wall, rssKiB / 2]],
    },
    hakmem: null,
    stdout_sha256: "a".repeat(64),
    stdout_bytes: 10,
    output: null,
    files: {
      stdout: `programs/${program}.${allocator}.r${round}.stdout`,
      stderr: "programs/x.err",
    },
    ...more,
  };
}

/** Two rounds of python3 and sqlite3 under glibc, hakmem-balanced and mimalloc3: hakmem slower
 * than mimalloc3 on sqlite3 in both rounds (1.2×, 1.3×), bigger than glibc on python3 in one
 * round only; ruby unavailable. */
function syntheticRecord(): ProgramsRecord {
  const info = (id: string, available = true) => ({
    id,
    title: `${id}: a program`,
    description: "synthetic",
    argv: [`/usr/bin/${id}`, "input"],
    env: {},
    package: id,
    version: available ? "1.0" : null,
    scale: 0.1,
    input: `bench/programs/${id}`,
    available,
    note: available ? null : "/usr/bin/ruby is not installed and could not be installed: no apt",
  });
  const samples: ProgramSample[] = [];
  for (const round of [0, 1]) {
    samples.push(
      sample("python3", "glibc", round, 1.0, 20_000),
      sample("python3", "hakmem-balanced", round, 0.8, round === 0 ? 22_000 : 19_000),
      sample("python3", "mimalloc3", round, 0.9, 21_000),
      sample("sqlite3", "glibc", round, 2.0, 50_000),
      sample("sqlite3", "hakmem-balanced", round, round === 0 ? 2.4 : 2.6, 40_000),
      sample("sqlite3", "mimalloc3", round, 2.0, 45_000),
    );
  }
  return {
    version: 1,
    mode: "bench",
    repeat: 2,
    check_output: true,
    cwd: null,
    programs: [info("python3"), info("sqlite3"), info("ruby", false)],
    samples,
  };
}

Deno.test("programs: the record's schema is checked and versioned", () => {
  const rec = syntheticRecord();
  assert.deepEqual(validatePrograms(rec), []);
  assert.match(validatePrograms({ ...rec, version: 2 })[0], /version 2: written by a newer/);
  const bad = structuredClone(rec);
  bad.programs[2].note = null;
  bad.samples[0].program = "perl";
  bad.samples[1].output = "maybe" as never;
  bad.samples[2].files = { stdout: "../escape", stderr: "x" };
  const errs = validatePrograms(bad).join("\n");
  assert.match(errs, /^programs\.programs\[2\]\.note: the reason it is unavailable, got null$/m);
  assert.match(
    errs,
    /^programs\.samples\[0\]\.program: one of the programs \(python3, sqlite3, ruby\), got "perl"$/m,
  );
  assert.match(errs, /^programs\.samples\[1\]\.output: expected one of .*, got "maybe"$/m);
  assert.match(errs, /^programs\.samples\[2\]\.files\.stdout: a relative path .*"\.\.\/escape"$/m);
  // validateResults checks the record inside a results.json
  const results = { programs: bad } as unknown;
  assert.ok(validateResults(results).some((e) => e.startsWith("programs.")));
});

Deno.test("programs: ratios per round with their spread, headlines lead with the losses", () => {
  const rec = syntheticRecord();
  const s = summarizePrograms(rec, ["glibc", "hakmem-balanced", "mimalloc3"]);
  const row = s.rows.find((r) => r.program === "sqlite3" && r.allocator === "hakmem-balanced")!;
  const t = row.ratios.mimalloc3.time;
  assert.deepEqual([t.min, t.max, t.rounds], [1.2, 1.3, 2]);
  assert.ok(Math.abs(t.median! - 1.25) < 1e-9);
  const rss = s.rows.find((r) => r.program === "python3" && r.allocator === "hakmem-balanced")!
    .ratios.glibc.rss;
  assert.deepEqual([rss.min, rss.max], [0.95, 1.1]);
  const lines = headlines(s, rec.repeat);
  assert.match(lines[0], /^where hakmem loses \(\d+\):$/);
  // the worst loss against a peer comes first, and it held in every round
  assert.match(
    lines[1],
    /hakmem-balanced is slower than mimalloc3 on sqlite3: 1\.25× its time \(in every one of 2 rounds\)/,
  );
  // losses to glibc come after the losses to peers
  const firstGlibc = lines.findIndex((l) => l.includes("than glibc"));
  const lastPeer = lines.findLastIndex((l) =>
    /slower than mimalloc3|more memory than mimalloc3/.test(l)
  );
  assert.ok(firstGlibc > lastPeer, lines.join("\n"));
  assert.ok(lines.some((l) => /more memory than glibc on python3: .*not in every round/.test(l)));
  assert.ok(lines.some((l) => /^where hakmem wins/.test(l)));
  assert.ok(
    lines.some((l) => /^hakmem-balanced by time: 1st of 3 on python3, 3rd of 3 on sqlite3/.test(l)),
  );
  // one round is an indication
  const one = { ...rec, repeat: 1, samples: rec.samples.filter((x) => x.round === 0) };
  const l1 = headlines(summarizePrograms(one), 1);
  assert.ok(l1.some((l) => l.includes("(one round: an indication)")));
  assert.ok(l1.at(-1)!.startsWith("one round only"));
  // the printed summary: headlines first, the table, the unavailable program with its reason
  const text = programsSummaryText(rec, ["glibc", "hakmem-balanced", "mimalloc3"]);
  assert.ok(text.startsWith("where hakmem loses"), text);
  assert.match(text, /sqlite3 +hakmem-balanced .* 1\.25× \(1\.20–1\.30\)|1\.25×/);
  assert.match(text, /program not run: ruby: \/usr\/bin\/ruby is not installed/);
});

Deno.test("programs: which programs a run picks; an unknown one is a usage error", () => {
  const usage = (m: string) => new Error(m);
  assert.deepEqual(programIdsOf({ profile: "full" }, false, 3, usage), [...PROGRAM_IDS]);
  assert.deepEqual(programIdsOf({ profile: "quick" }, false, 3, usage), []);
  assert.deepEqual(programIdsOf({ profile: "full", benches: ["larson"] }, false, 3, usage), []);
  assert.deepEqual(programIdsOf({ profile: "full" }, true, 3, usage), []);
  assert.deepEqual(programIdsOf({ profile: "quick", programs: true }, false, 3, usage), [
    ...PROGRAM_IDS,
  ]);
  assert.deepEqual(
    programIdsOf({ profile: "quick", programs: ["sqlite3", "python3"] }, false, 3, usage),
    ["sqlite3", "python3"],
  );
  assert.deepEqual(programIdsOf({ profile: "full", programs: true }, false, 0, usage), []);
  assert.throws(
    () => programIdsOf({ profile: "quick", programs: ["perl"] }, false, 1, usage),
    /unknown program: perl; valid: python3, sqlite3, z3, ruby, g\+\+/,
  );
});

Deno.test("programs: outputs are checked against glibc's run of the same round", () => {
  const ss = [
    sample("p", "glibc", 0, 1, 1),
    sample("p", "hakmem-balanced", 0, 1, 1),
    sample("p", "mimalloc3", 0, 1, 1, { stdout_sha256: "b".repeat(64) }),
    sample("p", "glibc", 1, 1, 1),
    sample("p", "hakmem-balanced", 1, 1, 1, { exit: 3, ok: false }),
    sample("p", "jemalloc", 2, 1, 1),
  ];
  markOutputs(ss);
  assert.deepEqual(ss.map((s) => s.output), [null, "same", "differs", null, "differs", null]);
  const rec = { ...syntheticRecord(), samples: ss };
  const problems = programProblems(rec, false);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /p under hakmem-balanced, round 1 failed/);
  assert.ok(programProblems(rec, true).some((p) => /CI=true: program ruby unavailable/.test(p)));
});

Deno.test("programs: the z3 problem is deterministic and scales", () => {
  assert.equal(z3Problem(1), z3Problem(1));
  const count = (t: string) => t.split("(check-sat)").length - 1;
  assert.equal(count(z3Problem(1)), 26);
  assert.equal(count(z3Problem(0.1)), 3);
});

Deno.test({
  name: "programs: a program that is not installed and cannot be installed has the reason",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const why = await ensureProgram({
      id: "nothing",
      deb: "hakmem-no-such-package",
      binary: "/nonexistent/hakmem-no-such-program",
    });
    assert.ok(why !== null);
    assert.match(why, /^\/nonexistent\/hakmem-no-such-program is not installed and could not be/);
    assert.match(why, /hakmem-no-such-package/);
    assert.equal(await ensureProgram({ id: "sh", deb: "dash", binary: "/bin/sh" }), null);
  },
});

Deno.test({
  name: "hakrun --tree: the RSS samples sum the program's process tree",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!BENCH_HOST) return skipOrFail(t, "the bench runs on x86_64 Linux only");
    const hakrun = (await buildAllBench([])).get("hakrun")!;
    const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-tree-" });
    try {
      // the shell waits for a child that holds 64 MiB: only --tree sees it
      const script = "python3 -c 'b = bytearray(64 << 20); import time; time.sleep(0.4)'; true";
      const peak = async (tree: boolean, seq: number) => {
        const raw = await runRaw({
          hakrun,
          program: "/bin/sh",
          args: ["-c", script],
          allocator: bareAllocator("glibc", "glibc", null),
          timeoutS: 30,
          tmpDir,
          seq,
          trace: null,
          tree,
        });
        assert.equal(raw.ru?.exit, 0, raw.stderr);
        return raw.ru!.rss_peak_kib as number;
      };
      const [alone, tree] = [await peak(false, 0), await peak(true, 1)];
      assert.ok(tree > 64 * 1024, `tree peak ${tree} KiB`);
      assert.ok(alone < 16 * 1024, `the shell alone: ${alone} KiB`);
    } finally {
      await Deno.remove(tmpDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bench --programs python3,sqlite3 (quick; glibc, hakmem, mimalloc3): runs, results, report",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!BENCH_HOST) return skipOrFail(t, "the bench runs on x86_64 Linux only");
    for (const p of ["/usr/bin/python3", "/usr/bin/sqlite3"]) {
      if (!(await probeOk(p))) {
        return skipOrFail(t, `${p} is missing (tasks/test/test.ts installs it)`);
      }
    }
    const out = await Deno.makeTempDir({ prefix: "hakmem-programs-" });
    try {
      const allocs = ["glibc", "hakmem-balanced", "mimalloc3"];
      const res = await run(
        Deno.execPath(),
        [
          "task",
          "bench",
          "--profile",
          "quick",
          "--programs",
          "python3,sqlite3",
          "--allocators",
          "glibc,hakmem,mimalloc3",
          "--repeat",
          "1",
          "--out",
          out,
        ],
        { timeoutMs: 300_000 },
      );
      const stdout = res.stdout;
      const log = `${endText(res)}\n${stdout}\n${res.stderr.slice(-4000)}`;
      assert.equal(res.code, 0, log);
      const raw: unknown = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
      assert.deepEqual(validateResults(raw), []);
      const results = raw as Results;
      assert.deepEqual(results.benches, [], "--programs alone runs no bench");
      const rec = results.programs!;
      assert.deepEqual(rec.programs.map((p) => [p.id, p.available]), [
        ["python3", true],
        ["sqlite3", true],
      ]);
      assert.ok(rec.programs.every((p) => p.version && p.package && p.scale === 0.1));
      assert.deepEqual(rec.programs[0].env.PYTHONMALLOC, "malloc");
      for (const p of ["python3", "sqlite3"]) {
        for (const a of allocs) {
          const s = rec.samples.filter((x) => x.program === p && x.allocator === a);
          assert.equal(s.length, 1, `${p} under ${a}`);
          const x = s[0];
          assert.ok(x.ok, `${p} under ${a}: ${x.stderr_tail}\n${log}`);
          assert.ok(x.wall_s > 0 && x.maxrss_kib > 0 && x.rss && x.rss.curve.length > 0);
          assert.equal(x.output, a === "glibc" ? null : "same", `${p} under ${a}: output`);
          assert.ok(x.stdout_bytes > 0);
          const kept = await Deno.readTextFile(join(out, x.files!.stdout));
          assert.equal(new TextEncoder().encode(kept).length, x.stdout_bytes);
          if (a.startsWith("hakmem")) assert.ok(x.hakmem !== null, "hakmem's statistics");
        }
      }
      // the printed summary: the headlines, then a row per program and allocator
      assert.match(stdout, /^where hakmem (loses|lost nowhere)/m);
      assert.match(stdout, /^python3 +hakmem-balanced +[\d.]+ +[\d.]+M/m);
      assert.match(stdout, /^sqlite3 +mimalloc3 /m);
      const html = join(out, "index.html");
      if (!(await haveChromium(t))) return;
      const synth = join(out, "synthetic");
      await Deno.mkdir(synth);
      await Deno.writeTextFile(
        join(synth, "results.json"),
        JSON.stringify({ ...results, programs: failingRecord() }),
      );
      await withBrowser(async (ctx) => {
        const r = await openReport(ctx, html, "/tmp/report_programs.png");
        assertClean(r, "programs report");
        // 2 ratio charts and a curve per program
        assert.equal(r.plotsDeclared, 4);
        assert.equal(r.plotsDrawn, 4);
        for (const text of ["Programs", "Headlines", "python3: JSON and dicts", "sqlite3"]) {
          assert.ok(r.text.includes(text), `page shows ${text}`);
        }
        const s = await openReport(ctx, await writeReport(synth), "/tmp/report_programs_2.png");
        assertClean(s, "programs report with failures");
        assert.ok(s.text.includes("unavailable: /usr/bin/ruby is not installed"), s.text);
        assert.ok(s.text.includes("sqlite3 under hakmem-balanced, round 1: failed"));
        assert.ok(s.text.includes("python3 under mimalloc3, round 0: output differs"));
        assert.ok(s.text.includes("where hakmem loses"));
      });
    } finally {
      await removeIfPresent(out);
    }
  },
});

/** The synthetic record with a failed hakmem run and a differing output. */
function failingRecord(): ProgramsRecord {
  const rec = syntheticRecord();
  for (const s of rec.samples) {
    if (s.program === "sqlite3" && s.allocator === "hakmem-balanced" && s.round === 1) {
      Object.assign(s, { ok: false, exit: null, signal: 11, stderr_tail: "[programs] killed" });
    }
    if (s.program === "python3" && s.allocator === "mimalloc3" && s.round === 0) {
      s.output = "differs";
    }
    if (s.allocator !== "glibc" && s.output === null && s.ok) s.output = "same";
  }
  return rec;
}
