/// <reference lib="dom" />
// The report's first section: where hakmem loses (tasks/bench/headlines.ts, the same headlines
// the terminal prints first): per reference the workloads where hakmem is slower, worst first, the
// geometric means against every peer, hakmem's rank among all allocators, and the targets, met
// only when they held in every round. Then how each source peer was built and the parity check.

import { headlines, type Ranking, verdictText } from "../../tasks/bench/headlines.ts";
import type { RunView } from "../view.ts";
import { fmtRatio, h, headRow, isHakmem, section } from "../ui.ts";

function rankTable(what: string, r: Ranking, hakmem: string): HTMLElement {
  return h(
    "table",
    { class: `grid rank rank-${what}` },
    headRow(["place", "allocator", `${what} (geomean of value relative to the best; 1 = best)`]),
    r.entries.map((e, i) =>
      h(
        "tr",
        { class: e.allocator === hakmem ? "hakmem" : "" },
        h("td", { class: "num" }, i + 1),
        h("td", null, e.allocator),
        h("td", { class: "num" }, e.score.toFixed(3)),
      )
    ),
  );
}

type Headlines = ReturnType<typeof headlines>;

/** Per reference: the geometric means and the workloads where hakmem is slower. */
function lossesTable(hl: Headlines): HTMLElement {
  return h(
    "table",
    { class: "grid losses" },
    headRow([
      "against",
      "speed geomean",
      "memory geomean",
      "slower on",
      "workloads where hakmem is slower (worst first)",
      "more memory on",
    ]),
    hl.losses.map((l) =>
      h(
        "tr",
        null,
        h("td", null, l.reference),
        h("td", { class: "num" }, fmtRatio(l.speedGeomean)),
        h("td", { class: "num" }, fmtRatio(l.memoryGeomean)),
        h("td", { class: "num" }, `${l.speed.length} of ${l.compared}`),
        h(
          "td",
          { class: "note" },
          l.speed.map((s) => `${s.bench} ${fmtRatio(s.ratio)}`).join(", ") || "none",
        ),
        h("td", { class: "num" }, l.memory.length),
      )
    ),
  );
}

/** The speed and memory ranks side by side. */
function ranks(hl: Headlines, hakmem: string): HTMLElement {
  const column = (what: "speed" | "memory", label: string, place: number | null) =>
    h(
      "div",
      null,
      h("h3", null, `${label}: ${hakmem} is ${place ?? "—"} of ${hl[what].entries.length}`),
      rankTable(what, hl[what], hakmem),
      h("p", { class: "hint" }, `over ${hl[what].benches.length} workloads`),
    );
  return h(
    "div",
    { class: "cols" },
    column("speed", "Speed", hl.speedRank),
    column("memory", "Memory", hl.memoryRank),
  );
}

/** Each reference's targets (as fast, as little memory) and how they fared over the rounds. */
function targetsTable(hl: Headlines): HTMLElement {
  return h(
    "table",
    { class: "grid targets" },
    headRow(["target", "verdict"]),
    hl.losses.flatMap((l) => [
      h(
        "tr",
        null,
        h("td", null, `as fast as ${l.reference}`),
        h("td", null, verdictText(l.rounds.speedMet, l.rounds.speed)),
      ),
      h(
        "tr",
        null,
        h("td", null, `as little memory as ${l.reference}`),
        h("td", null, verdictText(l.rounds.memoryMet, l.rounds.memory)),
      ),
    ]),
  );
}

/** Which build of each source peer ran, and why (nothing when no peer records one). */
function peerBuilds(v: RunView): HTMLElement[] {
  const peers = v.results.allocators.filter((a) => a.build_choice);
  if (peers.length === 0) return [];
  return [
    h("h3", null, "Peers as built"),
    h(
      "table",
      { class: "grid peer-builds" },
      headRow(["peer", "version", "build used", "compiler", "flags", "why"]),
      peers.map((a) => {
        const c = a.build_choice!;
        const b = a.builds?.find((x) => x.kind === c.kind);
        return h(
          "tr",
          { class: c.fallback ? "failed" : "" },
          h("td", null, a.name),
          h("td", null, a.version ?? "—"),
          h("td", null, c.fallback ? `${c.kind} (fallback)` : c.kind),
          h("td", { class: "note" }, b?.compiler ?? "—"),
          h("td", { class: "note mono" }, b?.flags ?? "—"),
          h("td", { class: "note" }, c.why),
        );
      }),
    ),
  ];
}

/** The parity records the peers' builds were chosen by. */
function parityTable(v: RunView): HTMLElement[] {
  const parity = v.results.peer_parity ?? [];
  if (parity.length === 0) return [];
  const ids = parity[0].workloads.map((w) => w.id);
  return [
    h("h3", null, "Peer parity: upstream build against zig build (> 1: upstream faster)"),
    h(
      "table",
      { class: "grid parity" },
      headRow(["peer", ...ids, "geomean", "faster", "measured"]),
      parity.map((p) =>
        h(
          "tr",
          null,
          h("td", null, p.peer),
          ids.map((id) =>
            h("td", { class: "num" }, fmtRatio(p.workloads.find((w) => w.id === id)?.ratio))
          ),
          h("td", { class: "num" }, fmtRatio(p.geomean)),
          h("td", null, p.faster ?? "—"),
          h("td", null, `${p.measured.slice(0, 16)}, ${p.rounds} rounds`),
        )
      ),
    ),
  ];
}

export function headlinesSection(v: RunView): HTMLElement | null {
  const hakmem = v.allocs.find(isHakmem);
  if (!hakmem) return null;
  const hl = headlines(v.results, v.summary, hakmem);
  const sec = section(
    `Where ${hakmem} loses`,
    "Per reference, the workloads where hakmem is slower (ratio < 1), worst first, and the ",
    "geometric means of speed and memory against it (> 1: hakmem better). The rank orders all ",
    "allocators by their geometric mean over the workloads of their value relative to each ",
    "workload's best, so no single baseline's anomaly decides it. A target is met only when it ",
    "held in every round; a run of one round gives indications only.",
  );
  sec.append(
    lossesTable(hl),
    ranks(hl, hakmem),
    h("h3", null, `Targets (${hl.rounds === 1 ? "one round: indications only" : "every round"})`),
    targetsTable(hl),
    ...peerBuilds(v),
    ...parityTable(v),
  );
  return sec;
}
