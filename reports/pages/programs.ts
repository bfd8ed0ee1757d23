/// <reference lib="dom" />
// Real programs on the report page: the Programs section of a bench run (bench --programs) and
// the whole page of `deno task compare`. Both read results.json's `programs` record through
// tasks/programs/stats.ts, the numbers the terminal prints: the headlines (where hakmem loses
// first), time and peak RSS as ratios to glibc per program and allocator with their spread over
// the rounds, the RSS over time of every allocator (summed over the process tree), every run's
// figures and output check, and the programs themselves (package, version, command, or why one
// could not run).

import { REFERENCE_GLIBC } from "../../tasks/bench/stats.ts";
import type { ProgramSample, ProgramsRecord } from "../../tasks/bench/schema.ts";
import {
  figureColumns,
  fmtSpread,
  headlines,
  PROGRAM_METRICS,
  type ProgramMetric,
  programRow,
  type ProgramsSummary,
  summarizePrograms,
} from "../../tasks/programs/stats.ts";
import type { ReportPayload, Results } from "../schema.ts";
import {
  chart,
  colourOf,
  fmtKiB,
  fmtNum,
  h,
  headRow,
  kv,
  ratioAxis,
  section,
  title,
  unitLine,
} from "../ui.ts";

interface ProgramsView {
  rec: ProgramsRecord;
  s: ProgramsSummary;
  /** Every allocator of the run, for the colours. */
  names: string[];
}

function programsView(r: Results, rec: ProgramsRecord): ProgramsView {
  const names = r.allocators.map((a) => a.name);
  return { rec, s: summarizePrograms(rec, names), names };
}

/** The headlines as lists: the losses red and open, the wins green under a fold, the rest plain. */
function headlineList(v: ProgramsView): HTMLElement {
  const box = h("div", { class: "headlines" });
  let list: HTMLElement | null = null;
  let colour = "";
  for (const l of headlines(v.s, v.rec.repeat)) {
    if (l.startsWith("  ") && list) {
      list.append(h("li", { style: `color:${colour}` }, l.trim()));
      continue;
    }
    list = h("ul");
    if (l.startsWith("where hakmem wins")) {
      colour = "#0a7a2f";
      box.append(h("details", null, h("summary", null, l), list));
    } else {
      colour = "#b00020";
      box.append(h("p", { style: "font-weight:600;margin:6px 0 2px" }, l), list);
    }
  }
  return box;
}

/** One allocator's ratio to glibc per program, bars with the spread over rounds as error bars. */
function ratioChart(parent: HTMLElement, v: ProgramsView, metric: ProgramMetric): void {
  const label = PROGRAM_METRICS.find((m) => m.key === metric)!.label;
  const others = v.s.allocators.filter((a) => a !== REFERENCE_GLIBC);
  const all: (number | null)[] = [];
  const data = others.map((a) => {
    const spreads = v.s.programs.map((p) =>
      programRow(v.s, p, a)?.ratios[REFERENCE_GLIBC]?.[metric]
    );
    const y = spreads.map((x) => x?.median ?? null);
    all.push(...y, ...spreads.map((x) => x?.min ?? null), ...spreads.map((x) => x?.max ?? null));
    return {
      type: "bar",
      name: a,
      x: v.s.programs,
      y,
      marker: { color: colourOf(a, v.names) },
      error_y: {
        type: "data",
        symmetric: false,
        array: spreads.map((x) => (x?.max != null && x.median != null ? x.max - x.median : 0)),
        arrayminus: spreads.map((x) => (x?.min != null && x.median != null ? x.median - x.min : 0)),
        thickness: 1,
        width: 3,
      },
      hovertemplate: `${a} on %{x}: %{y:.3f}× glibc's ${label}<extra></extra>`,
    };
  });
  chart(parent, data, {
    title: title(
      `${label} as a ratio to glibc's — lower is better`,
      "median of the per-round ratios; whiskers: min and max over the rounds",
    ),
    barmode: "group",
    height: 400,
    yaxis: ratioAxis(`${label} ÷ glibc's (log)`, all),
    shapes: [unitLine()],
  });
}

/** The round whose curves stand for a program: the first in which every allocator ran ok. */
function curveRound(v: ProgramsView, program: string): number {
  const ok = (a: string, r: number) =>
    v.rec.samples.some((s) =>
      s.program === program && s.allocator === a && s.round === r && s.ok && s.rss
    );
  for (let r = 0; r < v.rec.repeat; r++) if (v.s.allocators.every((a) => ok(a, r))) return r;
  return 0;
}

/** The RSS over time of every allocator on `program`, one round. */
function curveChart(parent: HTMLElement, v: ProgramsView, program: string, name: string): void {
  const round = curveRound(v, program);
  const pick = (a: string): ProgramSample | undefined => {
    const of = v.rec.samples.filter((s) =>
      s.program === program && s.allocator === a && s.ok && s.rss && s.rss.curve.length > 0
    );
    return of.find((s) => s.round === round) ?? of[0];
  };
  const data = v.s.allocators.flatMap((a) => {
    const s = pick(a);
    if (!s) return [];
    const c = s.rss!.curve;
    return [{
      type: "scatter",
      mode: "lines",
      name: a,
      x: c.map((p) => p[0]),
      y: c.map((p) => p[1] / 1024),
      line: { color: colourOf(a, v.names), width: 1.5, shape: "hv" },
      hovertemplate: `${a}: %{y:.1f} MiB at %{x:.2f} s<extra></extra>`,
    }];
  });
  chart(parent, data, {
    title: title(
      `${name} — RSS over time, lower is better`,
      `round ${round} of each allocator; sampled every 10 ms by hakrun, summed over the ` +
        "process tree",
    ),
    height: 380,
    xaxis: { title: { text: "seconds since start" } },
    yaxis: { title: { text: "RSS, MiB" }, rangemode: "tozero" },
  });
}

const secs = (x: number | null) => (x === null ? "—" : x.toFixed(3));

/** Per program and allocator: medians, ratios to glibc with their spread, failures, outputs. */
function figuresTable(v: ProgramsView): HTMLElement {
  const one = v.s.programs.length === 1;
  const rows: HTMLElement[] = [];
  for (const p of v.s.programs) {
    for (const a of v.s.allocators) {
      const r = programRow(v.s, p, a);
      if (!r) continue;
      const g = r.ratios[REFERENCE_GLIBC];
      const checked = v.rec.check_output && a !== REFERENCE_GLIBC;
      const status = [
        r.failed > 0 ? `${r.failed} of ${r.n} failed` : "",
        checked ? (r.differs > 0 ? `output differs in ${r.differs}` : "output same") : "",
      ].filter(Boolean).join("; ") || "ok";
      rows.push(h(
        "tr",
        r.ok === 0 || r.differs > 0 ? { class: "failed" } : null,
        one ? null : h("td", null, p),
        h("td", null, a),
        h("td", { class: "num" }, secs(r.median.time)),
        h("td", { class: "num" }, fmtKiB(r.median.rss)),
        h("td", { class: "num" }, secs(r.median.user)),
        h("td", { class: "num" }, secs(r.median.sys)),
        h("td", { class: "num" }, fmtNum(r.medianMibS)),
        PROGRAM_METRICS.map((m) => {
          const x = a === REFERENCE_GLIBC ? undefined : g?.[m.key];
          const cls = x?.median == null ? "num" : x.median > 1 ? "num loss" : "num gain";
          return h("td", { class: cls }, a === REFERENCE_GLIBC ? "1 (reference)" : fmtSpread(x));
        }),
        h("td", null, status),
      ));
    }
  }
  return h(
    "table",
    { class: "grid programs-figures" },
    headRow([
      ...figureColumns(one),
      "MiB·s",
      ...PROGRAM_METRICS.map((m) => `${m.label} ÷ glibc's`),
      "runs",
    ]),
    rows,
  );
}

/** Each hakmem variant's time and peak RSS as a ratio to every other allocator's. */
function versusTable(v: ProgramsView): HTMLElement | null {
  const hak = v.s.allocators.filter((a) => a.startsWith("hakmem"));
  const others = v.s.allocators.filter((a) => !a.startsWith("hakmem"));
  if (hak.length === 0 || others.length === 0) return null;
  const rows = hak.flatMap((hm) =>
    others.map((o) =>
      h(
        "tr",
        null,
        h("td", null, hm),
        h("td", null, o),
        v.s.programs.flatMap((p) =>
          (["time", "rss"] as const).map((m) => {
            const x = programRow(v.s, p, hm)?.ratios[o]?.[m];
            const cls = x?.median == null ? "num" : x.median > 1 ? "num loss" : "num gain";
            return h("td", { class: cls }, fmtSpread(x));
          })
        ),
      )
    )
  );
  return h(
    "div",
    null,
    h("h3", null, "hakmem against each allocator: its time and peak RSS ÷ the other's"),
    h(
      "table",
      { class: "grid programs-versus" },
      headRow(["hakmem", "against", ...v.s.programs.flatMap((p) => [`${p} time`, "peak RSS"])]),
      rows,
    ),
  );
}

/** The programs: package, version, command line, input; the unavailable ones with the reason. */
function programsTable(rec: ProgramsRecord): HTMLElement {
  return h(
    "table",
    { class: "grid programs-list" },
    headRow(["program", "package", "version", "command", "status"]),
    rec.programs.map((p) => {
      const env = Object.entries(p.env).map(([k, x]) => `${k}=${x} `).join("");
      return h(
        "tr",
        p.available ? null : { class: "unavailable" },
        h("td", null, h("b", null, p.id), h("div", { class: "sub" }, p.description)),
        h("td", null, p.package ?? "—"),
        h("td", null, p.version ?? "—"),
        h("td", { class: "mono" }, `${env}${p.argv.join(" ")}`),
        h("td", { class: "note" }, p.available ? "available" : `unavailable: ${p.note}`),
      );
    }),
  );
}

/** Failed runs and runs whose output differed, with their stderr and files. */
function problems(rec: ProgramsRecord): HTMLElement[] {
  return rec.samples.filter((s) => !s.ok || s.output === "differs").map((s) =>
    h(
      "div",
      { class: "failure" },
      h(
        "div",
        { class: "what" },
        `${s.program} under ${s.allocator}, round ${s.round}: ` +
          (s.ok ? "output differs from glibc's of the same round" : "failed"),
      ),
      s.files
        ? h(
          "div",
          null,
          h("a", { href: s.files.stdout }, "stdout"),
          " · ",
          h("a", { href: s.files.stderr }, "stderr"),
        )
        : null,
      s.stderr_tail ? h("pre", null, s.stderr_tail) : null,
    )
  );
}

/** The charts and tables both pages share. */
function body(sec: HTMLElement, v: ProgramsView, curveName: (p: string) => string): void {
  sec.append(h("h3", null, "Headlines"), headlineList(v));
  if (v.s.rows.length === 0) return;
  const grid = h("div", { class: "charts" });
  sec.append(grid);
  if (v.s.allocators.some((a) => a !== REFERENCE_GLIBC)) {
    ratioChart(grid, v, "time");
    ratioChart(grid, v, "rss");
  }
  for (const p of v.s.programs) curveChart(grid, v, p, curveName(p));
  sec.append(
    h("h3", null, "Figures (medians over the ok rounds; ratios: min–max over the rounds)"),
    figuresTable(v),
  );
  const vs = versusTable(v);
  if (vs) sec.append(vs);
  sec.append(...problems(v.rec));
}

/** The Programs section of a bench run, or null when the run has no programs record. */
export function programsSection(r: Results): HTMLElement | null {
  if (!r.programs) return null;
  const v = programsView(r, r.programs);
  const sec = section(
    "Programs",
    "Programs from Debian packages under every allocator, interleaved over the rounds. Ratios ",
    "are this allocator's figure ÷ glibc's in the same round: < 1 means less time or memory. ",
    "Peak RSS is getrusage's (the largest process of the tree); the curves sum the tree. Every ",
    "run's output is checked against glibc's of the same round.",
  );
  body(sec, v, (p) => r.programs!.programs.find((x) => x.id === p)?.title ?? p);
  sec.append(h("h3", null, "The programs"), programsTable(r.programs));
  return sec;
}

/** Every run of compare's command: figures, exit status, output check and its files. */
function runsTable(rec: ProgramsRecord): HTMLElement {
  return h(
    "table",
    { class: "grid compare-runs" },
    headRow([
      "round",
      "allocator",
      "exit",
      "time s",
      "peak RSS",
      "user s",
      "sys s",
      "output",
      "files",
    ]),
    [...rec.samples].sort((a, b) => a.round - b.round).map((s) =>
      h(
        "tr",
        s.ok && s.output !== "differs" ? null : { class: "failed" },
        h("td", { class: "num" }, s.round),
        h("td", null, s.allocator),
        h(
          "td",
          { class: "num" },
          s.timed_out ? "timed out" : s.signal !== null ? `signal ${s.signal}` : String(s.exit),
        ),
        h("td", { class: "num" }, secs(s.wall_s)),
        h("td", { class: "num" }, fmtKiB(s.maxrss_kib)),
        h("td", { class: "num" }, secs(s.user_s)),
        h("td", { class: "num" }, secs(s.sys_s)),
        h(
          "td",
          null,
          s.output ??
            (s.allocator === REFERENCE_GLIBC
              ? "reference"
              : rec.check_output
              ? "—"
              : "not checked"),
        ),
        h(
          "td",
          null,
          s.files
            ? [
              h("a", { href: s.files.stdout }, "stdout"),
              " ",
              h("a", { href: s.files.stderr }, "stderr"),
            ]
            : "—",
        ),
      )
    ),
  );
}

/** The page of `deno task compare`. */
export function renderCommand(root: HTMLElement, p: Extract<ReportPayload, { kind: "run" }>): void {
  const r = p.results;
  const rec = r.programs!;
  const cmd = rec.programs[0];
  const v = programsView(r, rec);
  const m = r.machine;
  root.append(
    h("h1", null, "Does hakmem help this program?"),
    h("p", { class: "mono" }, cmd.title),
    h("p", { class: "hint" }, `source: ${p.source}`),
    h(
      "div",
      { class: "cols" },
      h(
        "div",
        null,
        h("h3", null, "Run"),
        kv([
          ["command", h("span", { class: "mono" }, cmd.title)],
          ["directory", rec.cwd ?? "—"],
          ["rounds", `${rec.repeat} (allocators interleaved, order rotated each round)`],
          ["output check", rec.check_output ? "against glibc's run of the same round" : "off"],
          ["created", r.created],
        ]),
      ),
      h(
        "div",
        null,
        h("h3", null, "Machine"),
        kv([
          ["CPU", `${m.cpu} (${m.cores} cores)`],
          ["kernel", m.kernel],
          ["glibc", m.glibc],
          ["hakmem commit", m.commit ?? "—"],
        ]),
      ),
    ),
    h("h3", null, "Allocators"),
    h(
      "table",
      { class: "grid allocators" },
      headRow(["allocator", "version", "source", "status"]),
      r.allocators.map((a) =>
        h(
          "tr",
          a.available ? null : { class: "unavailable" },
          h(
            "td",
            null,
            h("span", { class: "swatch", style: `background:${colourOf(a.name, v.names)}` }),
            a.name,
          ),
          h("td", null, a.version ?? "—"),
          h("td", { class: "note" }, [a.source ?? "—", a.note ? ` (${a.note})` : ""].join("")),
          h("td", null, a.available ? "ran" : "unavailable"),
        )
      ),
    ),
  );
  const sec = section(
    "Results",
    "Ratios are this allocator's figure ÷ glibc's in the same round: < 1 means less time or ",
    "memory. Peak RSS is getrusage's (the largest process of the tree); the curve sums the tree.",
  );
  body(sec, v, () => "the command");
  sec.append(h("h3", null, "Every run"), runsTable(rec));
  root.append(sec);
}
