/// <reference lib="dom" />
// The head of a run's report: the machine, the parameters (duration of the runs included) and
// every allocator with its version and where it came from (crate and sha256, Debian package),
// the unavailable ones with the reason.

import type { Results } from "../schema.ts";
import { colourOf, h, headRow, kv } from "../ui.ts";

export function headerSection(r: Results, label?: string): HTMLElement {
  const m = r.machine;
  const p = r.params;
  const names = r.allocators.map((x) => x.name);
  const allocRows = r.allocators.map((a) =>
    h(
      "tr",
      { class: a.available ? "ok" : "unavailable" },
      h(
        "td",
        null,
        h("span", { class: "swatch", style: `background:${colourOf(a.name, names)}` }),
        a.name,
      ),
      h("td", null, a.kind),
      h("td", null, a.version ?? "—"),
      h("td", null, a.available ? "available" : "unavailable"),
      h("td", { class: "note" }, a.source ?? "—"),
      h(
        "td",
        { class: "note" },
        a.lib ? h("div", { class: "mono" }, a.lib) : null,
        a.build
          ? h("details", null, h("summary", null, "build"), h("div", { class: "mono" }, a.build))
          : null,
      ),
      h("td", { class: "note" }, a.note ?? ""),
    )
  );
  const duration = p.duration_s === null
    ? "the profile's scale"
    : `about ${p.duration_s} s per run (scales calibrated under ${p.calibrated_with ?? "glibc"})`;
  return h(
    "section",
    { class: "header" },
    label ? h("h2", null, label) : null,
    h(
      "div",
      { class: "cols" },
      h(
        "div",
        null,
        h("h3", null, "Machine"),
        kv([
          ["CPU", m.cpu],
          ["cores", m.cores],
          ["kernel", m.kernel],
          ["glibc", m.glibc],
          ["zig", m.zig],
          ["deno", m.deno],
          ["commit", m.commit ?? "—"],
          ["created", r.created],
        ]),
      ),
      h(
        "div",
        null,
        h("h3", null, "Parameters"),
        kv([
          ["profile", p.profile],
          ["duration", duration],
          ["benches", p.benches.join(", ")],
          ["allocators", p.allocators.join(", ")],
          ["baseline", p.baseline],
          ["hakmem modes", p.modes.join(", ")],
          ["repeat", p.repeat],
          ["threads", p.threads],
          ["seed", p.seed],
          ["instructions", p.instructions ? "counted under callgrind" : "not counted"],
        ]),
      ),
    ),
    h("h3", null, "Allocators"),
    h(
      "table",
      { class: "grid allocators" },
      headRow(["allocator", "kind", "version", "status", "source", "library", "note"]),
      allocRows,
    ),
  );
}
