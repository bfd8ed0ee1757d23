/// <reference lib="dom" />
// Memory as a first-class result: each bench's memory figure per allocator, the RSS curves of
// the benches where memory moves (hakrun samples every 10 ms), what the memory programs measured
// at each of their phases, and the details per run: peak and mean RSS, MiB·s, page faults and
// hakmem's own system calls.

import { median, summaryRow } from "../../tasks/bench/stats.ts";
import { hakmemView, type Sample } from "../schema.ts";
import {
  chart,
  colourOf,
  FAILED_COLOUR,
  fmtInt,
  fmtKiB,
  fmtNum,
  h,
  headRow,
  section,
  title,
} from "../ui.ts";
import { benchInfo, type RunView, samplesOf } from "../view.ts";

/** A curve "moves" when its range is at least this share of its peak… */
const MOVING_SHARE = 0.25;
/** …and its peak at least this many KiB (small programs' start-up is not movement). */
const MOVING_MIN_KIB = 16 * 1024;

/** What the memory programs report besides their value, by program: [key, column title]. */
const PROGRAM_MEMORY: Record<string, [string, string][]> = {
  memory_return: [
    ["rss_start_kib", "start"],
    ["rss_peak_kib", "all allocated"],
    ["rss_freed_kib", "99 % freed"],
    ["rss_idle_kib", "after idle"],
    ["rss_work_kib", "after light work"],
    ["rss_trim_kib", "after malloc_trim"],
    ["live_kib", "still live"],
  ],
  survivors: [
    ["live_end_kib", "live at the end"],
    ["rss_end_kib", "RSS at the end"],
    ["frag_end", "RSS per live byte, end"],
    ["frag_max", "RSS per live byte, max"],
  ],
  fragment: [["peak_live_kib", "peak live"], ["end_live_kib", "live at the end"]],
};

/** The phases memory_return marks on its curve: [result key, label]. */
const PHASES: [string, string][] = [
  ["t_alloc_s", "allocated"],
  ["t_freed_s", "freed"],
  ["t_idle_s", "idle"],
  ["t_work_s", "work"],
  ["t_trim_s", "trim"],
];

/** The sample whose curve stands for (bench, alloc): the first ok one with a curve. */
function curveSample(v: RunView, bench: string, alloc: string): Sample | undefined {
  return samplesOf(v.results, bench, alloc).find((s) => s.ok && s.rss && s.rss.curve.length > 1);
}

function moves(s: Sample): boolean {
  const ys = s.rss!.curve.map((p) => p[1]);
  const hi = Math.max(...ys);
  return hi >= MOVING_MIN_KIB && (hi - Math.min(...ys)) / hi >= MOVING_SHARE;
}

/** The memory figure of every allocator per bench (MiB), failed cells as red stubs. */
function figureChart(sec: HTMLElement, v: RunView, benches: string[]): void {
  const top = Math.max(1, ...v.summary.rows.map((x) => (x.medianMemKiB ?? 0) / 1024));
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
          failed[i] ? top * 0.02 : row?.medianMemKiB != null ? row.medianMemKiB / 1024 : null
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
        "Memory figure per workload — lower is better",
        "median over ok rounds: the child's peak RSS (getrusage), or the bench's own figure " +
          "(memory_return: RSS after the light work), MiB",
      ),
      barmode: "group",
      height: 440,
      yaxis: { title: { text: "MiB (lower is better)" }, rangemode: "tozero" },
    },
    "chart wide",
  );
}

/** The RSS over time of every allocator on `bench` (memory_return: its phases marked). */
function curveChart(grid: HTMLElement, v: RunView, bench: string): void {
  const data: Record<string, unknown>[] = [];
  for (const alloc of v.allocs) {
    const s = curveSample(v, bench, alloc);
    if (!s) continue;
    const colour = colourOf(alloc, v.summary.allocators);
    const curve = s.rss!.curve;
    data.push({
      type: "scatter",
      mode: "lines",
      name: alloc,
      x: curve.map((p) => p[0]),
      y: curve.map((p) => p[1] / 1024),
      line: { color: colour, width: 1.5, shape: "hv" },
      hovertemplate: `${alloc}: %{y:.1f} MiB at %{x:.2f} s<extra></extra>`,
    });
    const marks = PHASES.filter(([k]) => typeof s.result?.[k] === "number");
    if (marks.length > 0) {
      const at = (t: number) => {
        const p = curve.reduce((
          best,
          q,
        ) => (Math.abs(q[0] - t) < Math.abs(best[0] - t) ? q : best));
        return p[1] / 1024;
      };
      data.push({
        type: "scatter",
        mode: "markers",
        name: `${alloc} phases`,
        showlegend: false,
        x: marks.map(([k]) => s.result![k]),
        y: marks.map(([k]) => at(s.result![k] as number)),
        text: marks.map(([, label]) => label),
        marker: { color: colour, size: 7, symbol: "diamond" },
        hovertemplate: `${alloc}: %{text} at %{x:.2f} s<extra></extra>`,
      });
    }
  }
  const info = benchInfo(v.results, bench);
  chart(grid, data, {
    title: title(
      `${info.title} — RSS over time, lower is better`,
      `${bench}; round ${curveSample(v, bench, v.allocs[0])?.round ?? 0} of each allocator, ` +
        "sampled every 10 ms by hakrun (diamonds: the program's phases)",
    ),
    height: 400,
    xaxis: { title: { text: "seconds since start" } },
    yaxis: { title: { text: "RSS, MiB (lower is better)" }, rangemode: "tozero" },
  });
}

/** Medians of what a memory program measured, per allocator. */
function programTable(v: RunView, bench: string): HTMLElement | null {
  const keys = PROGRAM_MEMORY[benchInfo(v.results, bench).program];
  const value = (alloc: string, key: string) =>
    median(
      samplesOf(v.results, bench, alloc).filter((s) => s.ok)
        .map((s) => s.result?.[key]).filter((x): x is number => typeof x === "number"),
    );
  if (!keys || !v.allocs.some((a) => keys.some(([k]) => value(a, k) !== null))) return null;
  const cell = (alloc: string, key: string) => {
    const m = value(alloc, key);
    return key.endsWith("_kib") ? fmtKiB(m) : fmtNum(m);
  };
  return h(
    "div",
    null,
    h("h3", null, `${bench}: what the program measured (medians; lower is better)`),
    h(
      "table",
      { class: "grid program-memory" },
      headRow(["allocator", ...keys.map(([, label]) => label)]),
      v.allocs.filter((a) => samplesOf(v.results, bench, a).some((s) => s.ok)).map((a) =>
        h("tr", null, h("td", null, a), keys.map(([k]) => h("td", { class: "num" }, cell(a, k))))
      ),
    ),
  );
}

/** Per (bench, allocator): the memory numbers of the runs and hakmem's system calls. */
function detailTable(v: RunView): HTMLElement {
  const cols = [
    "bench",
    "allocator",
    "memory figure",
    "peak RSS",
    "mean RSS",
    "MiB·s",
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
      const ss = samplesOf(v.results, b, a);
      if (ss.length === 0) continue;
      const row = summaryRow(v.summary, b, a);
      const ok = ss.filter((s) => s.ok);
      const med = (f: (s: Sample) => number | null | undefined) =>
        median(ok.map(f).filter((x): x is number => typeof x === "number"));
      const sc = (k: string) => fmtInt(med((s) => hakmemView(s.hakmem)?.syscalls[k]));
      const mean = med((s) => (s.rss && s.wall_s > 0 ? s.rss.mib_s * 1024 / s.wall_s : null));
      const failed = row !== undefined && row.ok === 0;
      rows.push(h(
        "tr",
        failed ? { class: "failed" } : null,
        h("td", null, b),
        h("td", null, a),
        h("td", { class: "num" }, failed ? "failed" : fmtKiB(row?.medianMemKiB)),
        h("td", { class: "num" }, fmtKiB(row?.medianMaxRssKiB)),
        h("td", { class: "num" }, fmtKiB(mean)),
        h("td", { class: "num" }, fmtNum(row?.medianMibS)),
        h("td", { class: "num" }, fmtInt(row?.medianMinflt)),
        h("td", { class: "num" }, fmtInt(row?.medianMajflt)),
        ["mmap", "munmap", "madvise", "mremap"].map((k) => h("td", { class: "num" }, sc(k))),
        h("td", { class: "num" }, fmtNum(med((s) => s.sys_s))),
      ));
    }
  }
  return h(
    "div",
    null,
    h("h3", null, "Per run: memory, page faults and system calls (medians over ok rounds)"),
    h("table", { class: "grid" }, headRow(cols), rows),
  );
}

export function memorySection(v: RunView): HTMLElement {
  const sec = section(
    "Memory",
    "Lower is better throughout. Peak RSS and page faults come from getrusage of the child ",
    "(every allocator); mean RSS and MiB·s from hakrun's samples every 10 ms; mmap/munmap/",
    "madvise/mremap are hakmem's own counters (other allocators do not report them).",
  );
  const benches = v.summary.benches.filter((b) => v.results.samples.some((s) => s.bench === b));
  figureChart(sec, v, benches);
  const moving = benches.filter((b) =>
    v.allocs.some((a) => {
      const s = curveSample(v, b, a);
      return s !== undefined && moves(s);
    })
  );
  if (moving.length > 0) {
    sec.append(h("h3", null, "RSS over time, where memory moves"));
    const grid = h("div", { class: "charts" });
    sec.append(grid);
    for (const b of moving) curveChart(grid, v, b);
  }
  for (const b of benches) {
    const t = programTable(v, b);
    if (t) sec.append(t);
  }
  sec.append(detailTable(v));
  return sec;
}
