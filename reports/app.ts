/// <reference lib="dom" />
// The bench report page (browser code, bundled by reports/build_report.ts with esbuild into one
// self-contained index.html). It renders from the payload embedded in the page
// (`globalThis.__HAKMEM_RESULTS__`, else `<script type="application/json" id="results">`): one run,
// or two runs side by side ("compare"). Charts use plotly.js (the global `Plotly`, inlined into the
// page before this script). Statistics come from tasks/bench_stats.ts, the same module the bench
// driver prints its table with, so the page and the terminal agree.
//
// When everything is drawn, <body> gets data-render="done" and data-plots="<number of charts>";
// on an error data-render="error" (and the error is shown on the page and in the console).

import {
  median,
  normalisedRatio,
  type Results,
  type Sample,
  summarize,
  type Summary,
  type SummaryRow,
  summaryRow,
} from "../tasks/bench_stats.ts";
import { hakmemView, type ReportPayload } from "./schema.ts";

interface PlotlyLike {
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

function colourOf(alloc: string, all: string[]): string {
  if (PALETTE[alloc]) return PALETTE[alloc];
  const hak = all.filter((a) => !PALETTE[a]);
  return HAKMEM_SHADES[Math.max(0, hak.indexOf(alloc)) % HAKMEM_SHADES.length];
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
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fafafa",
      ...layout,
    }, PLOT_CONFIG),
  );
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
      colours.push(failed ? FAILED_COLOUR : colourOf(alloc, v.allocs));
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
      textposition: "auto",
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
    shapes: [{
      type: "line",
      xref: "paper",
      x0: 0,
      x1: 1,
      y0: 1,
      y1: 1,
      line: { color: "#444", dash: "dot", width: 1 },
    }],
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

function workloadSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section(
    "Per workload",
    "Median of the rounds, error bars from the fastest to the slowest sample. Labels give the ",
    `ratio against ${v.reference} (> 1: better). A failed cell is marked in red on the chart and `,
    "listed under Failures.",
  );
  const grid = h("div", { class: "charts" });
  sec.append(grid);
  for (const b of v.summary.benches) {
    const info = benchInfo(r, b);
    const allocs = v.allocs.filter((a) => samplesOf(r, b, a).length > 0);
    if (allocs.length === 0) continue;
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
      marker: { color: allocs.map((a) => colourOf(a, v.allocs)) },
      text: rows.map((row) => {
        const ratio = refRatio(row, v.reference);
        return row && row.ok > 0
          ? `${fmtNum(row.median)}${ratio !== null ? ` (${fmtRatio(ratio)})` : ""}`
          : "";
      }),
      textposition: "auto",
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
      height: 340,
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
        color: allocs.map((a) => colourOf(a, v.allocs)),
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
        marker: { color: failed.map((f) => f ? FAILED_COLOUR : colourOf(alloc, v.allocs)) },
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
    workloadSection(v),
  );
  const lat = latencySection(v);
  if (lat) root.append(lat);
  root.append(rssSection(v), syscallSection(v));
  const hak = hakmemSection(v);
  if (hak) root.append(hak);
  root.append(resultsTableSection(v), failuresSection(p.results));
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
  const all = [...new Set([...va.allocs, ...vb.allocs])];
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

async function main(): Promise<void> {
  const root = document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
  try {
    const p = loadPayload();
    document.title = p.title;
    if (p.kind === "run") renderRun(root, p);
    else renderCompare(root, p);
    await Promise.all(plotJobs);
    document.body.dataset.plots = String(plotCount);
    document.body.dataset.render = "done";
  } catch (e) {
    const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
    root.prepend(h("pre", { class: "fatal" }, `The report could not be rendered:\n${msg}`));
    document.body.dataset.render = "error";
    console.error(e);
  }
}

void main();
