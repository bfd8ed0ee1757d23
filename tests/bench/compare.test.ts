/** `deno task compare -- CMD ARGS…`: each bad input is one line and exit 2 (no command, a command
 * that is not found, one that fails under glibc); a python3 command under glibc and hakmem over
 * two rounds prints the headlines and the table with ratios to glibc and their spread, keeps
 * every run's stdout and stderr, writes a valid results.json and a report that renders in
 * headless Chromium; with --check-output a run whose output differs from glibc's is marked and
 * the command exits 1. Timings are never asserted. */
import assert from "node:assert/strict";
import { BENCH_HOST, skipOrFail } from "../../tasks/lib/ci.ts";
import { join } from "node:path";
import { type Results, validateResults } from "../../tasks/bench/stats.ts";
import { findCommand, shellLine } from "../../tasks/programs/compare.ts";
import { run } from "../../tasks/lib/run.ts";
import { roundOrder } from "../../tasks/bench/run_order.ts";
import { ROOT } from "../../tasks/lib/targets.ts";
import { assertClean, haveChromium, openReport, withBrowser } from "./browser.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const LIMIT_MS = 300_000;

function compare(args: string[], cwd = ROOT) {
  // deno task keeps an INIT_CWD it inherits (`deno task test` sets one): the child's must be cwd
  return run(Deno.execPath(), ["task", "--cwd", ROOT, "compare", ...args], {
    cwd,
    env: { INIT_CWD: undefined },
    timeoutMs: LIMIT_MS,
  });
}

/** The lines of stderr that are not deno task's own "Task compare …" line. */
function errorLines(stderr: string): string[] {
  // deno-lint-ignore no-control-regex
  return stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("Task compare") && !l.startsWith("["));
}

Deno.test("compare: finding the command and quoting it back", async () => {
  assert.match((await findCommand("sh", "/"))!, /^\/.*\/sh$/);
  assert.equal(await findCommand("/bin/sh", "/tmp"), "/bin/sh");
  assert.equal(await findCommand("hakmem-no-such-command", "/"), null);
  assert.equal(await findCommand("./nope", "/tmp"), null);
  assert.equal(await findCommand("", "/"), null);
  assert.equal(shellLine(["python3", "-c", "print('x y')"]), `python3 -c 'print('\\''x y'\\'')'`);
});

Deno.test({
  name: "compare: no command, a command not found, one failing under glibc: one line, exit 2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cases: [string[], RegExp][] = [
      [[], /^error: compare: no command given; usage: deno task compare \[options\] -- CMD ARGS…$/],
      [
        ["--", "hakmem-no-such-command", "x"],
        /^error: compare: command not found: hakmem-no-such-command \(not on PATH\)$/,
      ],
      [
        ["--", "./no/such/file"],
        /^error: compare: command not found: \.\/no\/such\/file \(no executable file at .*\/no\/such\/file\)$/,
      ],
      [
        ["--allocators", "hakmem", "--", "sh", "-c", "echo broken >&2; exit 3"],
        /^error: compare: the command fails under glibc itself \(exit 3: broken\): sh -c 'echo broken >&2; exit 3'$/,
      ],
      [
        ["--allocators", "ptmalloc", "--", "true"],
        /^error: unknown allocator: ptmalloc; valid: glibc, hakmem/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = await compare(args);
      const lines = errorLines(r.stderr);
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.equal(lines.length, 1, `${args.join(" ")}: one line:\n${lines.join("\n")}`);
      assert.match(lines[0], want);
    }
  },
});

Deno.test({
  name: "compare -- python3 (glibc, hakmem, 2 rounds): table, kept outputs, results, report",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!BENCH_HOST) return skipOrFail(t, "the bench runs on x86_64 Linux only");
    const out = await Deno.makeTempDir({ prefix: "hakmem-compare-" });
    try {
      const code = "d = {str(i): list(range(i % 40)) for i in range(60000)}; print(len(d))";
      const r = await compare([
        "--allocators",
        "hakmem",
        "--repeat",
        "2",
        "--check-output",
        "--out",
        out,
        "--",
        "/usr/bin/python3",
        "-c",
        code,
      ], "/tmp");
      const log = `${r.stdout}\n${r.stderr.slice(-3000)}`;
      assert.equal(r.code, 0, log);
      // the headlines first, then the table: time, peak RSS, user and sys CPU ÷ glibc's
      const lines = r.stdout.split("\n");
      assert.match(lines[0], /^\/usr\/bin\/python3 -c 'd = \{str\(i\)/);
      assert.match(r.stdout, /^where hakmem (loses|lost nowhere)/m);
      // "hakmem" is the default mode and the hardened one beside it (HAKMEM_HARDEN=1)
      assert.match(r.stdout, /^hakmem-balanced by time: (1st|2nd|3rd) of 3 on command$/m);
      assert.match(r.stdout, /^hakmem-harden by time: (1st|2nd|3rd) of 3 on command$/m);
      assert.match(r.stdout, /time ×glibc +peak RSS ×glibc +user CPU ×glibc +sys CPU ×glibc/);
      assert.match(
        r.stdout,
        /^hakmem-balanced +[\d.]+ +[\d.]+M +[\d.]+ +[\d.]+ +[\d.]+× \([\d.]+–[\d.]+\) +[\d.]+× \([\d.]+–[\d.]+\)/m,
      );
      assert.match(r.stdout, /output same as glibc's/);
      const raw: unknown = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
      assert.deepEqual(validateResults(raw), []);
      const rec = (raw as Results).programs!;
      assert.equal(rec.mode, "compare");
      assert.equal(rec.cwd, "/tmp", "the command runs where deno task was started");
      assert.deepEqual(rec.programs[0].argv, ["/usr/bin/python3", "-c", code]);
      assert.equal(rec.samples.length, 6); // glibc, hakmem-balanced, hakmem-harden; 2 rounds
      for (const s of rec.samples) {
        assert.ok(s.ok && s.exit === 0, `${s.allocator} r${s.round}: ${s.stderr_tail}`);
        assert.equal(await Deno.readTextFile(join(out, s.files!.stdout)), "60000\n");
        assert.equal(s.output, s.allocator === "glibc" ? null : "same");
      }
      // every allocator once in each round, in the round's seeded order
      const order = (round: number) =>
        rec.samples.filter((s) => s.round === round).map((s) => s.allocator);
      for (const round of [0, 1]) {
        const allocators = ["glibc", "hakmem-balanced", "hakmem-harden"];
        assert.deepEqual(order(round), roundOrder(allocators, 42, round, 0));
      }
      if (!(await haveChromium(t))) return;
      await withBrowser(async (ctx) => {
        const p = await openReport(ctx, join(out, "index.html"), "/tmp/report_command.png");
        assertClean(p, "compare report");
        // time and peak RSS ratios, the RSS curves
        assert.equal(p.plotsDeclared, 3);
        assert.equal(p.plotsDrawn, 3);
        for (const text of ["Does hakmem help this program?", "Headlines", "Every run", "stdout"]) {
          assert.ok(p.text.includes(text), `page shows ${text}`);
        }
      });
    } finally {
      await removeIfPresent(out);
    }
  },
});

Deno.test({
  name: "compare --check-output: a run whose output differs from glibc's is marked, exit 1",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!BENCH_HOST) return skipOrFail(t, "the bench runs on x86_64 Linux only");
    const out = await Deno.makeTempDir({ prefix: "hakmem-compare-" });
    try {
      // the preloaded library's path is in the output of every run but glibc's
      const r = await compare([
        "--allocators",
        "hakmem",
        "--repeat",
        "1",
        "--check-output",
        "--out",
        out,
        "--",
        "sh",
        "-c",
        'echo "preload: $LD_PRELOAD"',
      ]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /command under hakmem-balanced, round 0: output differs from glibc's/);
      assert.match(r.stdout, /output differs from glibc's in 1/);
      assert.match(r.stdout, /one round only: every ratio is an indication/);
      const rec = (JSON.parse(await Deno.readTextFile(join(out, "results.json"))) as Results)
        .programs!;
      const hak = rec.samples.find((s) => s.allocator === "hakmem-balanced")!;
      assert.equal(hak.output, "differs");
      assert.match(await Deno.readTextFile(join(out, hak.files!.stdout)), /libhakmem\.so/);
    } finally {
      await removeIfPresent(out);
    }
  },
});
