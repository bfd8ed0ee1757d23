/// <reference lib="dom" />
// Per workload: each allocator's median with its spread (the best peer outlined), and the
// latency percentiles of the workloads that measure them.

import { better, chart, colourOf, fmtNum, fmtRatio, h, metricUnit, section, title } from "../ui.ts";
import { summaryRow } from "../../tasks/bench/stats.ts";
import {
  benchInfo,
  failureText,
  LATENCY_KEYS,
  medianExtra,
  refRatio,
  type RunView,
  samplesOf,
} from "../view.ts";

export function workloadSection(v: RunView): HTMLElement {
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
    const best = v.summary.bestPeer[b];
    chart(grid, [{
      type: "bar",
      x: allocs,
      y,
      // the best peer of the bench has a black outline
      marker: {
        color: allocs.map((a) => colourOf(a, v.summary.allocators)),
        line: { color: "#000", width: allocs.map((a) => (a === best ? 2 : 0)) },
      },
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
        `${b}${best ? ` — best peer: ${best}` : ""}: ${info.description}`.slice(0, 140),
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

export function latencySection(v: RunView): HTMLElement | null {
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
