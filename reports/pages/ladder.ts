/// <reference lib="dom" />
// The feature ladder: the hakmem variants of the run (e.g. --ladder) against glibc, in run order,
// one line per bench and the geometric mean.

import { overallRatio, REFERENCE_GLIBC, speedRatio, summaryRow } from "../../tasks/bench/stats.ts";
import { chart, FAILED_COLOUR, FAILED_STUB, isHakmem, section, title, unitLine } from "../ui.ts";
import type { RunView } from "../view.ts";

/** The hakmem variants of the run against glibc, in the order of results.allocators (the bench
 * lists a feature ladder such as hakmem-minimal, hakmem-minimal+bigcache, …); null with fewer
 * than three variants or without glibc. */
export function ladderSection(v: RunView): HTMLElement | null {
  // an oracle's grid is no ladder (its section shows it)
  const grid = new Set(v.results.oracle?.fixed.filter((a) => a !== v.results.oracle?.balanced));
  const variants = v.allocs.filter((a) => isHakmem(a) && !grid.has(a));
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
    y: variants.map((a) => speedRatio(v.summary, b, a, REFERENCE_GLIBC)),
    // plotly's colour cycle has ten colours: later benches are told apart by a dotted line
    line: { width: 1.5, dash: i < 10 ? "solid" : "dot" },
    hovertemplate: `${b}, %{x}: ×%{y:.2f} vs glibc<extra></extra>`,
  }));
  data.push({
    type: "scatter",
    mode: "lines+markers",
    name: "geometric mean",
    x: variants,
    y: variants.map((a) => overallRatio(v.summary, a, REFERENCE_GLIBC, "speed")),
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
