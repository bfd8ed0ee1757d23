// The bench report in a real browser: build index.html from a synthetic run (and a comparison of
// two runs), open it from file:// in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) with every network request refused, and check that it renders: no console
// error or page error, the expected number of plotly charts drawn (an SVG with bars or lines
// inside each), the failed cell and the unavailable peer shown, every peer's version and source,
// the memory section (RSS curves, memory_return's phases) and the instruction counts (a failed
// one with its reason); a run with a feature ladder of
// hakmem variants and ACE traces draws the ladder and the Learning section (the knobs over time, the
// RSS), also after another trace is picked; an oracle run draws its verdict and the speed–memory
// trade per bench. Screenshots: /tmp/report.png, /tmp/report_compare.png,
// /tmp/report_learning.png, /tmp/report_oracle.png.

import assert from "node:assert/strict";
import { join } from "node:path";
import { IS_CI } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import {
  assertClean,
  type Browser,
  haveChromium,
  inspect,
  openPage,
  openReport,
  withBrowser,
} from "./browser.ts";
import { ROOT } from "../../tasks/lib/targets.ts";
import { writeCompareReport, writeReport } from "../../reports/build_report.ts";
import {
  BASELINE_NOTE,
  FAILED_STDERR,
  INSTRUCTION_FAILURE,
  LADDER,
  MIMALLOC_SOURCE,
  PARITY_WHY,
  SYNTHETIC_COMPARE_PLOTS,
  SYNTHETIC_ORACLE_RUN_PLOTS,
  SYNTHETIC_RUN_PLOTS,
  SYNTHETIC_TRACES_RUN_PLOTS,
  TCMALLOC_NOTE,
  writeSyntheticRun,
} from "./fixtures/synthetic_results.ts";
import { exists, removeIfPresent } from "../../tasks/lib/files.ts";

Deno.test({
  name: "bench report renders in Chromium (run and compare)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    if (!(await haveChromium(t))) return;
    const tmp = await Deno.makeTempDir({ prefix: "hakmem-report-" });
    try {
      const runA = await writeSyntheticRun(join(tmp, "runs", "20260102-000001"), { seed: 1 });
      const runB = await writeSyntheticRun(join(tmp, "runs", "20260102-000002"), {
        seed: 2,
        hakmemSpeedup: 1.25,
      });
      const runC = await writeSyntheticRun(join(tmp, "runs", "20260102-000003"), {
        seed: 3,
        withoutBaseline: true,
      });
      const runD = await writeSyntheticRun(join(tmp, "runs", "20260102-000004"), {
        seed: 4,
        traces: true,
      });
      const runE = await writeSyntheticRun(join(tmp, "runs", "20260102-000005"), {
        seed: 5,
        traces: true,
        oracle: true,
      });
      const html = await writeReport(runA);
      assert.deepEqual(html, join(runA, "index.html"));
      const page = await Deno.readTextFile(html);
      assert(!/<script[^>]+src="https?:/i.test(page), "no external script");
      assert(!/<link[^>]+href="https?:/i.test(page), "no external stylesheet");
      const cmp = await writeCompareReport(runA, runB, join(tmp, "compare"));

      await withBrowser(async (ctx) => {
        await t.step("run report", () => runReport(ctx, html));
        await t.step("compare report", () => compareReport(ctx, cmp));
        await t.step(
          "run report with a feature ladder and ACE traces",
          () => learningReport(ctx, runD),
        );
        await t.step(
          "oracle run: the verdict, the trade charts, learning curves",
          () => oracleReport(ctx, runE),
        );
        await t.step(
          "run report without the baseline (normalised to glibc)",
          () => glibcReport(ctx, runC),
        );
        // optional: the newest real run, when the bench has produced one on this machine
        const real = await newestRealRun();
        if (real && !IS_CI) {
          await t.step(`real run ${real}`, async () => {
            const out = await writeReport(real);
            const r = await openReport(ctx, out, "/tmp/report_real.png");
            assertClean(r, `report of ${real}`);
            assert.deepEqual(r.plotsDrawn, r.plotsDeclared, "every chart drawn");
          });
        }
      });
    } finally {
      await removeIfPresent(tmp);
    }
  },
});

/** A report opened clean (no error, no network request) with the charts it should create, all
 * drawn (with an SVG). */
async function openDrawn(
  ctx: Browser,
  html: string,
  screenshot: string,
  what: string,
  plots: unknown,
): Promise<Awaited<ReturnType<typeof openReport>>> {
  const r = await openReport(ctx, html, screenshot);
  assertClean(r, what);
  assert.deepEqual(r.plotsDeclared, plots, "charts created");
  assert.deepEqual(r.plotsDrawn, plots, "charts drawn (with an SVG)");
  return r;
}

/** The run report: charts, the failed cell, the unavailable peer, memory, instructions and the
 * headlines. */
async function runReport(ctx: Browser, html: string): Promise<void> {
  const r = await openDrawn(ctx, html, "/tmp/report.png", "run report", SYNTHETIC_RUN_PLOTS);
  // the failed cell: all samples of fragment × hakmem-balanced died of SIGSEGV
  assert(r.text.includes("FAILED: killed by signal 11 (SIGSEGV)"), "failed cell in table");
  assert(r.text.includes(FAILED_STDERR), "stderr tail of the failed cell");
  assert(
    r.text.includes("fragment × hakmem-balanced, rounds 0, 1, 2 (3 of 3)"),
    "failure listing",
  );
  assert(r.text.includes("checksum mismatch"), "the single failed sample is listed");
  // the unavailable peer with its install line
  assert(r.text.includes("unavailable"), "unavailable peer");
  assert(r.text.includes(TCMALLOC_NOTE), "install note of the unavailable peer");
  for (
    const s of [
      "higher is better",
      "lower is better",
      "tiny hit rate",
      "mmap",
      // versions and sources of the peers
      "3.3.2",
      "5.3.1",
      MIMALLOC_SOURCE,
      // memory as a result
      "Memory relative to mimalloc3",
      "RSS over time, where memory moves",
      "after malloc_trim",
      "MiB·s",
      "best peer: mimalloc3",
      // instruction counts, the failed one with its reason
      "Instructions per operation",
      `FAILED: ${INSTRUCTION_FAILURE}`,
      "0.06 mispredicted", // mimalloc3's pair_32: the branches of the same runs
      "hakmem against each allocator",
      // the headlines: losses first, the rank, the targets, the peers' builds
      "Where hakmem-balanced loses",
      "workloads where hakmem is slower (worst first)",
      "Speed: hakmem-balanced is",
      "as fast as mimalloc3",
      "Peers as built",
      PARITY_WHY,
      "upstream build failed (jemalloc configure failed",
      "zig (fallback)",
      "Peer parity: upstream build against zig build",
      "1.12×",
    ]
  ) {
    assert(r.text.includes(s), `page mentions "${s}"`);
  }
}

/** The comparison of two runs. */
async function compareReport(ctx: Browser, cmp: string): Promise<void> {
  const r = await openDrawn(
    ctx,
    cmp,
    "/tmp/report_compare.png",
    "compare report",
    SYNTHETIC_COMPARE_PLOTS,
  );
  assert(r.text.includes("B vs A"), "compare section");
  assert(r.text.includes("better"), "a direction-aware verdict");
  assert(r.text.includes("FAILED: killed by signal 11"), "failed cell in the comparison");
}

/** A run with a feature ladder and ACE traces, also after another trace is picked. */
async function learningReport(ctx: Browser, runD: string): Promise<void> {
  const html = await writeReport(runD);
  const { page, errors, blocked } = await openPage(ctx, html);
  try {
    const r = { errors, blocked, ...await inspect(page, "/tmp/report_learning.png") };
    assertClean(r, "learning report");
    assert.deepEqual(r.plotsDeclared, SYNTHETIC_TRACES_RUN_PLOTS, "charts created");
    assert.deepEqual(r.plotsDrawn, SYNTHETIC_TRACES_RUN_PLOTS, "charts drawn");
    for (
      const s of [
        ...LADDER,
        "Feature ladder",
        "Learning",
        "Convergence of the knobs",
        "Knob values over time",
        "RSS over time",
        "phase changes",
        "given back by decay",
      ]
    ) {
      assert(r.text.includes(s), `page mentions "${s}"`);
    }
    // the first trace (larson, round 0) is shown; the summary covers every trace
    assert(r.text.includes("No guard tripped."), "no guard in larson round 0");
    assert(
      r.text.includes(
        "realloc_heavy × hakmem-learning, round 0: cannot read " +
          "traces/realloc_heavy.hakmem-learning.r0.jsonl",
      ),
      "the missing trace is a note",
    );
    assert(
      r.text.includes("7 malformed (first: line 6), 2 of unknown kind “hint”"),
      "skipped lines of the hand-written trace",
    );
    // pick the hand-written trace: its charts replace the first one's
    await page.selectOption("#trace-select", {
      label: "fragment × hakmem-learning, round 0",
    });
    const f = { errors, blocked, ...await inspect(page, "/tmp/report_learning_2.png") };
    assertClean(f, "learning report, hand-written trace");
    assert.deepEqual(f.plotsDeclared, SYNTHETIC_TRACES_RUN_PLOTS, "charts after picking");
    assert.deepEqual(
      f.plotsDrawn,
      SYNTHETIC_TRACES_RUN_PLOTS,
      "charts drawn after picking",
    );
    assert(f.text.includes("Guard trips"), "the guard trip is listed");
    assert(f.text.includes("tcache_cap[3]"), "the per-class knob");
    assert(!f.text.includes("No guard tripped."), "the first trace's tables are gone");
  } finally {
    await page.close();
  }
}

/** An oracle run: the verdict, the trade charts, the learning curves. */
async function oracleReport(ctx: Browser, runE: string): Promise<void> {
  const html = await writeReport(runE);
  const r = await openDrawn(
    ctx,
    html,
    "/tmp/report_oracle.png",
    "oracle report",
    SYNTHETIC_ORACLE_RUN_PLOTS,
  );
  for (
    const s of [
      "Oracle: learning against fixed configurations",
      "HAKMEM_DECAY_MS=50,5000",
      "best fixed by speed",
      "oracle-decay5000",
      "larson: the speed–memory trade",
      "The issue's targets",
      "Knob values over time",
    ]
  ) {
    assert(r.text.includes(s), `page mentions "${s}"`);
  }
  // the grid is no feature ladder
  assert(!r.text.includes("Feature ladder"), "no ladder section in an oracle run");
}

/** A run without the baseline: normalised to glibc. */
async function glibcReport(ctx: Browser, runC: string): Promise<void> {
  const r = await openReport(ctx, await writeReport(runC), "/tmp/report_glibc.png");
  assertClean(r, "run report without the baseline");
  assert.deepEqual(r.plotsDrawn, SYNTHETIC_RUN_PLOTS, "charts drawn (with an SVG)");
  assert(r.text.includes("relative to glibc"), "normalised to glibc");
  assert(r.text.includes(BASELINE_NOTE), "why the baseline is unavailable");
}

/** reports/runs/<newest>/ when it holds a results.json, else null. */
async function newestRealRun(): Promise<string | null> {
  const runs = join(ROOT, "reports", "runs");
  const dirs: string[] = [];
  if (!(await exists(runs))) return null; // no run on this machine
  for await (const e of Deno.readDir(runs)) if (e.isDirectory) dirs.push(e.name);
  for (const d of dirs.sort().reverse()) {
    if (await probeOk(join(runs, d, "results.json"))) return join(runs, d);
  }
  return null;
}
