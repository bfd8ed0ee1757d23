/// <reference lib="dom" />
// The Learning section: what ACE and the ELO selector did in the runs that wrote a trace
// (HAKMEM_ACE_TRACE, parsed by reports/trace/trace.ts at report-build time): a summary row per
// trace and, for the trace picked, its learning curves (learning_charts.ts): the knob values with
// the decisions and phase changes, the reward, the RSS next to balanced's in the same round, the
// ELO ratings, the scavenges and the metrics ACE observed, with guard trips marked.

import type { TraceEntry, TraceRef } from "../schema.ts";
import type { Trace, TraceSummary } from "../trace/trace.ts";
import { MAX_TRACE_POINTS } from "../trace/compact.ts";
import {
  colourOf,
  fmtBytes,
  fmtInt,
  fmtNum,
  h,
  headRow,
  purgeCharts,
  section,
  settle,
} from "../ui.ts";
import { type RunView, samplesOf } from "../view.ts";
import { showError } from "../errors.ts";
import {
  eloChart,
  knobChart,
  metricsChart,
  rewardChart,
  rssChart,
  type RssCurve,
  scavengeChart,
  type TraceCtx,
  traceMarks,
  traceSpan,
  workloadPhases,
} from "./learning_charts.ts";

type ParsedEntry = TraceEntry & { trace: Trace };

function fmtSec(t: number | null): string {
  return t === null ? "—" : `${t.toFixed(1)} s`;
}

function traceName(e: TraceRef): string {
  return `${e.bench} × ${e.allocator}, round ${e.round}`;
}

/** The lines of a trace that were skipped, in words. */
function skippedText(s: TraceSummary): string {
  const parts = Object.entries(s.unknownKinds).map(([k, n]) => `${n} of unknown kind “${k}”`);
  if (s.malformed > 0) {
    parts.unshift(`${s.malformed} malformed (first: line ${s.firstMalformedLine})`);
  }
  return parts.length > 0 ? parts.join(", ") : "none";
}

export function learningSection(v: RunView, traces: TraceEntry[]): HTMLElement {
  const sec = section(
    "Learning",
    "What ACE (the adaptive control engine) and the ELO selector did during the runs that wrote ",
    "a trace (HAKMEM_ACE_TRACE). The table sums up every trace (settled: the longest time from a ",
    "phase change, or the start, to the last decision before the next one); pick one below for ",
    "its learning curves: the knob values over time with ACE's decisions, the reward of its fast ",
    "and slow loops, the RSS (hakrun's samples, next to balanced's in the same round), the ELO ",
    "ratings of the large-block thresholds with their state shaded (blue learn, green frozen, ",
    "orange canary), the budgeted scavenges and the metrics ACE observed. On every chart: phase ",
    "changes ACE detected as purple lines, guard trips (ACE backs off on its defaults) in ",
    "red, and the phases a program reports (phases) shaded.",
  );
  const rank = (xs: string[], x: string) => {
    const i = xs.indexOf(x);
    return i < 0 ? xs.length : i;
  };
  const entries = [...traces].sort((a, b) =>
    rank(v.summary.benches, a.bench) - rank(v.summary.benches, b.bench) ||
    rank(v.summary.allocators, a.allocator) - rank(v.summary.allocators, b.allocator) ||
    a.round - b.round
  );
  for (const e of entries) {
    if (e.note !== null) sec.append(h("div", { class: "notice" }, `${traceName(e)}: ${e.note}`));
  }
  const parsed = entries.filter((e): e is ParsedEntry => e.trace !== null);
  if (parsed.length === 0) {
    sec.append(h("p", null, "No trace could be read."));
    return sec;
  }
  sec.append(h(
    "table",
    { class: "grid traces" },
    headRow([
      "bench",
      "allocator",
      "round",
      "lines",
      "skipped lines",
      "decisions",
      "per minute",
      "last decision",
      "phase changes",
      "settled",
      "ELO frozen at",
      "ELO at the end",
      "scavenged",
      "guard trips",
    ]),
    parsed.map((e) => {
      const s = e.trace.summary;
      return h(
        "tr",
        null,
        h("td", null, e.bench),
        h("td", null, e.allocator),
        h("td", { class: "num" }, e.round),
        h("td", { class: "num" }, fmtInt(s.lines)),
        h("td", { class: s.malformed > 0 ? "partial" : "" }, skippedText(s)),
        h("td", { class: "num" }, fmtInt(s.decisions)),
        h("td", { class: "num" }, fmtNum(s.decisionsPerMin)),
        h("td", { class: "num" }, fmtSec(s.lastDecisionT)),
        h("td", { class: "num" }, fmtInt(s.phaseChanges)),
        h("td", { class: "num" }, fmtSec(s.settleS)),
        h("td", { class: "num" }, s.eloFinalState === null ? "—" : fmtSec(s.eloFrozenT)),
        h(
          "td",
          null,
          s.eloFinalState === null ? "—" : `${s.eloFinalState}, ${fmtBytes(s.eloFinalBest)}`,
        ),
        h(
          "td",
          { class: "num" },
          `${fmtBytes(s.scavengedBytes)} in ${s.scavenges}` +
            (s.scavengesOverBudget > 0 ? ` (${s.scavengesOverBudget} over budget)` : ""),
        ),
        h(
          "td",
          { class: e.trace.guards.length > 0 ? "partial" : "" },
          e.trace.guards.length > 0 ? e.trace.guards.map((g) => g.guard).join(", ") : "none",
        ),
      );
    }),
  ));
  const select = h(
    "select",
    { id: "trace-select" },
    parsed.map((e, i) => h("option", { value: String(i) }, traceName(e))),
  ) as HTMLSelectElement;
  const block = h("div", { class: "trace" });
  sec.append(h("p", null, h("label", { for: "trace-select" }, "Trace: "), select), block);
  traceBlock(block, v, parsed[0]);
  select.addEventListener(
    "change",
    () => void redrawTrace(block, v, parsed[Number(select.value)]),
  );
  return sec;
}

/** Replaces the charts of the trace shown in `block` by those of `e`. */
async function redrawTrace(block: HTMLElement, v: RunView, e: ParsedEntry): Promise<void> {
  document.body.dataset.render = "drawing";
  try {
    purgeCharts(block);
    block.replaceChildren();
    traceBlock(block, v, e);
    await settle();
  } catch (err) {
    showError(err);
  }
}

/** hakrun's RSS curve of the traced run and, to compare, of the default mode's run of the same
 * bench and round (the oracle's balanced). */
function rssCurves(v: RunView, e: ParsedEntry): RssCurve[] {
  const out: RssCurve[] = [];
  const add = (alloc: string, dash?: string) => {
    const s = samplesOf(v.results, e.bench, alloc).find((x) => x.round === e.round && x.rss);
    if (!s || !s.rss || s.rss.curve.length === 0) return;
    out.push({
      name: `${alloc} (hakrun)`,
      curve: s.rss.curve,
      colour: colourOf(alloc, v.summary.allocators),
      dash,
    });
  };
  add(e.allocator);
  const other = v.results.oracle?.balanced;
  if (other && other !== e.allocator) add(other, "dash");
  return out;
}

/** The curves and tables of one trace. */
function traceBlock(block: HTMLElement, v: RunView, e: ParsedEntry): void {
  const tr = e.trace;
  const s = tr.summary;
  const st = tr.start;
  const run = samplesOf(v.results, e.bench, e.allocator).find((x) => x.round === e.round);
  const phases = workloadPhases(run?.result);
  block.append(
    h("h3", null, traceName(e)),
    h(
      "p",
      { class: "hint" },
      `${e.file}: `,
      st
        ? `pid ${st.pid ?? "?"}, mode ${st.mode ?? "?"}, fast loop ${st.fastMs ?? "?"} ms, ` +
          `slow loop ${st.slowMs ?? "?"} ms; `
        : "no start line; ",
      `${fmtSec(s.startT)} to ${fmtSec(s.endT)} after ACE started`,
      s.phaseChanges > 0 ? `; ${s.phaseChanges} phase change(s) detected` : "",
      s.downsampled ? `; long series thinned to ${MAX_TRACE_POINTS} points` : "",
      ".",
    ),
  );
  const [x0, x1] = traceSpan(s, phases);
  const c: TraceCtx = {
    tr,
    // the same time range on every chart of the trace, a little wider on the right so that
    // the last events show
    xaxis: () => ({
      title: { text: "seconds since the start" },
      automargin: true,
      ...(x1 > x0 ? { range: [x0, x1 + (x1 - x0) * 0.02] } : {}),
    }),
    marks: traceMarks(tr),
    phases,
  };
  const missing: string[] = [];
  if (tr.knobTracks.length > 0 || tr.knobs.length > 0) knobChart(block, c);
  else missing.push("knob values (no tick with knobs, no decision)");
  const grid = h("div", { class: "charts" });
  block.append(grid);
  if (!rewardChart(grid, c)) missing.push("reward (no tick with a reward)");
  if (!rssChart(grid, c, rssCurves(v, e))) missing.push("RSS (no sample, no tick with rss_mb)");
  if (!eloChart(grid, c)) missing.push("ELO ratings (no elo line with ratings)");
  if (!scavengeChart(grid, c)) missing.push("scavenges (none)");
  if (!metricsChart(block, c)) missing.push("metrics (no tick with a metric)");
  if (missing.length > 0) {
    block.append(h("p", { class: "hint" }, `Not drawn: ${missing.join("; ")}.`));
  }
  block.append(h("div", { class: "cols" }, knobTable(tr), guardTable(tr)));
}

/** Per knob: the decisions, the first and last value, when it last changed. */
function knobTable(tr: Trace): HTMLElement {
  if (tr.knobs.length === 0) return h("p", null, "No decision in this trace.");
  return h(
    "div",
    null,
    h("h3", null, "Convergence of the knobs"),
    h(
      "table",
      { class: "grid knobs" },
      headRow(["knob", "decisions", "first → last value", "last decision", "rules"]),
      tr.knobs.map((k) =>
        h(
          "tr",
          null,
          h("td", { class: "mono" }, k.label),
          h("td", { class: "num" }, k.decisions),
          h("td", { class: "num" }, `${fmtNum(k.v[0])} → ${fmtNum(k.v[k.v.length - 1])}`),
          h("td", { class: "num" }, fmtSec(k.lastDecisionT)),
          h("td", null, [...new Set(k.rule.filter((r) => r !== "initial"))].join(", ")),
        )
      ),
    ),
  );
}

function guardTable(tr: Trace): HTMLElement {
  if (tr.guards.length === 0) return h("p", null, "No guard tripped.");
  return h(
    "div",
    null,
    h("h3", null, "Guard trips (ACE backed off on its defaults)"),
    h(
      "table",
      { class: "grid guards" },
      headRow(["at", "guard", "value", "limit"]),
      tr.guards.map((g) =>
        h(
          "tr",
          { class: "failed" },
          h("td", { class: "num" }, fmtSec(g.t)),
          h("td", { class: "mono" }, g.guard),
          h("td", { class: "num" }, fmtNum(g.value)),
          h("td", { class: "num" }, fmtNum(g.limit)),
        )
      ),
    ),
  );
}
