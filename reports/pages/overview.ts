/// <reference lib="dom" />
// The overview of a run: speed and memory of every allocator relative to the reference (the
// baseline peer, else glibc) per bench, on log axes so that one outlier does not flatten the
// rest; each bench names its best peer. Then the geometric means, and hakmem against each other
// allocator.

import { overallRatio, summaryRow } from "../../tasks/bench/stats.ts";
import {
  chart,
  colourOf,
  FAILED_COLOUR,
  FAILED_STUB,
  fmtRatio,
  h,
  headRow,
  isHakmem,
  ratioAxis,
  section,
  title,
  unitLine,
} from "../ui.ts";
import { ratioSpread, refRatio, type RunView } from "../view.ts";

/** The x labels of the overview: the bench and its best peer. */
function benchLabels(v: RunView, benches: string[]): string[] {
  return benches.map((b) => {
    const best = v.summary.bestPeer[b];
    return best ? `${b}<br><sub>best peer: ${best}</sub>` : b;
  });
}

/** Grouped bars of every allocator's speed or memory ratio against the reference, per bench. */
function ratioChart(sec: HTMLElement, v: RunView, what: "speed" | "memory"): void {
  const r = v.results;
  const benches = v.summary.benches.filter((b) => r.samples.some((s) => s.bench === b));
  const labels = benchLabels(v, benches);
  const data = v.allocs.map((alloc) => {
    const y: (number | null)[] = [];
    const plus: number[] = [];
    const minus: number[] = [];
    const text: string[] = [];
    const colours: string[] = [];
    const lines: number[] = [];
    for (const b of benches) {
      const row = summaryRow(v.summary, b, alloc);
      const ratio = refRatio(row, v.reference, what);
      const spread = ratio === null ? null : ratioSpread(r, b, alloc, v.reference, what);
      const failed = row !== undefined && row.ok === 0;
      // a failed cell: a stub bar in red labelled FAILED
      y.push(failed ? FAILED_STUB : ratio);
      colours.push(failed ? FAILED_COLOUR : colourOf(alloc, v.summary.allocators));
      plus.push(ratio !== null && spread ? Math.max(0, spread.max - ratio) : 0);
      minus.push(ratio !== null && spread ? Math.max(0, ratio - spread.min) : 0);
      text.push(failed ? "FAILED" : ratio === null ? "n/a" : fmtRatio(ratio));
      lines.push(v.summary.bestPeer[b] === alloc ? 2 : 0);
    }
    return {
      type: "bar",
      name: alloc,
      x: labels,
      y,
      text,
      // many allocators make the bars too narrow for their labels (the hover still has them)
      textposition: v.allocs.length > 6 ? "none" : "auto",
      hovertemplate: `${alloc} on %{x}: %{text} vs ${v.reference}<extra></extra>`,
      // the best peer of each bench has a black outline
      marker: { color: colours, line: { color: "#000", width: lines } },
      error_y: { type: "data", symmetric: false, array: plus, arrayminus: minus, thickness: 1 },
    };
  });
  const speed = what === "speed";
  chart(sec, data, {
    title: title(
      speed
        ? `Speed relative to ${v.reference} — higher is better`
        : `Memory relative to ${v.reference} — higher is better (less memory)`,
      speed
        ? `median over rounds of the per-round ratio (1 = ${v.reference}; ns/op inverted so > 1 ` +
          "always means faster); log scale; error bars: min–max over rounds; outlined: best peer"
        : `${v.reference}'s memory figure / the allocator's (peak RSS; memory_return: RSS ` +
          "after the light work), paired per round; log scale",
    ),
    barmode: "group",
    height: 480,
    yaxis: ratioAxis(
      `× ${v.reference} (higher is better)`,
      data.flatMap((d) => d.y.map((y, i) => (y === null ? null : y + d.error_y.array[i]))),
    ),
    shapes: [unitLine()],
  }, "chart wide");
}

export function overviewSection(v: RunView): HTMLElement {
  const sec = section(
    "Overview",
    "Every allocator against the reference, speed then memory. Each bench names its best peer ",
    "(the peer allocator with the best median; outlined in the charts).",
  );
  ratioChart(sec, v, "speed");
  ratioChart(sec, v, "memory");
  const base = v.results.params.baseline;
  const refs = [...new Set(["glibc", base])];
  const geo = (a: string, ref: string, what: "speed" | "memory") => {
    const o = v.summary.overall.find((x) => x.allocator === a)?.[what][ref];
    return o && o.geomean !== null ? `${fmtRatio(o.geomean)} (${o.benches} benches)` : "—";
  };
  sec.append(
    h("h3", null, "Geometric means over the benches (higher is better)"),
    h(
      "table",
      { class: "grid geomeans" },
      headRow([
        "allocator",
        ...refs.map((r) => `speed vs ${r}`),
        ...refs.map((r) => `memory vs ${r}`),
        "failed samples",
      ]),
      v.summary.overall.map((o) =>
        h(
          "tr",
          null,
          h("td", null, o.allocator),
          refs.map((r) => h("td", { class: "num" }, geo(o.allocator, r, "speed"))),
          refs.map((r) => h("td", { class: "num" }, geo(o.allocator, r, "memory"))),
          h("td", { class: o.failed ? "num failed" : "num" }, o.failed),
        )
      ),
    ),
  );
  const hakmems = v.allocs.filter(isHakmem);
  const others = v.allocs.filter((a) => !isHakmem(a));
  if (hakmems.length > 0 && others.length > 0) {
    sec.append(
      h("h3", null, "hakmem against each allocator (geometric means; > 1: hakmem is better)"),
      h(
        "table",
        { class: "grid versus" },
        headRow(["against", ...hakmems.flatMap((hk) => [`${hk} speed`, `${hk} memory`])]),
        others.map((o) =>
          h(
            "tr",
            null,
            h("td", null, o),
            hakmems.flatMap((hk) =>
              (["speed", "memory"] as const).map((w) =>
                h("td", { class: "num" }, fmtRatio(overallRatio(v.summary, hk, o, w)))
              )
            ),
          )
        ),
      ),
    );
  }
  return sec;
}
