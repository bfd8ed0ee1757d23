/// <reference lib="dom" />
// The charts of one ACE trace in the Learning section (learning.ts): the knobs over time, the
// reward, the RSS, the ELO ratings, the scavenges and the metrics ACE observed. Every chart of a
// trace shares its time axis and its marks: guard trips (red), the phase changes ACE detected
// (purple) and, for a program that reports them (phases), the phases it really ran (shaded).

import { METRIC_KEYS, type MetricKey, type Trace, type TraceSummary } from "../trace/trace.ts";
import { chart, FAILED_COLOUR, fmtBytes, title } from "../ui.ts";

export const PHASE_COLOUR = "#6a3d9a";
const STATE_COLOURS: Record<string, string> = {
  learn: "#1f77b4",
  frozen: "#2ca02c",
  canary: "#ff7f0e",
};
/** Shades of the program's own phases, by name (others grey). */
const WORKLOAD_PHASE_COLOURS: Record<string, string> = {
  bursts: "#4c78a8",
  churn: "#f58518",
  remote: "#54a24b",
};
/** Marks labelled on a chart at most (more would bury it under their labels). */
const MAX_LABELS = 10;
/** A knob whose values span this factor gets a log axis. */
const LOG_SPAN = 10;

const METRIC_LABELS: Record<MetricKey, string> = {
  ops_per_s: "ops/s",
  llc_miss_rate: "LLC miss rate",
  lock_wait_frac: "lock wait",
  remote_backlog: "remote backlog",
  p99_lat_ns: "p99 ns",
  ace_cpu_percent: "ACE CPU %",
  idle_in_mb: "went idle MiB",
  large_idle_mb: "BigCache idle MiB",
  large_cold_mb: "BigCache refaulted MiB",
  rss_mb: "RSS MiB",
  frag_ratio: "frag. ratio",
};

export interface TimeMark {
  t: number;
  label: string;
  colour: string;
}

/** A phase the program itself reported (its result line's phase_names, phase_starts_s and
 * phase_ends_s). */
export interface WorkloadPhase {
  name: string;
  start: number;
  end: number;
}

/** What every chart of a trace shares. */
export interface TraceCtx {
  tr: Trace;
  /** A fresh time axis (plotly keeps state in the layout it is given). */
  xaxis: () => Record<string, unknown>;
  /** Guard trips and ACE's phase changes. */
  marks: TimeMark[];
  phases: WorkloadPhase[];
}

interface Overlay {
  shapes: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
}

/** Vertical dotted lines at the marks, labelled at the top when there are few (a label in the
 * right half is written left of its line), and the program's phases as shaded bands. */
export function overlay(c: TraceCtx): Overlay {
  const s = c.tr.summary;
  const mid = ((s.startT ?? 0) + (s.endT ?? 0)) / 2;
  const labelled = c.marks.length <= MAX_LABELS
    ? c.marks
    : c.marks.filter((m) => m.colour === FAILED_COLOUR);
  return {
    shapes: [
      ...c.phases.map((p) => ({
        type: "rect",
        xref: "x",
        yref: "paper",
        x0: p.start,
        x1: p.end,
        y0: 0,
        y1: 1,
        fillcolor: WORKLOAD_PHASE_COLOURS[p.name] ?? "#999",
        opacity: 0.08,
        line: { width: 0 },
        layer: "below",
      })),
      ...c.marks.map((m) => ({
        type: "line",
        xref: "x",
        yref: "paper",
        x0: m.t,
        x1: m.t,
        y0: 0,
        y1: 1,
        line: { color: m.colour, dash: "dot", width: 1.5 },
      })),
    ],
    annotations: [
      ...labelled.map((m) => ({
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
      ...c.phases.map((p) => ({
        x: (p.start + p.end) / 2,
        xref: "x",
        y: 0,
        yref: "paper",
        yanchor: "bottom",
        text: p.name,
        showarrow: false,
        font: { size: 10, color: WORKLOAD_PHASE_COLOURS[p.name] ?? "#666" },
      })),
    ],
  };
}

/** A y axis for values `vs`: log when they are positive and span a decade or more. */
function valueAxis(vs: readonly number[], text: string): Record<string, unknown> {
  const pos = vs.length > 0 && vs.every((x) => x > 0);
  const log = pos && Math.max(...vs) / Math.min(...vs) >= LOG_SPAN;
  const values = [...new Set(vs)].sort((a, b) => a - b);
  // ticks at the values taken (when few) read better than plotly's minor decades
  const ticks = log && values.length <= 8 ? { tickmode: "array", tickvals: values } : {};
  return {
    type: log ? "log" : "linear",
    title: { text: log ? `${text} (log)` : text, font: { size: 10 } },
    automargin: true,
    ...ticks,
  };
}

/** Panels stacked over one time axis: panel i's trace axis ("y", "y2", …), its layout key
 * ("yaxis", "yaxis2", …) and its share of the height (top first, `gap` between panels). */
function stacked(n: number, gap: number) {
  return {
    axis: (i: number) => (i === 0 ? "y" : `y${i + 1}`),
    key: (i: number) => (i === 0 ? "yaxis" : `yaxis${i + 1}`),
    domain: (i: number) => [Math.max(0, 1 - (i + 1) / n + gap), 1 - i / n],
  };
}

/** The knobs over time, one stacked panel per knob: the knobs every tick reports as step lines
 * with ACE's decisions on them marked (hover: the rule), and one panel for the knobs only
 * decisions show (per size class: knob[class]). */
export function knobChart(parent: HTMLElement, c: TraceCtx): void {
  const tr = c.tr;
  const end = tr.summary.endT;
  const tracked = new Set<string>(tr.knobTracks.map((k) => k.knob));
  const others = tr.knobs.filter((k) => !(k.cls < 0 && tracked.has(k.knob)));
  const panels = tr.knobTracks.length + (others.length > 0 ? 1 : 0);
  if (panels === 0) return;
  const { axis, key, domain } = stacked(panels, 0.04);
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: title(
      "Knob values over time",
      "step lines: the value in force (every tick reports it); dots: ACE's decisions (hover: " +
        "the rule); purple lines: phase changes ACE detected; shades: the program's phases",
    ),
    height: 120 + 150 * panels,
    margin: { l: 90, r: 20, t: 80, b: 60 },
    legend: { orientation: "h", y: -0.08 },
    xaxis: { ...c.xaxis(), anchor: axis(panels - 1) },
    ...overlay(c),
  };
  tr.knobTracks.forEach((k, i) => {
    const decided = tr.knobs.find((d) => d.knob === k.knob && d.cls < 0);
    const marks = decided
      ? decided.t.map((t, j) => ({ t, v: decided.v[j], rule: decided.rule[j] }))
        .filter((d) => d.rule !== "initial")
      : [];
    data.push({
      type: "scatter",
      mode: "lines",
      name: k.knob,
      x: k.t,
      y: k.v,
      yaxis: axis(i),
      line: { shape: "hv", width: 2 },
      hovertemplate: `${k.knob} = %{y} at %{x:.2f} s<extra></extra>`,
    });
    if (marks.length > 0) {
      data.push({
        type: "scatter",
        mode: "markers",
        name: `${k.knob}: decisions`,
        showlegend: false,
        x: marks.map((d) => d.t),
        y: marks.map((d) => d.v),
        text: marks.map((d) => d.rule),
        yaxis: axis(i),
        marker: { size: 7, color: "#222" },
        hovertemplate: `${k.knob} → %{y} at %{x:.2f} s (%{text})<extra></extra>`,
      });
    }
    layout[key(i)] = {
      domain: domain(i),
      ...valueAxis([...k.v, ...marks.map((d) => d.v)], k.knob),
    };
  });
  if (others.length > 0) {
    const i = panels - 1;
    for (const k of others) {
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
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: k.label,
        x: t,
        y,
        text: rule,
        yaxis: axis(i),
        line: { shape: "hv" },
        marker: { size: t.map((_, j) => (j > last ? 0 : 6)) },
        hovertemplate: `${k.label} = %{y} at %{x:.2f} s (%{text})<extra></extra>`,
      });
    }
    layout[key(i)] = {
      domain: domain(i),
      ...valueAxis(others.flatMap((k) => k.v), "decided only"),
    };
  }
  chart(parent, data, layout, "chart wide");
}

/** The reward of the fast and slow loops. */
export function rewardChart(grid: HTMLElement, c: TraceCtx): boolean {
  const tr = c.tr;
  const loops = (["fast", "slow"] as const).filter((lp) =>
    tr.reward[lp].reward.some((x) => x !== null)
  );
  if (loops.length === 0) return false;
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
      xaxis: c.xaxis(),
      yaxis: { title: { text: "reward (higher is better)" } },
      ...overlay(c),
    },
  );
  return true;
}

/** One RSS curve (hakrun's samples of a run). */
export interface RssCurve {
  name: string;
  curve: [number, number][];
  colour: string;
  dash?: string;
}

/** The RSS over time: hakrun's samples of this run (and of others to compare with, dashed) and
 * the RSS ACE read at its ticks. */
export function rssChart(grid: HTMLElement, c: TraceCtx, curves: RssCurve[]): boolean {
  const rss = c.tr.metrics.values.rss_mb;
  const ace = c.tr.metrics.t.map((t, i) => [t, rss[i]] as const).filter(([, v]) => v !== null);
  if (curves.length === 0 && ace.length === 0) return false;
  const data: Record<string, unknown>[] = curves.map((k) => ({
    type: "scatter",
    mode: "lines",
    name: k.name,
    x: k.curve.map((p) => p[0]),
    y: k.curve.map((p) => p[1] / 1024),
    line: { color: k.colour, width: 1.5, shape: "hv", ...(k.dash ? { dash: k.dash } : {}) },
    hovertemplate: `${k.name}: %{y:.1f} MiB at %{x:.2f} s<extra></extra>`,
  }));
  if (ace.length > 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "RSS read by ACE",
      x: ace.map(([t]) => t),
      y: ace.map(([, v]) => v),
      marker: { size: ace.length < 300 ? 4 : 2, color: "#222" },
      hovertemplate: "ACE read %{y:.1f} MiB at %{x:.2f} s<extra></extra>",
    });
  }
  chart(grid, data, {
    title: title(
      "RSS over time",
      "lines: hakrun's samples every 10 ms (seconds since the program started); dots: the RSS " +
        "ACE read at its ticks (seconds since ACE started, a few ms later)",
    ),
    height: 380,
    xaxis: c.xaxis(),
    yaxis: { title: { text: "MiB (lower is better)" }, rangemode: "tozero" },
    ...overlay(c),
  });
  return true;
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
    annotations: x.length > MAX_LABELS ? [] : x.map((tn) => ({
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

/** The ELO ratings of the large-block thresholds, shaded by state. */
export function eloChart(grid: HTMLElement, c: TraceCtx): boolean {
  const tr = c.tr;
  const elo = tr.elo;
  const s = tr.summary;
  if (elo.thresholds.length === 0) return false;
  const marks = overlay({ ...c, phases: [] });
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
          (s.eloFrozenT !== null ? `, first frozen at ${s.eloFrozenT.toFixed(1)} s` : ""),
      ),
      height: 380,
      xaxis: c.xaxis(),
      yaxis: { title: { text: "ELO rating" } },
      shapes: [...bands.shapes, ...marks.shapes],
      annotations: [...bands.annotations, ...marks.annotations],
    },
  );
  return true;
}

/** The metrics of the ticks, one stacked panel per metric that has a value. */
export function metricsChart(parent: HTMLElement, c: TraceCtx): boolean {
  const tr = c.tr;
  const m = tr.metrics;
  const keys = METRIC_KEYS.filter((k) => m.values[k].some((x) => x !== null));
  if (keys.length === 0) return false;
  const n = keys.length;
  const { axis, key, domain } = stacked(n, 0.03);
  const label = (k: MetricKey) =>
    k === "llc_miss_rate" && tr.summary.llcSources.length > 0
      ? `${METRIC_LABELS[k]} (${tr.summary.llcSources.join(", ")})`
      : METRIC_LABELS[k];
  const layout: Record<string, unknown> = {
    title: title(
      "Metrics observed by ACE",
      "at every tick of its loops; memory in MiB (went idle, BigCache idle and refaulted: in " +
        "the tick's interval)",
    ),
    height: 140 + 95 * n,
    showlegend: false,
    margin: { l: 90, r: 20, t: 70, b: 60 },
    xaxis: { ...c.xaxis(), anchor: axis(n - 1) },
    ...overlay(c),
  };
  keys.forEach((k, i) => {
    layout[key(i)] = {
      domain: domain(i),
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
      yaxis: axis(i),
      // metrics a tick does not give are null: join their points
      connectgaps: true,
      ...(k === "llc_miss_rate" ? { text: m.llcSource.map((x) => x ?? "source not given") } : {}),
      hovertemplate: `${label(k)}: %{y:.4s}${
        k === "llc_miss_rate" ? " (%{text})" : ""
      } at %{x:.2f} s<extra></extra>`,
    })),
    layout,
    "chart wide",
  );
  return true;
}

/** The budgeted scavenges: bytes released, time taken against the budget. */
export function scavengeChart(grid: HTMLElement, c: TraceCtx): boolean {
  const tr = c.tr;
  const ev = tr.scavenges;
  if (ev.length === 0) return false;
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
    xaxis: c.xaxis(),
    yaxis: { title: { text: "MiB released" }, rangemode: "tozero" },
    yaxis2: {
      title: { text: "µs (time and budget)" },
      overlaying: "y",
      side: "right",
      rangemode: "tozero",
    },
    ...overlay(c),
  });
  return true;
}

/** The marks of a trace: its guard trips and the phase changes ACE detected. */
export function traceMarks(tr: Trace): TimeMark[] {
  return [
    ...tr.phases.map((p) => ({ t: p.t, label: "phase", colour: PHASE_COLOUR })),
    ...tr.guards.map((g) => ({ t: g.t, label: `guard: ${g.guard}`, colour: FAILED_COLOUR })),
  ];
}

/** The program's own phases from its result line, or none. */
export function workloadPhases(result: Record<string, unknown> | null | undefined) {
  const names = result?.phase_names;
  const starts = result?.phase_starts_s;
  const ends = result?.phase_ends_s;
  if (!Array.isArray(names) || !Array.isArray(starts) || !Array.isArray(ends)) return [];
  const out: WorkloadPhase[] = [];
  names.forEach((name, i) => {
    const start = starts[i];
    const end = ends[i];
    if (typeof name === "string" && typeof start === "number" && typeof end === "number") {
      out.push({ name, start, end });
    }
  });
  return out;
}

/** The time span the charts of a trace show. */
export function traceSpan(s: TraceSummary, phases: WorkloadPhase[]): [number, number] {
  const x0 = Math.min(s.startT ?? 0, ...phases.map((p) => p.start));
  const x1 = Math.max(s.endT ?? 0, ...phases.map((p) => p.end));
  return [x0, x1];
}
