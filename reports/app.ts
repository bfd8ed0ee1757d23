/// <reference lib="dom" />
// The bench report page (browser code, bundled by reports/build_report.ts with esbuild into one
// self-contained index.html). It renders from the payload embedded in the page
// (`globalThis.__HAKMEM_RESULTS__`, else `<script type="application/json" id="results">`): one run,
// or two runs side by side ("compare"). Charts use plotly.js (the global `Plotly`, inlined into the
// page before this script). Statistics come from tasks/bench_stats.ts, the same module the bench
// driver prints its table with, so the page and the terminal agree. ACE traces of the run arrive
// parsed in the payload (reports/trace.ts, at report-build time) for the Learning section.
//
// When everything is drawn, <body> gets data-render="done" and data-plots="<number of charts>";
// on an error data-render="error" (and the error is shown on the page and in the console).

import {
  median,
  normalisedRatio,
  REFERENCE_GLIBC,
  type Results,
  type Sample,
  summarize,
  type Summary,
  type SummaryRow,
  summaryRow,
} from "../tasks/bench_stats.ts";
import { hakmemView, type ReportPayload, type TraceEntry, type TraceRef } from "./schema.ts";
import {
  MAX_TRACE_POINTS,
  METRIC_KEYS,
  type MetricKey,
  type Trace,
  type TraceSummary,
} from "./trace.ts";

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

type Child = Node | string | number | null | undefined | false;

function h(
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

function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(digits)} G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(digits)} M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(digits)} k`;
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  return v.toPrecision(digits);
}

function fmtInt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return Math.round(v).toLocaleString("en-US");
}

function fmtKiB(kib: number | null | undefined): string {
  if (kib === null || kib === undefined || !Number.isFinite(kib)) return "—";
  if (kib >= 1024 * 1024) return `${(kib / 1024 / 1024).toFixed(2)} GiB`;
  if (kib >= 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${Math.round(kib)} KiB`;
}

function fmtBytes(b: number | null | undefined): string {
  return b === null || b === undefined ? "—" : fmtKiB(b / 1024);
}

function fmtRatio(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? "—" : `×${r.toFixed(2)}`;
}

function fmtPct(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "—";
  return `${p > 0 ? "+" : ""}${p.toFixed(1)} %`;
}

function metricUnit(metric: string): string {
  return metric === "ns_per_op" ? "ns per op" : metric === "ops_per_s" ? "ops/s" : metric;
}

function better(higherIsBetter: boolean): string {
  return higherIsBetter ? "higher is better" : "lower is better";
}

const PALETTE: Record<string, string> = {
  glibc: "#7f7f7f",
  mimalloc: "#1f77b4",
  jemalloc: "#2ca02c",
  tcmalloc: "#9467bd",
};
const HAKMEM_SHADES = ["#d62728", "#ff7f0e", "#e377c2", "#bcbd22", "#8c564b", "#17becf"];
/** Allocators that are neither hakmem nor a known peer. */
const OTHER_SHADES = ["#aec7e8", "#98df8a", "#c5b0d5", "#c49c94"];

function isHakmem(alloc: string): boolean {
  return alloc.startsWith("hakmem");
}

/** The colour of `alloc` among `all` (every allocator of the run, in results order, so that a
 * colour does not depend on which allocators a chart shows). More hakmem variants than shades get
 * warm hues spread from magenta through red to orange. */
function colourOf(alloc: string, all: string[]): string {
  if (PALETTE[alloc]) return PALETTE[alloc];
  const group = all.filter((a) => !PALETTE[a] && isHakmem(a) === isHakmem(alloc));
  const i = Math.max(0, group.indexOf(alloc));
  if (!isHakmem(alloc)) return OTHER_SHADES[i % OTHER_SHADES.length];
  if (group.length <= HAKMEM_SHADES.length) return HAKMEM_SHADES[i];
  const hue = (320 + (90 * i) / (group.length - 1)) % 360;
  return `hsl(${hue.toFixed(0)}, 80%, ${i % 2 === 0 ? 42 : 56}%)`;
}

/** How a failed sample ended, in words. */
function failureText(s: Sample): string {
  if (s.timed_out) return "timed out";
  if (s.signal !== null) return `killed by signal ${s.signal}${signalName(s.signal)}`;
  if (s.exit !== null && s.exit !== 0) return `exit status ${s.exit}`;
  if (s.exit === 0) return "exit 0 but no valid result line";
  return "did not run";
}

function signalName(sig: number): string {
  const names: Record<number, string> = {
    4: "SIGILL",
    6: "SIGABRT",
    7: "SIGBUS",
    8: "SIGFPE",
    9: "SIGKILL",
    11: "SIGSEGV",
    15: "SIGTERM",
  };
  return names[sig] ? ` (${names[sig]})` : "";
}

// ---------------------------------------------------------------------------------------------
// charts

const plotJobs: Promise<unknown>[] = [];
/** Height of the stub bar of a failed cell in ratio charts, and its colour. */
const FAILED_STUB = 0.08;
const FAILED_COLOUR = "#b00020";
let plotCount = 0;

const PLOT_CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false };

function chart(
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
function unitLine(): Record<string, unknown> {
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

function title(text: string, sub: string): Record<string, unknown> {
  return { text: `${text}<br><sub>${sub}</sub>`, x: 0.01, xanchor: "left" };
}

/** A section with its heading and, when given, a hint paragraph. */
function section(heading: string, ...hint: string[]): HTMLElement {
  return h(
    "section",
    null,
    h("h2", null, heading),
    hint.length > 0 ? h("p", { class: "hint" }, ...hint) : null,
  );
}

/** A table's header row. */
function headRow(cols: string[]): HTMLElement {
  return h("tr", null, cols.map((c) => h("th", null, c)));
}

// ---------------------------------------------------------------------------------------------
// run data access

interface RunView {
  results: Results;
  summary: Summary;
  /** Allocators that ran (available and with samples), in results order. */
  allocs: string[];
  /** Reference of the normalised charts: mimalloc when it ran, else glibc. */
  reference: "mimalloc" | "glibc";
}

function view(results: Results): RunView {
  const summary = summarize(results);
  const ran = new Set(results.samples.map((s) => s.allocator));
  const allocs = summary.allocators.filter((a) => ran.has(a));
  const reference = ran.has("mimalloc") &&
      results.samples.some((s) => s.allocator === "mimalloc" && s.ok)
    ? "mimalloc"
    : "glibc";
  return { results, summary, allocs, reference };
}

function samplesOf(r: Results, bench: string, alloc: string): Sample[] {
  return r.samples.filter((s) => s.bench === bench && s.allocator === alloc);
}

function benchInfo(r: Results, id: string) {
  return r.benches.find((b) => b.id === id) ?? {
    id,
    program: id,
    args: [],
    metric: "ops_per_s" as const,
    higher_is_better: true,
    title: id,
    description: "",
  };
}

/** min and max over rounds of the normalised ratio against `ref` (pair by pair per round). */
function ratioSpread(
  r: Results,
  bench: string,
  alloc: string,
  ref: string,
  higherIsBetter: boolean,
): { min: number; max: number } | null {
  const refByRound = new Map<number, number[]>();
  for (const s of samplesOf(r, bench, ref)) {
    if (s.ok && s.value !== null && s.value > 0) {
      refByRound.set(s.round, [...(refByRound.get(s.round) ?? []), s.value]);
    }
  }
  const ratios: number[] = [];
  for (const s of samplesOf(r, bench, alloc)) {
    if (!s.ok || s.value === null || s.value <= 0) continue;
    const rv = median(refByRound.get(s.round) ?? []);
    if (rv !== null && rv > 0) ratios.push(normalisedRatio(s.value, rv, higherIsBetter));
  }
  return ratios.length ? { min: Math.min(...ratios), max: Math.max(...ratios) } : null;
}

function refRatio(row: SummaryRow | undefined, ref: string): number | null {
  if (!row) return null;
  return ref === "mimalloc" ? row.ratioVsMimalloc : row.ratioVsGlibc;
}

/** Median over ok samples of a numeric extra of the program's result line (e.g. "p99_ns"). */
function medianExtra(samples: Sample[], key: string): number | null {
  const xs: number[] = [];
  for (const s of samples) {
    const v = s.ok ? s.result?.[key] : undefined;
    if (typeof v === "number" && Number.isFinite(v)) xs.push(v);
  }
  return median(xs);
}

const LATENCY_KEYS = ["p50_ns", "p99_ns", "max_ns"] as const;

// ---------------------------------------------------------------------------------------------
// sections of a single run

function kv(rows: [string, Child][]): HTMLElement {
  return h(
    "table",
    { class: "kv" },
    rows.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))),
  );
}

function headerSection(r: Results, label?: string): HTMLElement {
  const m = r.machine;
  const p = r.params;
  const allocRows = r.allocators.map((a) =>
    h(
      "tr",
      { class: a.available ? "ok" : "unavailable" },
      h(
        "td",
        null,
        h("span", {
          class: "swatch",
          style: `background:${
            colourOf(
              a.name,
              r.allocators.map((x) => x.name),
            )
          }`,
        }),
        a.name,
      ),
      h("td", null, a.kind),
      h("td", null, a.available ? "available" : "unavailable"),
      h("td", { class: "mono" }, a.lib ?? "—"),
      h("td", { class: "note" }, a.note ?? ""),
    )
  );
  return h(
    "section",
    { class: "header" },
    label ? h("h2", null, label) : null,
    h(
      "div",
      { class: "cols" },
      h(
        "div",
        null,
        h("h3", null, "Machine"),
        kv([
          ["CPU", m.cpu],
          ["cores", m.cores],
          ["kernel", m.kernel],
          ["glibc", m.glibc],
          ["zig", m.zig],
          ["deno", m.deno],
          ["commit", m.commit ?? "—"],
          ["created", r.created],
        ]),
      ),
      h(
        "div",
        null,
        h("h3", null, "Parameters"),
        kv([
          ["profile", p.profile],
          ["benches", p.benches.join(", ")],
          ["allocators", p.allocators.join(", ")],
          ["hakmem modes", p.modes.join(", ")],
          ["repeat", p.repeat],
          ["threads", p.threads],
          ["seed", p.seed],
        ]),
      ),
    ),
    h("h3", null, "Allocators"),
    h(
      "table",
      { class: "grid allocators" },
      headRow(["allocator", "kind", "status", "library", "note"]),
      allocRows,
    ),
  );
}

function overviewSection(v: RunView): HTMLElement {
  const sec = section("Overview");
  const r = v.results;
  const benches = v.summary.benches.filter((b) => r.samples.some((s) => s.bench === b));
  const data = v.allocs.map((alloc) => {
    const y: (number | null)[] = [];
    const plus: number[] = [];
    const minus: number[] = [];
    const text: string[] = [];
    const colours: string[] = [];
    for (const b of benches) {
      const row = summaryRow(v.summary, b, alloc);
      const ratio = refRatio(row, v.reference);
      const spread = ratio === null
        ? null
        : ratioSpread(r, b, alloc, v.reference, benchInfo(r, b).higher_is_better);
      const failed = row !== undefined && row.ok === 0;
      // a failed cell: a stub bar in red labelled FAILED
      y.push(failed ? FAILED_STUB : ratio);
      colours.push(failed ? FAILED_COLOUR : colourOf(alloc, v.summary.allocators));
      plus.push(ratio !== null && spread ? Math.max(0, spread.max - ratio) : 0);
      minus.push(ratio !== null && spread ? Math.max(0, ratio - spread.min) : 0);
      text.push(failed ? "FAILED" : ratio === null ? "n/a" : fmtRatio(ratio));
    }
    return {
      type: "bar",
      name: alloc,
      x: benches,
      y,
      text,
      // many allocators make the bars too narrow for their labels (the hover still has them)
      textposition: v.allocs.length > 6 ? "none" : "auto",
      hovertemplate: `${alloc} on %{x}: %{text} vs ${v.reference}<extra></extra>`,
      marker: { color: colours },
      error_y: { type: "data", symmetric: false, array: plus, arrayminus: minus, thickness: 1 },
    };
  });
  chart(sec, data, {
    title: title(
      `Performance relative to ${v.reference} — higher is better`,
      `median over rounds of the per-round ratio (1 = ${v.reference}; ns/op metrics inverted so > 1 ` +
        `always means faster); error bars: min–max over rounds`,
    ),
    barmode: "group",
    height: 460,
    yaxis: { title: { text: `× ${v.reference} (higher is better)` }, rangemode: "tozero" },
    shapes: [unitLine()],
  }, "chart wide");
  // overall geometric means
  const ov = v.summary.overall;
  sec.append(
    h(
      "table",
      { class: "grid" },
      headRow([
        "allocator",
        "geomean vs glibc (higher is better)",
        "geomean vs mimalloc (higher is better)",
        "failed samples",
      ]),
      ov.map((o) =>
        h(
          "tr",
          null,
          h("td", null, o.allocator),
          h("td", { class: "num" }, `${fmtRatio(o.geomeanVsGlibc)} (${o.benchesVsGlibc} benches)`),
          h(
            "td",
            { class: "num" },
            `${fmtRatio(o.geomeanVsMimalloc)} (${o.benchesVsMimalloc} benches)`,
          ),
          h("td", { class: o.failed ? "num failed" : "num" }, o.failed),
        )
      ),
    ),
  );
  return sec;
}

/** The hakmem variants of the run against glibc, in the order of results.allocators (the bench
 * lists a feature ladder such as hakmem-minimal, hakmem-minimal+bigcache, …); null with fewer
 * than three variants or without glibc. */
function ladderSection(v: RunView): HTMLElement | null {
  const variants = v.allocs.filter(isHakmem);
  if (variants.length < 3 || !v.allocs.includes(REFERENCE_GLIBC)) return null;
  const benches = v.summary.benches.filter((b) =>
    variants.some((a) => summaryRow(v.summary, b, a) !== undefined)
  );
  const sec = section(
    "Feature ladder",
    "Each hakmem variant against glibc, in the order the run lists them. One line per bench: the ",
    "median of the per-round ratios (> 1: better than glibc; ns/op inverted). Thick black line: ",
    "the geometric mean over the benches. A gap is a cell without a ratio; a red cross marks a ",
    "cell where every sample failed.",
  );
  const data: Record<string, unknown>[] = benches.map((b, i) => ({
    type: "scatter",
    mode: "lines+markers",
    name: b,
    x: variants,
    y: variants.map((a) => summaryRow(v.summary, b, a)?.ratioVsGlibc ?? null),
    // plotly's colour cycle has ten colours: later benches are told apart by a dotted line
    line: { width: 1.5, dash: i < 10 ? "solid" : "dot" },
    hovertemplate: `${b}, %{x}: ×%{y:.2f} vs glibc<extra></extra>`,
  }));
  data.push({
    type: "scatter",
    mode: "lines+markers",
    name: "geometric mean",
    x: variants,
    y: variants.map((a) =>
      v.summary.overall.find((o) => o.allocator === a)?.geomeanVsGlibc ?? null
    ),
    line: { width: 4, color: "#222" },
    hovertemplate: "geometric mean, %{x}: ×%{y:.2f} vs glibc<extra></extra>",
  });
  const failed = benches.flatMap((b) =>
    variants.filter((a) => summaryRow(v.summary, b, a)?.ok === 0).map((a) => ({ b, a }))
  );
  if (failed.length > 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "failed",
      x: failed.map((f) => f.a),
      y: failed.map(() => FAILED_STUB),
      text: failed.map((f) => f.b),
      marker: { symbol: "x", size: 10, color: FAILED_COLOUR },
      hovertemplate: "%{text}, %{x}: FAILED<extra></extra>",
    });
  }
  chart(sec, data, {
    title: title(
      "Feature ladder — hakmem variants against glibc, higher is better",
      "median per-round ratio per bench (1 = glibc); thick line: geometric mean over the benches",
    ),
    height: 480,
    xaxis: {
      automargin: true,
      type: "category",
      categoryorder: "array",
      categoryarray: variants,
      title: { text: "hakmem variant, in run order" },
    },
    yaxis: { title: { text: "× glibc (higher is better)" }, rangemode: "tozero" },
    shapes: [unitLine()],
  }, "chart wide");
  return sec;
}

function workloadSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section(
    "Per workload",
    "Median of the rounds, error bars from the fastest to the slowest sample. Labels give the ",
    `ratio against ${v.reference} (> 1: better; with more than six allocators only on hover). A `,
    "failed cell is marked in red on the chart and listed under Failures.",
  );
  const grid = h("div", { class: "charts" });
  sec.append(grid);
  for (const b of v.summary.benches) {
    const info = benchInfo(r, b);
    const allocs = v.allocs.filter((a) => samplesOf(r, b, a).length > 0);
    if (allocs.length === 0) continue;
    const crowded = allocs.length > 6;
    const rows = allocs.map((a) => summaryRow(v.summary, b, a));
    const y = rows.map((row) => row?.median ?? null);
    const annotations: Record<string, unknown>[] = [];
    allocs.forEach((a, i) => {
      const row = rows[i];
      if (row && row.ok === 0) {
        const first = samplesOf(r, b, a).find((s) => !s.ok);
        annotations.push({
          x: a,
          y: 0,
          yanchor: "bottom",
          text: `FAILED<br>${first ? failureText(first) : ""}`,
          showarrow: false,
          font: { color: "#b00020", size: 11 },
        });
      }
    });
    chart(grid, [{
      type: "bar",
      x: allocs,
      y,
      marker: { color: allocs.map((a) => colourOf(a, v.summary.allocators)) },
      text: rows.map((row) => {
        const ratio = refRatio(row, v.reference);
        return row && row.ok > 0
          ? `${fmtNum(row.median)}${ratio !== null ? ` (${fmtRatio(ratio)})` : ""}`
          : "";
      }),
      // with many allocators the bars are too narrow for their labels (the hover has them)
      textposition: crowded ? "none" : "auto",
      hovertemplate: `%{x}: %{y:.4s} ${metricUnit(info.metric)}<extra></extra>`,
      error_y: {
        type: "data",
        symmetric: false,
        array: rows.map((row) =>
          row?.max !== null && row?.median != null ? row.max! - row.median : 0
        ),
        arrayminus: rows.map((row) =>
          row?.min !== null && row?.median != null ? row.median - row.min! : 0
        ),
        thickness: 1,
      },
    }], {
      title: title(
        `${info.title} — ${metricUnit(info.metric)}, ${better(info.higher_is_better)}`,
        `${b}: ${info.description}`.slice(0, 140),
      ),
      // room for the slanted names of many allocators
      height: crowded ? 440 : 340,
      margin: { l: 70, r: 20, t: 70, b: 40 },
      showlegend: false,
      annotations,
      yaxis: {
        title: { text: `${metricUnit(info.metric)} (${better(info.higher_is_better)})` },
        rangemode: "tozero",
      },
    });
  }
  return sec;
}

function latencySection(v: RunView): HTMLElement | null {
  const r = v.results;
  const benches = v.summary.benches.filter((b) =>
    r.samples.some((s) =>
      s.bench === b && s.ok && LATENCY_KEYS.some((k) => typeof s.result?.[k] === "number")
    )
  );
  if (benches.length === 0) return null;
  const sec = section(
    "Latency",
    "Per-operation latency reported by the workloads that measure it (median over rounds of each percentile). Log scale.",
  );
  const grid = h("div", { class: "charts" });
  sec.append(grid);
  const dash: Record<string, string> = { p50_ns: "p50", p99_ns: "p99", max_ns: "max" };
  const opacity: Record<string, number> = { p50_ns: 1, p99_ns: 0.75, max_ns: 0.5 };
  const pattern: Record<string, string> = { p50_ns: "", p99_ns: "/", max_ns: "x" };
  for (const b of benches) {
    const info = benchInfo(r, b);
    const allocs = v.allocs.filter((a) => samplesOf(r, b, a).length > 0);
    const data = LATENCY_KEYS.map((k) => ({
      type: "bar",
      name: dash[k],
      x: allocs,
      y: allocs.map((a) => medianExtra(samplesOf(r, b, a), k)),
      marker: {
        color: allocs.map((a) => colourOf(a, v.summary.allocators)),
        opacity: opacity[k],
        pattern: { shape: pattern[k], fgcolor: "#fff", size: 6 },
      },
      hovertemplate: `%{x} ${dash[k]}: %{y:.4s} ns<extra></extra>`,
    }));
    chart(grid, data, {
      title: title(
        `${info.title} — latency p50 / p99 / max, lower is better`,
        `${b}; ns, log scale`,
      ),
      barmode: "group",
      height: 380,
      yaxis: {
        type: "log",
        title: { text: "ns (lower is better)" },
        dtick: 1,
        exponentformat: "SI",
      },
    });
  }
  return sec;
}

function rssSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section("Memory");
  const benches = v.summary.benches.filter((b) => r.samples.some((s) => s.bench === b));
  const rssMax = Math.max(1, ...v.summary.rows.map((x) => (x.medianMaxRssKiB ?? 0) / 1024));
  const rssStub = rssMax * 0.02;
  chart(
    sec,
    v.allocs.map((alloc) => {
      const rows = benches.map((b) => summaryRow(v.summary, b, alloc));
      const failed = rows.map((row) => row !== undefined && row.ok === 0);
      return {
        type: "bar",
        name: alloc,
        x: benches,
        y: rows.map((row, i) =>
          failed[i] ? rssStub : row?.medianMaxRssKiB != null ? row.medianMaxRssKiB / 1024 : null
        ),
        text: failed.map((f) => f ? "FAILED" : ""),
        textposition: "outside",
        textfont: { color: FAILED_COLOUR },
        marker: {
          color: failed.map((f) => f ? FAILED_COLOUR : colourOf(alloc, v.summary.allocators)),
        },
        hovertemplate: `${alloc} on %{x}: %{y:.1f} MiB<extra></extra>`,
      };
    }),
    {
      title: title(
        "Peak RSS per workload — lower is better",
        "median over ok rounds of the child's maxrss (getrusage), MiB",
      ),
      barmode: "group",
      height: 440,
      yaxis: { title: { text: "MiB (lower is better)" }, rangemode: "tozero" },
    },
    "chart wide",
  );
  return sec;
}

function syscallSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section(
    "System calls and page faults",
    "Medians over ok rounds; lower is better. Page faults and peak RSS come from getrusage of ",
    "the child (every allocator); mmap/munmap/madvise/mremap are hakmem's own counters (other ",
    "allocators do not report them).",
  );
  const cols = [
    "bench",
    "allocator",
    "peak RSS",
    "minflt",
    "majflt",
    "mmap",
    "munmap",
    "madvise",
    "mremap",
    "sys s",
  ];
  const rows: HTMLElement[] = [];
  for (const b of v.summary.benches) {
    for (const a of v.allocs) {
      const ss = samplesOf(r, b, a);
      if (ss.length === 0) continue;
      const row = summaryRow(v.summary, b, a);
      const ok = ss.filter((s) => s.ok);
      const sc = (k: string) => {
        const xs = ok.map((s) => hakmemView(s.hakmem)?.syscalls[k]).filter((x): x is number =>
          typeof x === "number"
        );
        return xs.length ? fmtInt(median(xs)) : "—";
      };
      rows.push(h(
        "tr",
        row && row.ok === 0 ? { class: "failed" } : null,
        h("td", null, b),
        h("td", null, a),
        h("td", { class: "num" }, row && row.ok === 0 ? "failed" : fmtKiB(row?.medianMaxRssKiB)),
        h("td", { class: "num" }, fmtInt(row?.medianMinflt)),
        h("td", { class: "num" }, fmtInt(row?.medianMajflt)),
        ["mmap", "munmap", "madvise", "mremap"].map((k) => h("td", { class: "num" }, sc(k))),
        h("td", { class: "num" }, fmtNum(median(ok.map((s) => s.sys_s)))),
      ));
    }
  }
  sec.append(h("table", { class: "grid" }, headRow(cols), rows));
  return sec;
}

function hakmemSection(v: RunView): HTMLElement | null {
  const r = v.results;
  const hakAllocs = v.allocs.filter((a) => r.samples.some((s) => s.allocator === a && s.hakmem));
  if (hakAllocs.length === 0) return null;
  const tiers = ["tiny", "mid", "large"];
  const sec = section(
    "hakmem counters",
    "From HAKMEM_STATS_FILE, medians over ok rounds. Cache hit rate = hits / (hits + misses) of ",
    "the per-thread caches (tiny, mid) and BigCache (large); higher is better. Mapped bytes: ",
    "lower is better.",
  );
  const rows: HTMLElement[] = [];
  for (const b of v.summary.benches) {
    for (const a of hakAllocs) {
      const views = samplesOf(r, b, a).filter((s) => s.ok).map((s) => hakmemView(s.hakmem)).filter((
        x,
      ) => x !== null);
      if (views.length === 0) continue;
      const med = (f: (x: NonNullable<(typeof views)[number]>) => number | null | undefined) => {
        const xs = views.map(f).filter((x): x is number =>
          typeof x === "number" && Number.isFinite(x)
        );
        return median(xs);
      };
      const rate = (t: string) => {
        const hits = med((x) => x.tiers[t]?.hits);
        const misses = med((x) => x.tiers[t]?.misses);
        if (hits === null || misses === null || hits + misses === 0) return "—";
        return `${((100 * hits) / (hits + misses)).toFixed(1)} %`;
      };
      const allocs = med((x) => tiers.reduce((s, t) => s + (x.tiers[t]?.allocs ?? 0), 0));
      const remote = med((x) => tiers.reduce((s, t) => s + (x.tiers[t]?.remote_frees ?? 0), 0));
      rows.push(h(
        "tr",
        null,
        h("td", null, b),
        h("td", null, a),
        tiers.map((t) => h("td", { class: "num" }, rate(t))),
        h("td", { class: "num" }, fmtInt(allocs)),
        h("td", { class: "num" }, fmtInt(remote)),
        h("td", { class: "num" }, fmtBytes(med((x) => x.bytesMapped))),
        h("td", { class: "num" }, fmtBytes(med((x) => x.peakMapped))),
        h("td", { class: "num" }, fmtBytes(med((x) => x.madvisedBytes))),
      ));
    }
  }
  sec.append(h(
    "table",
    { class: "grid" },
    headRow([
      "bench",
      "allocator",
      "tiny hit rate",
      "mid hit rate",
      "large hit rate",
      "allocs",
      "remote frees",
      "mapped at exit",
      "peak mapped",
      "MADV_DONTNEED bytes",
    ]),
    rows,
  ));
  return sec;
}

function resultsTableSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section("All results");
  const head = headRow(["bench", "metric", ...v.allocs]);
  const rows = v.summary.benches.map((b) => {
    const info = benchInfo(r, b);
    return h(
      "tr",
      null,
      h("td", { title: info.description }, b),
      h("td", null, `${metricUnit(info.metric)} (${better(info.higher_is_better)})`),
      v.allocs.map((a) => {
        const row = summaryRow(v.summary, b, a);
        if (!row) return h("td", { class: "num" }, "—");
        if (row.ok === 0) {
          const first = samplesOf(r, b, a).find((s) => !s.ok);
          return h("td", { class: "num failed" }, `FAILED: ${first ? failureText(first) : "?"}`);
        }
        const ratio = refRatio(row, v.reference);
        return h(
          "td",
          { class: row.failed ? "num partial" : "num" },
          h("div", null, fmtNum(row.median)),
          h("div", { class: "sub" }, `${fmtNum(row.min)}–${fmtNum(row.max)}, n=${row.ok}/${row.n}`),
          ratio !== null && a !== v.reference
            ? h("div", { class: "sub" }, `${fmtRatio(ratio)} vs ${v.reference}`)
            : null,
        );
      }),
    );
  });
  sec.append(h("table", { class: "grid results" }, head, rows));
  return sec;
}

function failuresSection(r: Results): HTMLElement {
  const failed = r.samples.filter((s) => !s.ok);
  const sec = h("section", { id: "failures" }, h("h2", null, `Failures (${failed.length})`));
  if (failed.length === 0) {
    sec.append(h("p", null, "No sample failed."));
    return sec;
  }
  // samples of one cell that failed the same way (same ending, same stderr) are shown once
  const groups = new Map<string, Sample[]>();
  for (const s of failed) {
    const key = JSON.stringify([s.bench, s.allocator, failureText(s), s.stderr_tail]);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const ss of groups.values()) {
    const s = ss[0];
    const rounds = ss.map((x) => x.round).sort((a, b) => a - b);
    const of = samplesOf(r, s.bench, s.allocator).length;
    sec.append(h(
      "div",
      { class: "failure" },
      h(
        "div",
        { class: "what" },
        `${s.bench} × ${s.allocator}, round${rounds.length > 1 ? "s" : ""} ${rounds.join(", ")} ` +
          `(${ss.length} of ${of}): ${failureText(s)}`,
      ),
      h(
        "div",
        { class: "sub" },
        `exit ${s.exit ?? "—"}, signal ${s.signal ?? "—"}, timed out ${
          s.timed_out ? "yes" : "no"
        }, ` +
          `wall ${ss.map((x) => fmtNum(x.wall_s)).join(" / ")} s`,
      ),
      h("pre", null, s.stderr_tail.trim() === "" ? "(no stderr output)" : s.stderr_tail),
    ));
  }
  return sec;
}

function renderRun(root: HTMLElement, p: Extract<ReportPayload, { kind: "run" }>): void {
  const v = view(p.results);
  root.append(
    h("h1", null, p.title),
    h("p", { class: "hint" }, `source: ${p.source}`),
    headerSection(p.results),
    overviewSection(v),
  );
  const ladder = ladderSection(v);
  if (ladder) root.append(ladder);
  root.append(workloadSection(v));
  const lat = latencySection(v);
  if (lat) root.append(lat);
  root.append(rssSection(v), syscallSection(v));
  const hak = hakmemSection(v);
  if (hak) root.append(hak);
  if (p.traces && p.traces.length > 0) root.append(learningSection(v, p.traces));
  root.append(resultsTableSection(v), failuresSection(p.results));
}

// ---------------------------------------------------------------------------------------------
// learning: the ACE traces of the run (parsed by reports/trace.ts at report-build time)

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

function learningSection(v: RunView, traces: TraceEntry[]): HTMLElement {
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
    for (const el of block.querySelectorAll<HTMLElement>(".chart")) {
      globalThis.Plotly?.purge(el);
      plotCount--;
    }
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

// ---------------------------------------------------------------------------------------------
// compare mode: run B against run A

interface Delta {
  bench: string;
  allocator: string;
  higherIsBetter: boolean;
  a: SummaryRow | undefined;
  b: SummaryRow | undefined;
  /** Change of the median value, B vs A, percent. */
  change: number | null;
  /** Direction-aware: > 0 means B is better than A. */
  improvement: number | null;
  rssChange: number | null;
}

function deltas(va: RunView, vb: RunView): Delta[] {
  const out: Delta[] = [];
  const benches = [
    ...va.summary.benches,
    ...vb.summary.benches.filter((b) => !va.summary.benches.includes(b)),
  ];
  const allocs = [...va.allocs, ...vb.allocs.filter((a) => !va.allocs.includes(a))];
  for (const bench of benches) {
    const info = benchInfo(
      vb.results.benches.some((x) => x.id === bench) ? vb.results : va.results,
      bench,
    );
    for (const allocator of allocs) {
      const a = summaryRow(va.summary, bench, allocator);
      const b = summaryRow(vb.summary, bench, allocator);
      if (!a && !b) continue;
      const am = a?.median ?? null;
      const bm = b?.median ?? null;
      const both = am !== null && bm !== null && am > 0 && bm > 0;
      const ar = a?.medianMaxRssKiB ?? null;
      const br = b?.medianMaxRssKiB ?? null;
      out.push({
        bench,
        allocator,
        higherIsBetter: info.higher_is_better,
        a,
        b,
        change: both ? (bm! / am! - 1) * 100 : null,
        improvement: both ? (normalisedRatio(bm!, am!, info.higher_is_better) - 1) * 100 : null,
        rssChange: ar !== null && br !== null && ar > 0 ? (br / ar - 1) * 100 : null,
      });
    }
  }
  return out;
}

function cellText(row: SummaryRow | undefined, r: Results, bench: string, alloc: string): Child {
  if (!row) return "not run";
  if (row.ok === 0) {
    const first = samplesOf(r, bench, alloc).find((s) => !s.ok);
    return `FAILED: ${first ? failureText(first) : "?"}`;
  }
  return `${fmtNum(row.median)} [${fmtNum(row.min)}–${fmtNum(row.max)}]`;
}

function renderCompare(root: HTMLElement, p: Extract<ReportPayload, { kind: "compare" }>): void {
  const va = view(p.a);
  const vb = view(p.b);
  const ds = deltas(va, vb);
  root.append(
    h("h1", null, p.title),
    h("p", { class: "hint" }, `A = ${p.labelA}`, h("br"), `B = ${p.labelB}`),
    h(
      "div",
      { class: "cols" },
      headerSection(p.a, `A: ${p.labelA}`),
      headerSection(p.b, `B: ${p.labelB}`),
    ),
  );
  const sec = section(
    "B vs A",
    "Medians of each run compared per (bench, allocator). The verdict is direction-aware: ",
    "“better” means more ops/s or fewer ns per op in B; changes within ±2 % are called “same” ",
    "(look at the min–max spread of both runs before trusting a small change).",
  );
  root.append(sec);
  const allocs = [...new Set(ds.map((d) => d.allocator))];
  const benches = [...new Set(ds.map((d) => d.bench))];
  const all = [...new Set([...va.summary.allocators, ...vb.summary.allocators])];
  /** Grouped bars of one percent field of the deltas, per bench and allocator. */
  const deltaChart = (
    field: "improvement" | "rssChange",
    height: number,
    text: string,
    sub: string,
    yTitle: string,
  ) =>
    chart(
      sec,
      allocs.map((alloc) => ({
        type: "bar",
        name: alloc,
        x: benches,
        y: benches.map((b) =>
          ds.find((d) => d.bench === b && d.allocator === alloc)?.[field] ?? null
        ),
        marker: { color: colourOf(alloc, all) },
        hovertemplate: `${alloc} on %{x}: %{y:+.1f} %<extra></extra>`,
      })),
      {
        title: title(text, sub),
        barmode: "group",
        height,
        yaxis: { title: { text: yTitle }, zeroline: true },
      },
      "chart wide",
    );
  deltaChart(
    "improvement",
    460,
    "Change of B against A, per bench and allocator — higher is better",
    "direction-aware percent: > 0 means B did better (more ops/s, or fewer ns per op); medians of each run",
    "% (higher is better)",
  );
  deltaChart(
    "rssChange",
    420,
    "Change of peak RSS, B against A — lower is better",
    "percent change of the median maxrss; < 0 means B used less memory",
    "% (lower is better)",
  );
  sec.append(h(
    "table",
    { class: "grid results" },
    headRow([
      "bench",
      "allocator",
      "metric",
      "A median [min–max]",
      "B median [min–max]",
      "change of value",
      "B vs A (direction-aware)",
      "peak RSS A → B",
    ]),
    ds.map((d) => {
      const info = benchInfo(p.b.benches.some((x) => x.id === d.bench) ? p.b : p.a, d.bench);
      const cls = d.improvement === null
        ? "num"
        : d.improvement > 2
        ? "num gain"
        : d.improvement < -2
        ? "num loss"
        : "num";
      const failedCell = (row: SummaryRow | undefined) => row !== undefined && row.ok === 0;
      return h(
        "tr",
        null,
        h("td", null, d.bench),
        h("td", null, d.allocator),
        h("td", null, `${metricUnit(info.metric)} (${better(d.higherIsBetter)})`),
        h(
          "td",
          { class: failedCell(d.a) ? "num failed" : "num" },
          cellText(d.a, p.a, d.bench, d.allocator),
        ),
        h(
          "td",
          { class: failedCell(d.b) ? "num failed" : "num" },
          cellText(d.b, p.b, d.bench, d.allocator),
        ),
        h("td", { class: "num" }, fmtPct(d.change)),
        h(
          "td",
          { class: cls },
          d.improvement === null
            ? "—"
            : `${fmtPct(d.improvement)} ${
              d.improvement > 2 ? "better" : d.improvement < -2 ? "worse" : "same"
            }`,
        ),
        h(
          "td",
          { class: "num" },
          `${fmtKiB(d.a?.medianMaxRssKiB)} → ${fmtKiB(d.b?.medianMaxRssKiB)}`,
        ),
      );
    }),
  ));
  const fa = failuresSection(p.a);
  fa.querySelector("h2")!.textContent = `A: ${fa.querySelector("h2")!.textContent}`;
  const fb = failuresSection(p.b);
  fb.querySelector("h2")!.textContent = `B: ${fb.querySelector("h2")!.textContent}`;
  fb.id = "failures-b";
  root.append(fa, fb);
}

// ---------------------------------------------------------------------------------------------
// entry

function loadPayload(): ReportPayload {
  let raw: unknown = globalThis.__HAKMEM_RESULTS__;
  if (raw === undefined) {
    const el = document.getElementById("results");
    if (!el || !el.textContent) throw new Error("no results embedded in the page");
    raw = JSON.parse(el.textContent);
  }
  const o = raw as Record<string, unknown>;
  if (o && (o.kind === "run" || o.kind === "compare")) return o as unknown as ReportPayload;
  // a bare results.json
  return {
    kind: "run",
    title: "hakmem bench report",
    source: "embedded results",
    results: raw as Results,
  };
}

function appRoot(): HTMLElement {
  return document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
}

/** Waits for every chart, then marks the page as drawn (with the number of charts). */
async function settle(): Promise<void> {
  await Promise.all(plotJobs);
  document.body.dataset.plots = String(plotCount);
  document.body.dataset.render = "done";
}

/** Shows `e` on the page and in the console, and marks the page as failed. */
function showError(e: unknown): void {
  const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
  appRoot().prepend(h("pre", { class: "fatal" }, `The report could not be rendered:\n${msg}`));
  document.body.dataset.render = "error";
  console.error(e);
}

async function main(): Promise<void> {
  const root = appRoot();
  try {
    const p = loadPayload();
    document.title = p.title;
    if (p.kind === "run") renderRun(root, p);
    else renderCompare(root, p);
    await settle();
  } catch (e) {
    showError(e);
  }
}

void main();
