/// <reference lib="dom" />
// Compare mode: run B against run A, per (bench, allocator): the change of the median (direction
// aware) and of the memory figure.

import { normalisedRatio, type SummaryRow, summaryRow } from "../../tasks/bench/stats.ts";
import type { ReportPayload, Results } from "../schema.ts";
import {
  better,
  chart,
  type Child,
  colourOf,
  fmtKiB,
  fmtNum,
  fmtPct,
  h,
  headRow,
  metricUnit,
  section,
  title,
} from "../ui.ts";
import { benchInfo, failureText, type RunView, samplesOf, view } from "../view.ts";
import { headerSection } from "./header.ts";
import { failuresSection } from "./results.ts";

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
      const ar = a?.medianMemKiB ?? null;
      const br = b?.medianMemKiB ?? null;
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

/** The table of the deltas: each (bench, allocator) with both runs' medians and the verdict. */
function deltaTable(
  p: Extract<ReportPayload, { kind: "compare" }>,
  ds: ReturnType<typeof deltas>,
): HTMLElement {
  return h(
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
      "memory figure A → B",
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
          `${fmtKiB(d.a?.medianMemKiB)} → ${fmtKiB(d.b?.medianMemKiB)}`,
        ),
      );
    }),
  );
}

export function renderCompare(
  root: HTMLElement,
  p: Extract<ReportPayload, { kind: "compare" }>,
): void {
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
    "Change of the memory figure, B against A — lower is better",
    "percent change of the median memory figure (peak RSS, or the bench's own); < 0 means B " +
      "used less memory",
    "% (lower is better)",
  );
  sec.append(deltaTable(p, ds));
  const fa = failuresSection(p.a);
  fa.querySelector("h2")!.textContent = `A: ${fa.querySelector("h2")!.textContent}`;
  const fb = failuresSection(p.b);
  fb.querySelector("h2")!.textContent = `B: ${fb.querySelector("h2")!.textContent}`;
  fb.id = "failures-b";
  root.append(fa, fb);
}
