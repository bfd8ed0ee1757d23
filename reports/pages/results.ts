/// <reference lib="dom" />
// Every result of the run in one table (median, spread, ratio against the reference; the best
// peer of each bench marked) and every failed sample with how it ended and its stderr.

import { summaryRow } from "../../tasks/bench/stats.ts";
import type { Results, Sample } from "../schema.ts";
import { better, fmtNum, fmtRatio, h, headRow, metricUnit, section } from "../ui.ts";
import { benchInfo, failureText, refRatio, type RunView, samplesOf } from "../view.ts";

export function resultsTableSection(v: RunView): HTMLElement {
  const r = v.results;
  const sec = section("All results");
  const head = headRow(["bench", "metric", ...v.allocs]);
  const rows = v.summary.benches.map((b) => {
    const info = benchInfo(r, b);
    return h(
      "tr",
      null,
      h(
        "td",
        { title: info.description },
        b,
        v.summary.bestPeer[b]
          ? h("div", { class: "sub" }, `best peer: ${v.summary.bestPeer[b]}`)
          : null,
      ),
      h("td", null, `${metricUnit(info.metric)} (${better(info.higher_is_better)})`),
      v.allocs.map((a) => {
        const row = summaryRow(v.summary, b, a);
        if (!row) return h("td", { class: "num" }, "—");
        if (row.ok === 0) {
          const first = samplesOf(r, b, a).find((s) => !s.ok);
          return h("td", { class: "num failed" }, `FAILED: ${first ? failureText(first) : "?"}`);
        }
        const ratio = refRatio(row, v.reference);
        const best = v.summary.bestPeer[b] === a ? " best" : "";
        return h(
          "td",
          { class: (row.failed ? "num partial" : "num") + best },
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

export function failuresSection(r: Results): HTMLElement {
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
