/// <reference lib="dom" />
// The Learning section: what ACE and the ELO selector did in the runs that wrote a trace
// (HAKMEM_ACE_TRACE, parsed by reports/trace.ts at report-build time): a summary row per trace
// and, for the trace picked, the knob values, rewards, ELO ratings, scavenges and metrics over
// time, with guard trips marked.

import type { TraceEntry, TraceRef } from "./schema.ts";
import {
  MAX_TRACE_POINTS,
  METRIC_KEYS,
  type MetricKey,
  type Trace,
  type TraceSummary,
} from "./trace.ts";
import {
  chart,
  FAILED_COLOUR,
  fmtBytes,
  fmtInt,
  fmtNum,
  h,
  headRow,
  purgeCharts,
  section,
  settle,
  title,
} from "./ui.ts";
import type { RunView } from "./view.ts";
import { showError } from "./errors.ts";

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

const STATE_COLOURS: Record<string, string> = {
  learn: "#1f77b4",
  frozen: "#2ca02c",
  canary: "#ff7f0e",
};

const METRIC_LABELS: Record<MetricKey, string> = {
  ops_per_s: "ops/s",
  llc_miss_rate: "LLC miss rate",
  lock_wait_frac: "lock wait",
  remote_backlog: "remote backlog",
  p99_lat_ns: "p99 ns",
  ace_cpu_percent: "ACE CPU %",
  rss_mb: "RSS MiB",
  frag_ratio: "frag. ratio",
};

interface TimeMark {
  t: number;
  label: string;
  colour: string;
}

interface Overlay {
  shapes: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
}

/** Vertical dotted lines, labelled at the top, at the times of `marks` (guard trips) on a time
 * axis spanning the trace `s`; a label in the right half is written left of its line. */
function markLayout(marks: TimeMark[], s: TraceSummary): Overlay {
  const mid = ((s.startT ?? 0) + (s.endT ?? 0)) / 2;
  return {
    shapes: marks.map((m) => ({
      type: "line",
      xref: "x",
      yref: "paper",
      x0: m.t,
      x1: m.t,
      y0: 0,
      y1: 1,
      line: { color: m.colour, dash: "dot", width: 1.5 },
    })),
    annotations: marks.map((m) => ({
      x: m.t,
      xref: "x",
      y: 1,
      yref: "paper",
      xanchor: m.t > mid ? "right" : "left",
      yanchor: "top",
      text: m.label,
      showarrow: false,
      font: { size: 10, color: m.colour },
    })),
  };
}

/** The ELO state over time as shaded bands, each from a state change to the next; labelled
 * when there are few (a state that keeps flapping would bury the chart under its labels). */
function stateBands(tr: Trace): Overlay {
  const x = tr.eloTransitions;
  const end = tr.summary.endT ?? 0;
  const colour = (state: string) => STATE_COLOURS[state] ?? "#7f7f7f";
  return {
    shapes: x.map((tn, i) => ({
      type: "rect",
      xref: "x",
      yref: "paper",
      x0: tn.t,
      x1: i + 1 < x.length ? x[i + 1].t : end,
      y0: 0,
      y1: 1,
      fillcolor: colour(tn.to),
      opacity: 0.1,
      line: { width: 0 },
      layer: "below",
    })),
    annotations: x.length > 10 ? [] : x.map((tn) => ({
      x: tn.t,
      xref: "x",
      y: 0,
      yref: "paper",
      xanchor: "left",
      yanchor: "bottom",
      text: tn.to,
      showarrow: false,
      font: { size: 10, color: colour(tn.to) },
    })),
  };
}

export function learningSection(v: RunView, traces: TraceEntry[]): HTMLElement {
  const sec = section(
    "Learning",
    "What ACE (the adaptive control engine) and the ELO selector did during the runs that wrote ",
    "a trace (HAKMEM_ACE_TRACE). The table sums up every trace; pick one below for its curves: ",
    "knob values set by ACE's decisions, the reward of its fast and slow loops, the metrics it ",
    "observed, the ELO ratings of the large-block thresholds with their state shaded (blue ",
    "learn, green frozen, orange canary), and the budgeted scavenges. Guard trips (ACE stops and ",
    "restores its defaults) are marked in red on every chart.",
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
      "last decision",
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
        h("td", { class: "num" }, fmtSec(s.lastDecisionT)),
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
  traceBlock(block, parsed[0]);
  select.addEventListener("change", () => void redrawTrace(block, parsed[Number(select.value)]));
  return sec;
}

/** Replaces the charts of the trace shown in `block` by those of `e`. */
async function redrawTrace(block: HTMLElement, e: ParsedEntry): Promise<void> {
  document.body.dataset.render = "drawing";
  try {
    purgeCharts(block);
    block.replaceChildren();
    traceBlock(block, e);
    await settle();
  } catch (err) {
    showError(err);
  }
}

/** The curves and tables of one trace. */
function traceBlock(block: HTMLElement, e: ParsedEntry): void {
  const tr = e.trace;
  const s = tr.summary;
  const st = tr.start;
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
      s.downsampled ? `; long series thinned to ${MAX_TRACE_POINTS} points` : "",
      ".",
    ),
  );
  const grid = h("div", { class: "charts" });
  block.append(grid);
  const x0 = s.startT ?? 0;
  const x1 = s.endT ?? 0;
  // a fresh axis per chart (plotly keeps state in the layout it is given); the same time range
  // on every chart of the trace, a little wider on the right so that the last events show
  const xaxis = (): Record<string, unknown> => ({
    title: { text: "seconds since ACE started" },
    automargin: true,
    ...(x1 > x0 ? { range: [x0, x1 + (x1 - x0) * 0.02] } : {}),
  });
  const guards: TimeMark[] = tr.guards.map((g) => ({
    t: g.t,
    label: `guard: ${g.guard}`,
    colour: FAILED_COLOUR,
  }));
  const missing: string[] = [];

  if (tr.knobs.length > 0) knobChart(grid, tr, xaxis, guards);
  else missing.push("knob values (no decision)");

  const loops = (["fast", "slow"] as const).filter((lp) =>
    tr.reward[lp].reward.some((x) => x !== null)
  );
  if (loops.length > 0) {
    chart(
      grid,
      loops.map((lp) => ({
        type: "scatter",
        // markers too: a tick between two ticks without a reward is a lone point
        mode: "lines+markers",
        marker: { size: lp === "slow" || tr.reward[lp].t.length < 200 ? 6 : 2 },
        name: `${lp} loop`,
        x: tr.reward[lp].t,
        y: tr.reward[lp].reward,
        hovertemplate: `${lp} loop: reward %{y:.3f} at %{x:.2f} s<extra></extra>`,
      })),
      {
        title: title(
          "Reward over time — higher is better",
          "reward of each tick of ACE's fast and slow loops",
        ),
        height: 380,
        xaxis: xaxis(),
        yaxis: { title: { text: "reward (higher is better)" } },
        ...markLayout(guards, tr.summary),
      },
    );
  } else missing.push("reward (no tick with a reward)");

  if (tr.elo.thresholds.length > 0) {
    const elo = tr.elo;
    const marks = markLayout(guards, s);
    const bands = stateBands(tr);
    const changes = s.eloStateChanges;
    chart(
      grid,
      elo.thresholds.map((th, i) => ({
        type: "scatter",
        mode: "lines",
        name: `≤ ${fmtBytes(th)}`,
        x: elo.t,
        y: elo.rating[i],
        text: elo.plays[i].map((p) => (p === null ? "?" : String(p))),
        hovertemplate: `threshold ${fmtBytes(th)}: rating %{y:.1f} after %{text} plays, ` +
          `at %{x:.2f} s<extra></extra>`,
      })),
      {
        title: title(
          "ELO ratings of the large-block thresholds",
          `one line per threshold; shaded by state; ${changes} change${changes === 1 ? "" : "s"}` +
            (s.eloFrozenT !== null ? `, first frozen at ${fmtSec(s.eloFrozenT)}` : ""),
        ),
        height: 380,
        xaxis: xaxis(),
        yaxis: { title: { text: "ELO rating" } },
        shapes: [...bands.shapes, ...marks.shapes],
        annotations: [...bands.annotations, ...marks.annotations],
      },
    );
  } else missing.push("ELO ratings (no elo line with ratings)");

  if (tr.scavenges.length > 0) scavengeChart(grid, tr, xaxis, guards);
  else missing.push("scavenges (none)");

  // stacked panels, one per metric: full width below the others
  const keys = METRIC_KEYS.filter((k) => tr.metrics.values[k].some((x) => x !== null));
  if (keys.length > 0) metricsChart(block, tr, keys, xaxis, guards);
  else missing.push("metrics (no tick with a metric)");

  if (missing.length > 0) {
    block.append(h("p", { class: "hint" }, `Not drawn: ${missing.join("; ")}.`));
  }
  block.append(h("div", { class: "cols" }, knobTable(tr), guardTable(tr)));
}

function knobChart(
  grid: HTMLElement,
  tr: Trace,
  xaxis: () => Record<string, unknown>,
  guards: TimeMark[],
): void {
  const end = tr.summary.endT;
  const data = tr.knobs.map((k) => {
    const t = [...k.t];
    const y = [...k.v];
    const rule = [...k.rule];
    const last = t.length - 1;
    // the last value holds until the end of the trace (drawn without a marker)
    if (end !== null && end > t[last]) {
      t.push(end);
      y.push(y[last]);
      rule.push("unchanged");
    }
    return {
      type: "scatter",
      mode: "lines+markers",
      name: k.label,
      x: t,
      y,
      text: rule,
      line: { shape: "hv" },
      marker: { size: t.map((_, i) => (i > last ? 0 : 6)) },
      hovertemplate: `${k.label} = %{y} at %{x:.2f} s (%{text})<extra></extra>`,
    };
  });
  const log = tr.knobs.every((k) => k.v.every((x) => x > 0));
  // on a log axis, ticks at the values the knobs took (when there are few) read better than
  // plotly's minor decades
  const values = [...new Set(tr.knobs.flatMap((k) => k.v))].sort((a, b) => a - b);
  const ticks = log && values.length <= 12 ? { tickmode: "array", tickvals: values } : {};
  chart(grid, data, {
    title: title(
      "Knob values over time",
      "one step line per knob (per size class: knob[class]); each step is a decision of ACE",
    ),
    height: 380,
    xaxis: xaxis(),
    yaxis: {
      type: log ? "log" : "linear",
      title: { text: log ? "value (log scale)" : "value" },
      ...ticks,
    },
    ...markLayout(guards, tr.summary),
  });
}

/** The metrics of the ticks, one stacked panel per metric that has a value. */
function metricsChart(
  parent: HTMLElement,
  tr: Trace,
  keys: MetricKey[],
  xaxis: () => Record<string, unknown>,
  guards: TimeMark[],
): void {
  const m = tr.metrics;
  const n = keys.length;
  const gap = 0.03;
  const label = (k: MetricKey) =>
    k === "llc_miss_rate" && tr.summary.llcSources.length > 0
      ? `${METRIC_LABELS[k]} (${tr.summary.llcSources.join(", ")})`
      : METRIC_LABELS[k];
  const layout: Record<string, unknown> = {
    title: title(
      "Metrics observed by ACE",
      "fast-loop metrics at every tick; RSS and fragmentation from the slow loop",
    ),
    height: 140 + 95 * n,
    showlegend: false,
    margin: { l: 90, r: 20, t: 70, b: 60 },
    xaxis: { ...xaxis(), anchor: `y${n === 1 ? "" : n}` },
    ...markLayout(guards, tr.summary),
  };
  keys.forEach((k, i) => {
    layout[i === 0 ? "yaxis" : `yaxis${i + 1}`] = {
      domain: [Math.max(0, 1 - (i + 1) / n + gap), 1 - i / n],
      title: { text: label(k), font: { size: 10 } },
      automargin: true,
    };
  });
  chart(
    parent,
    keys.map((k, i) => ({
      type: "scatter",
      mode: "lines+markers",
      // slow-loop metrics can be a few lone points
      marker: { size: m.t.length < 200 ? 5 : 2 },
      name: label(k),
      x: m.t,
      y: m.values[k],
      yaxis: i === 0 ? "y" : `y${i + 1}`,
      // slow-loop metrics are null at fast ticks: join their points
      connectgaps: true,
      ...(k === "llc_miss_rate" ? { text: m.llcSource.map((x) => x ?? "source not given") } : {}),
      hovertemplate: `${label(k)}: %{y:.4s}${
        k === "llc_miss_rate" ? " (%{text})" : ""
      } at %{x:.2f} s<extra></extra>`,
    })),
    layout,
    "chart wide",
  );
}

function scavengeChart(
  grid: HTMLElement,
  tr: Trace,
  xaxis: () => Record<string, unknown>,
  guards: TimeMark[],
): void {
  const ev = tr.scavenges;
  const x = ev.map((e) => e.t);
  const us = (ns: number | null) => (ns === null ? null : ns / 1000);
  const span = (tr.summary.endT ?? 0) - (tr.summary.startT ?? 0);
  const data: Record<string, unknown>[] = [{
    type: "bar",
    name: "released (MiB)",
    x,
    y: ev.map((e) => e.bytes / (1024 * 1024)),
    // thin bars: a scavenge is an instant, and the markers on the right axis stay visible
    ...(span > 0 ? { width: span / 80 } : {}),
    text: ev.map((e) => (e.complete === false ? "incomplete" : "complete")),
    textposition: "none",
    marker: { color: ev.map((e) => (e.complete === false ? "#ff7f0e" : "#4c78a8")) },
    hovertemplate: "%{y:.2f} MiB released at %{x:.2f} s (%{text})<extra></extra>",
  }];
  if (ev.some((e) => e.ns !== null)) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "time taken (µs)",
      x,
      y: ev.map((e) => us(e.ns)),
      yaxis: "y2",
      marker: {
        symbol: "diamond",
        size: 8,
        color: ev.map((e) =>
          e.ns !== null && e.budgetNs !== null && e.ns > e.budgetNs ? FAILED_COLOUR : "#222"
        ),
      },
      hovertemplate: "took %{y:.0f} µs at %{x:.2f} s<extra></extra>",
    });
  }
  if (ev.some((e) => e.budgetNs !== null)) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: "budget (µs)",
      x,
      y: ev.map((e) => us(e.budgetNs)),
      yaxis: "y2",
      line: { dash: "dash", color: "#888", shape: "hv" },
      hovertemplate: "budget %{y:.0f} µs<extra></extra>",
    });
  }
  chart(grid, data, {
    title: title(
      `Scavenges — ${fmtBytes(tr.summary.scavengedBytes)} released in ${tr.summary.scavenges}`,
      "bars: bytes given back (orange: incomplete); diamonds: time taken (red: over budget)",
    ),
    height: 380,
    margin: { l: 70, r: 70, t: 70, b: 90 },
    xaxis: xaxis(),
    yaxis: { title: { text: "MiB released" }, rangemode: "tozero" },
    yaxis2: {
      title: { text: "µs (time and budget)" },
      overlaying: "y",
      side: "right",
      rangemode: "tozero",
    },
    ...markLayout(guards, tr.summary),
  });
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
    h("h3", null, "Guard trips (ACE stopped and restored its defaults)"),
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
