/// <reference lib="dom" />
// Small DOM, formatting and chart helpers of the report page (browser code; see app.ts). Every
// chart goes through chart(), which counts the charts and keeps their drawing promises so the
// page can say when it is done (settle()).

interface PlotlyLike {
  purge(el: HTMLElement): void;
  newPlot(
    el: HTMLElement,
    data: Record<string, unknown>[],
    layout: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<unknown>;
}

declare global {
  // set by plotly.min.js (inlined before this script) and, optionally, by the embedding page
  var Plotly: PlotlyLike | undefined;
  var __HAKMEM_RESULTS__: unknown;
}

// ---------------------------------------------------------------------------------------------
// small DOM and formatting helpers

export { fmtBytes, fmtInt, fmtKiB, fmtNum, fmtPct, fmtRatio } from "../tasks/lib/format.ts";

export type Child = Node | string | number | null | undefined | false;

export function h(
  tag: string,
  attrs: Record<string, string> | null = null,
  ...children: (Child | Child[])[]
): HTMLElement {
  const el = document.createElement(tag);
  if (attrs) { for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

export function metricUnit(metric: string): string {
  return metric === "ns_per_op" ? "ns per op" : metric === "ops_per_s" ? "ops/s" : metric;
}

export function better(higherIsBetter: boolean): string {
  return higherIsBetter ? "higher is better" : "lower is better";
}

const PALETTE: Record<string, string> = {
  glibc: "#7f7f7f",
  mimalloc3: "#1f77b4",
  mimalloc2: "#6baed6",
  jemalloc: "#2ca02c",
  tcmalloc: "#9467bd",
  snmalloc: "#17becf",
  rpmalloc: "#8c564b",
};
const HAKMEM_SHADES = ["#d62728", "#ff7f0e", "#e377c2", "#bcbd22", "#f7b6d2", "#ff9896"];
/** Allocators that are neither hakmem nor a known peer. */
const OTHER_SHADES = ["#aec7e8", "#98df8a", "#c5b0d5", "#c49c94"];

export function isHakmem(alloc: string): boolean {
  return alloc.startsWith("hakmem");
}

/** The colour of `alloc` among `all` (every allocator of the run, in results order, so that a
 * colour does not depend on which allocators a chart shows). More hakmem variants than shades get
 * warm hues spread from magenta through red to orange. */
export function colourOf(alloc: string, all: string[]): string {
  if (PALETTE[alloc]) return PALETTE[alloc];
  const group = all.filter((a) => !PALETTE[a] && isHakmem(a) === isHakmem(alloc));
  const i = Math.max(0, group.indexOf(alloc));
  if (!isHakmem(alloc)) return OTHER_SHADES[i % OTHER_SHADES.length];
  if (group.length <= HAKMEM_SHADES.length) return HAKMEM_SHADES[i];
  const hue = (320 + (90 * i) / (group.length - 1)) % 360;
  return `hsl(${hue.toFixed(0)}, 80%, ${i % 2 === 0 ? 42 : 56}%)`;
}

// ---------------------------------------------------------------------------------------------
// charts

const plotJobs: Promise<unknown>[] = [];
/** Height of the stub bar of a failed cell in ratio charts, and its colour. */
export const FAILED_STUB = 0.08;
export const FAILED_COLOUR = "#b00020";
let plotCount = 0;

const PLOT_CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false };

export function chart(
  parent: HTMLElement,
  data: Record<string, unknown>[],
  layout: Record<string, unknown>,
  cls = "chart",
): void {
  const div = h("div", { class: cls });
  parent.append(div);
  const Plotly = globalThis.Plotly;
  if (!Plotly) throw new Error("plotly.js is not loaded (globalThis.Plotly is missing)");
  plotCount++;
  plotJobs.push(
    Plotly.newPlot(div, data, {
      font: { family: "system-ui, sans-serif", size: 12 },
      margin: { l: 70, r: 20, t: 70, b: 90 },
      legend: { orientation: "h", y: -0.25 },
      xaxis: { automargin: true },
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fafafa",
      ...layout,
    }, PLOT_CONFIG),
  );
}

/** A dotted horizontal line at y = 1 across a ratio chart (a fresh object: plotly keeps state
 * in the layout it is given). */
export function unitLine(): Record<string, unknown> {
  return {
    type: "line",
    xref: "paper",
    x0: 0,
    x1: 1,
    y0: 1,
    y1: 1,
    line: { color: "#444", dash: "dot", width: 1 },
  };
}

export function title(text: string, sub: string): Record<string, unknown> {
  return { text: `${text}<br><sub>${sub}</sub>`, x: 0.01, xanchor: "left" };
}

/** A section with its heading and, when given, a hint paragraph. */
export function section(heading: string, ...hint: string[]): HTMLElement {
  return h(
    "section",
    null,
    h("h2", null, heading),
    hint.length > 0 ? h("p", { class: "hint" }, ...hint) : null,
  );
}

/** A table's header row. */
export function headRow(cols: string[]): HTMLElement {
  return h("tr", null, cols.map((c) => h("th", null, c)));
}

/** Waits for every chart, then marks the page as drawn (with the number of charts). */
export async function settle(): Promise<void> {
  await Promise.all(plotJobs);
  document.body.dataset.plots = String(plotCount);
  document.body.dataset.render = "done";
}

/** Removes the charts under `el` (purged, uncounted) before it is redrawn. */
export function purgeCharts(el: HTMLElement): void {
  for (const c of el.querySelectorAll<HTMLElement>(".chart")) {
    globalThis.Plotly?.purge(c);
    plotCount--;
  }
}

/** A table of key/value rows. */
export function kv(rows: [string, Child][]): HTMLElement {
  return h(
    "table",
    { class: "kv" },
    rows.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))),
  );
}

/** A log-scale axis for ratios: ticks at readable multiples around 1 (coarser when the range
 * spans more than a decade and a half), the range covering `values` (and 1) with some room. */
export function ratioAxis(
  text: string,
  values: readonly (number | null)[],
): Record<string, unknown> {
  const xs = [1, ...values.filter((x): x is number => x !== null && x > 0)];
  const lo = Math.log10(Math.min(...xs)) - 0.08;
  const hi = Math.log10(Math.max(...xs)) + 0.08;
  const fine = [0.1, 0.2, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 5, 10];
  const coarse = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];
  const ticks = hi - lo > 1.5 ? coarse : fine;
  return {
    type: "log",
    title: { text },
    range: [lo, hi],
    tickmode: "array",
    tickvals: ticks,
    ticktext: ticks.map((t) => `${t}×`),
  };
}
