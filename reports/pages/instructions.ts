/// <reference lib="dom" />
// Instructions per operation under callgrind (bench --instructions): deterministic counts that
// show a fast-path change where wall time on a shared machine cannot.

import type { Results } from "../schema.ts";
import { chart, colourOf, fmtNum, fmtRatio, h, headRow, section, title } from "../ui.ts";

export function instructionsSection(r: Results): HTMLElement | null {
  const ins = r.instructions;
  if (!ins || ins.counts.length === 0) return null;
  const all = r.allocators.map((a) => a.name);
  const allocs = all.filter((a) => ins.counts.some((c) => c.allocator === a));
  const base = r.params.baseline;
  const count = (w: string, a: string) =>
    ins.counts.find((c) => c.workload === w && c.allocator === a);
  const sec = section(
    "Instructions per operation (callgrind)",
    "Each workload ran twice under valgrind --tool=callgrind with the allocator preloaded, at ",
    "a scale and at twice that scale; the count is the difference of the two runs' instructions ",
    "over the difference of their operations, so start-up and set-up cancel. The workloads' own ",
    "instructions (the loop, content checks) are the same for every allocator. Lower is better; ",
    "deterministic, unlike the timings. Under each count: the branches mispredicted per op in ",
    "the same runs (callgrind's --branch-sim, a simple model of a predictor; a real core predicts ",
    "better, but a branch on the program's sizes or addresses shows in both).",
  );
  chart(
    sec,
    allocs.map((a) => ({
      type: "bar",
      name: a,
      x: ins.workloads.map((w) => w.id),
      y: ins.workloads.map((w) => count(w.id, a)?.per_op ?? null),
      marker: { color: colourOf(a, all) },
      hovertemplate: `${a} on %{x}: %{y:.1f} instructions per op<extra></extra>`,
    })),
    {
      title: title(
        "Instructions per operation — lower is better",
        "callgrind Ir per op (see each workload's op below); log scale",
      ),
      barmode: "group",
      height: 420,
      yaxis: { type: "log", title: { text: "instructions per op (lower is better)" } },
    },
    "chart wide",
  );
  sec.append(h(
    "table",
    { class: "grid instructions" },
    headRow(["workload", "op", ...allocs]),
    ins.workloads.map((w) => {
      const ref = count(w.id, base)?.per_op ?? null;
      return h(
        "tr",
        null,
        h("td", { title: w.args.join(" ") }, `${w.id}: ${w.title}`),
        h("td", null, w.op),
        allocs.map((a) => {
          const c = count(w.id, a);
          if (!c) return h("td", { class: "num" }, "—");
          if (!c.ok) return h("td", { class: "num failed" }, `FAILED: ${c.note}`);
          return h(
            "td",
            { class: "num" },
            h("div", null, fmtNum(c.per_op)),
            ref !== null && a !== base && c.per_op
              ? h("div", { class: "sub" }, `${fmtRatio(c.per_op / ref)} of ${base}`)
              : null,
            c.mispredicts_per_op != null
              ? h("div", { class: "sub" }, `${c.mispredicts_per_op.toFixed(2)} mispredicted`)
              : null,
          );
        }),
      );
    }),
  ));
  return sec;
}
