/// <reference lib="dom" />
// hakmem's own counters (HAKMEM_STATS_FILE) per bench and variant: cache hit rates, remote frees,
// mapped bytes.

import { median } from "../../tasks/bench/stats.ts";
import { hakmemView } from "../schema.ts";
import { fmtBytes, fmtInt, h, headRow, section } from "../ui.ts";
import { type RunView, samplesOf } from "../view.ts";

export function hakmemSection(v: RunView): HTMLElement | null {
  const r = v.results;
  const hakAllocs = v.allocs.filter((a) => r.samples.some((s) => s.allocator === a && s.hakmem));
  if (hakAllocs.length === 0) return null;
  const tiers = ["tiny", "mid", "large"];
  const sec = section(
    "hakmem counters",
    "From HAKMEM_STATS_FILE, medians over ok rounds. Cache hit rate = hits / (hits + misses) of ",
    "the per-thread caches (tiny, mid) and BigCache (large); higher is better. Mapped bytes: ",
    "lower is better. Decay (HAKMEM_DECAY_MS) gives idle memory back: the bytes it gave back, ",
    "those handed out again afterwards (each page of them faulted back in: decay that came too ",
    "early) and its passes.",
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
        h("td", { class: "num" }, fmtBytes(med((x) => x.decayBytes))),
        h("td", { class: "num" }, fmtBytes(med((x) => x.refaultBytes))),
        h("td", { class: "num" }, fmtInt(med((x) => x.decayRuns))),
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
      "given back by decay",
      "faulted back in",
      "decay passes",
    ]),
    rows,
  ));
  return sec;
}
