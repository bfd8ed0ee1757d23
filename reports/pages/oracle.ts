/// <reference lib="dom" />
// The Oracle section (a run with --oracle): per workload, hakmem's learning variant against
// balanced and against the best of the grid's fixed configurations, the fixed configuration that
// holds least memory over time, the targets, and per workload the speed–memory trade of
// every configuration against balanced. The numbers come from tasks/bench/oracle_stats.ts, as in
// the terminal's summary.

import {
  type OracleTable,
  oracleTable,
  tradePoints,
  variantLabel,
} from "../../tasks/bench/oracle_stats.ts";
import {
  chart,
  colourOf,
  fmtNum,
  fmtRatio,
  h,
  headRow,
  ratioAxis,
  section,
  title,
  unitLine,
} from "../ui.ts";
import type { RunView } from "../view.ts";

/** A ratio cell: green when learning does better than the other, red when worse (speed: > 1 is
 * better; MiB·s: < 1 is better). */
function cell(r: number | null, lowerIsBetter = false): HTMLElement {
  const good = r !== null && (lowerIsBetter ? r < 1 : r > 1);
  const bad = r !== null && (lowerIsBetter ? r > 1 : r < 1);
  return h("td", { class: `num${good ? " gain" : bad ? " loss" : ""}` }, fmtRatio(r));
}

/** The configurations picked on the other rounds, one per round, each named once ("—": one
 * round, nothing held out). */
function heldOutLabel(picks: string[]): string {
  return picks.length === 0 ? "—" : [...new Set(picks)].map(variantLabel).join(", ");
}

function verdictTable(t: OracleTable, baseline: string): HTMLElement {
  const label = (a: string | null) => (a === null ? "—" : variantLabel(a));
  return h(
    "table",
    { class: "grid oracle" },
    headRow([
      "bench",
      "speed ÷ balanced",
      "MiB·s ÷ balanced",
      "best fixed by speed",
      "speed ÷ it",
      "MiB·s ÷ it",
      "best fixed, picked on the other rounds",
      "speed ÷ it",
      "least RSS·time (fixed)",
      "its speed ÷ balanced",
      "its MiB·s ÷ balanced",
      "MiB·s ÷ it",
      `speed ÷ ${baseline}`,
      "MiB·s (learning, balanced)",
      "learning's run",
    ]),
    t.rows.map((r) =>
      h(
        "tr",
        null,
        h("td", null, r.bench),
        cell(r.speedVsBalanced),
        cell(r.mibsVsBalanced, true),
        h("td", { class: "mono" }, label(r.bestSpeed)),
        cell(r.speedVsBest),
        cell(r.mibsVsBest, true),
        h("td", { class: "mono" }, heldOutLabel(r.bestHeldOut)),
        cell(r.speedVsBestHeldOut),
        h("td", { class: "mono" }, label(r.bestMemory)),
        h("td", { class: "num" }, fmtRatio(r.bestMemorySpeedVsBalanced)),
        h("td", { class: "num" }, fmtRatio(r.bestMemoryMibsVsBalanced)),
        cell(r.mibsVsBestMemory, true),
        cell(r.speedVsBaseline),
        h("td", { class: "num" }, `${fmtNum(r.learningMibs)}, ${fmtNum(r.balancedMibs)}`),
        h(
          "td",
          { class: "num" },
          r.learningWallS === null ? "—" : `${r.learningWallS.toFixed(1)} s`,
        ),
      )
    ),
    h(
      "tr",
      null,
      h("th", null, "geometric mean"),
      cell(t.geomeanSpeedVsBalanced),
      cell(t.geomeanMibsVsBalanced, true),
      h("td", null, ""),
      cell(t.geomeanSpeedVsBest),
      h("td", { colspan: "2" }, ""),
      cell(t.geomeanSpeedVsBestHeldOut),
      h("td", { colspan: "8" }, ""),
    ),
  );
}

/** Points of a trade chart that still get their names beside them. */
const MAX_LABELLED_POINTS = 8;

/** Per bench: every configuration's speed against its MiB·s, both against balanced. */
function tradeCharts(sec: HTMLElement, v: RunView, t: OracleTable): void {
  const grid = h("div", { class: "charts" });
  sec.append(grid);
  for (const r of t.rows) {
    const points = tradePoints(v.results, v.summary, r.bench)
      .filter((p) => p.speed !== null && p.mibs !== null);
    if (points.length === 0) continue;
    // the default grid's 25 labels would cover one another: past a few, names are on hover only
    const labelled = points.length <= MAX_LABELLED_POINTS;
    chart(
      grid,
      points.map((p) => ({
        type: "scatter",
        mode: labelled ? "markers+text" : "markers",
        name: variantLabel(p.allocator),
        x: [p.mibs],
        y: [p.speed],
        text: [variantLabel(p.allocator).replace(/^oracle-/, "")],
        textposition: "top center",
        textfont: { size: 9 },
        marker: {
          size: p.allocator === t.learning ? 14 : 9,
          symbol: p.allocator === t.learning ? "star" : "circle",
          color: colourOf(p.allocator, v.summary.allocators),
        },
        hovertemplate: `${p.allocator}: speed %{y:.2f}× balanced, MiB·s %{x:.2f}× ` +
          "balanced<extra></extra>",
      })),
      {
        title: title(
          `${r.bench}: the speed–memory trade`,
          "each configuration against balanced; up is faster, left holds less memory over time; " +
            "the star is learning",
        ),
        height: 400,
        showlegend: false,
        xaxis: ratioAxis("MiB·s ÷ balanced's (lower is better)", points.map((p) => p.mibs)),
        yaxis: ratioAxis("speed ÷ balanced's (higher is better)", points.map((p) => p.speed)),
        shapes: [
          unitLine(),
          { ...unitLine(), xref: "x", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1 },
        ],
      },
    );
  }
}

export function oracleSection(v: RunView): HTMLElement | null {
  const t = oracleTable(v.results, v.summary);
  if (!t || t.rows.length === 0) return null;
  const o = v.results.oracle!;
  const p = v.results.params;
  const sec = section(
    "Oracle: learning against fixed configurations",
    `${variantLabel(t.learning)} against ${variantLabel(t.balanced)} and the fixed `,
    `configurations of the grid ${o.grid} (each: balanced with those variables), `,
    p.duration_s !== null
      ? `on runs of about ${p.duration_s} s under ${p.calibrated_with ?? "glibc"} (the scales ` +
        "calibrated there: other configurations' runs take longer or shorter; memory_return "
      : "at the profile's scale (no --duration; ",
    p.duration_s !== null ? "keeps its size), " : "runs this short judge little learning), ",
    `${p.repeat} round(s); the last column is how long learning's runs took (ACE's time to `,
    "learn). Speed ratios > 1: learning is ",
    "faster. MiB·s is the RSS integrated ",
    "over the run (hakrun's 10 ms samples): learning's over the other's, so < 1 means it held ",
    "less memory over time; for the same work, a faster run also holds its memory for less ",
    "time. Ratios are medians of per-round pairs. The machine has few cores and is shared: ",
    "wall-time figures are noisy.",
  );
  sec.append(verdictTable(t, p.baseline));
  sec.append(
    h("h3", null, "The issue's targets"),
    h(
      "ul",
      { class: "targets" },
      t.targets.map((g) =>
        h(
          "li",
          null,
          h(
            "span",
            { class: g.met === null ? "" : g.met ? "gain" : "loss" },
            g.met === null ? "n/a" : g.met ? "met" : "missed",
          ),
          `: ${g.what} — ${g.detail}`,
        )
      ),
    ),
  );
  tradeCharts(sec, v, t);
  return sec;
}
