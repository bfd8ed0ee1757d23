// What `deno task bench` prints: the progress of the runs (npm:cli-progress on a terminal, one
// line per run otherwise) and the summary tables at the end (npm:cli-table3): per bench the
// median of every allocator, its best peer and hakmem's speed and memory ratios; hakmem against
// each peer (geometric means); the memory figures; the instruction counts; what did not run.

import cliProgress from "cli-progress";
import process from "node:process";
import Table from "cli-table3";
import { relative } from "node:path";
import {
  type InstructionCount,
  type Metric,
  overallRatio,
  REFERENCE_GLIBC,
  type Results,
  roundTripsApart,
  type Sample,
  speedRatio,
  summarize,
  type Summary,
  summaryRow,
} from "./stats.ts";
import type { Measured } from "./runner.ts";
import { oracleTable, variantLabel } from "./oracle_stats.ts";
import { headlines, headlineText, peerBuildLines } from "./headlines.ts";
import { fmtDuration, fmtKiB, fmtRatio } from "../lib/format.ts";
import { ROOT } from "../lib/targets.ts";

export function metricUnit(m: Metric): string {
  return m === "ops_per_s" ? "ops/s" : "ns/op";
}

export function fmtValue(v: number | null, m: Metric): string {
  if (v === null) return "—";
  if (m === "ns_per_op") {
    return v >= 1e5 ? v.toExponential(2) : v >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(1);
}

/** `p` relative to the repository when it is inside it, else absolute. */
export function show(p: string): string {
  const r = relative(ROOT, p);
  return r === "" ? "." : r.startsWith("..") ? p : r;
}

/** How a failed sample ended, with the last line of its stderr. */
export function failureText(
  s: Pick<Sample, "exit" | "signal" | "timed_out" | "stderr_tail">,
): string {
  const lines = s.stderr_tail.split("\n").filter((l) => l.trim() !== "");
  const ours = lines.filter((l) => l.startsWith("[bench] ")).pop()?.slice("[bench] ".length);
  const theirs = lines.filter((l) => !l.startsWith("[bench] ")).pop();
  const what = ours ??
    (s.timed_out
      ? "timed out"
      : s.signal !== null
      ? `signal ${s.signal}`
      : s.exit !== null && s.exit !== 0
      ? `exit ${s.exit}`
      : "no result");
  return theirs ? `${what}: ${theirs.slice(0, 160)}` : what;
}

/** A borderless text table: the header, a rule, the rows; columns from `rightFrom` on are right
 * aligned. */
export function table(header: string[], rows: string[][], rightFrom = 1): string {
  const t = new Table({
    head: header,
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "-",
      "mid-mid": "--",
      right: "",
      "right-mid": "",
      middle: "  ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
    colAligns: header.map((_, i) => (i >= rightFrom ? "right" : "left")),
  });
  t.push(...rows);
  return t.toString().split("\n").map((l) => l.trimEnd()).join("\n");
}

/** The progress of a bench run: a bar on a terminal, a line per run otherwise. */
export class Progress {
  #bars: cliProgress.MultiBar | null = null;
  #bar: cliProgress.SingleBar | null = null;
  #started = performance.now();
  #done = 0;
  #failed = 0;
  constructor(readonly total: number) {
    if (!Deno.stderr.isTerminal()) return;
    this.#bars = new cliProgress.MultiBar({
      format: "[{bar}] {value}/{total} {what}  ETA {left}{failed}",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
    }, cliProgress.Presets.legacy);
    this.#bar = this.#bars.create(total, 0, { what: "", failed: "", left: "?" });
  }

  /** The time the remaining runs will take at the pace so far. */
  #eta(): string {
    if (this.#done === 0) return "?";
    const el = (performance.now() - this.#started) / 1000;
    return fmtDuration((el / this.#done) * (this.total - this.#done));
  }

  start(round: number, bench: string, allocator: string) {
    this.#bar?.update(this.#done, { what: `r${round} ${bench} · ${allocator}`, left: this.#eta() });
  }

  finish(round: number, bench: string, allocator: string, s: Measured, metric: Metric) {
    this.#done++;
    if (!s.ok) this.#failed++;
    const what = s.ok
      ? `${fmtValue(s.value, metric)} ${metricUnit(metric)}, ${s.wall_s.toFixed(2)} s, ` +
        `maxrss ${fmtKiB(s.maxrss_kib, true)}` +
        (s.core_rtt_ns ? `, core round trip ${s.core_rtt_ns.toFixed(0)} ns` : "")
      : `FAILED (${failureText(s)})`;
    const line = `[bench] ${this.#done}/${this.total} r${round} ${bench} ${allocator}: ${what}`;
    if (!this.#bars) return console.error(line);
    if (!s.ok) this.#bars.log(`${line}\n`);
    this.#bar!.update(this.#done, { failed: this.#failed ? `  ${this.#failed} failed` : "" });
  }

  end() {
    this.#bars?.stop();
    console.error(
      `[bench] ${this.#done} runs in ${fmtDuration((performance.now() - this.#started) / 1000)}` +
        (this.#failed ? `, ${this.#failed} failed` : ""),
    );
  }
}

/** What the tables of the summary share. */
interface Ctx {
  results: Results;
  summary: Summary;
  /** Allocators with samples, in results order. */
  allocs: string[];
  hakmems: string[];
  /** glibc and the baseline, those that ran. */
  refs: string[];
  benches: string[];
  short: (a: string) => string;
  geo: (h: string, ref: string, what: "speed" | "memory") => string;
}

/** Per bench: every allocator's median, the best peer, hakmem's ratios (inline when there are
 * at most two hakmem variants) and the failures. */
function benchTable(c: Ctx, inline: boolean): string {
  const { summary, allocs, hakmems, refs, short } = c;
  const base = c.results.params.baseline;
  const withMem = allocs.includes(base);
  const head = ["bench", "metric", ...allocs.map(short), "best peer"];
  if (inline) {
    for (const h of hakmems) {
      head.push(...refs.map((ref) => `${short(h)}/${ref}`));
      if (withMem) head.push(`mem ${short(h)}/${base}`);
    }
  }
  head.push("failures");
  const rows = c.benches.map((b) => {
    const metric = summary.rows.find((r) => r.bench === b)?.metric ?? "ops_per_s";
    const cells = [b, metricUnit(metric)];
    const fails: string[] = [];
    for (const a of allocs) {
      const r = summaryRow(summary, b, a);
      cells.push(r && r.ok === 0 ? "FAILED" : fmtValue(r?.median ?? null, metric));
      if (r && r.failed > 0) fails.push(`${short(a)}:${r.failed}`);
    }
    cells.push(summary.bestPeer[b] ?? "—");
    if (inline) {
      for (const h of hakmems) {
        cells.push(...refs.map((ref) => fmtRatio(speedRatio(summary, b, h, ref))));
        if (withMem) cells.push(fmtRatio(summaryRow(summary, b, h)?.memory[base]?.ratio ?? null));
      }
    }
    cells.push(fails.join(" ") || "0");
    return cells;
  });
  if (inline) {
    const last = ["geomean", "", ...allocs.map(() => ""), ""];
    for (const h of hakmems) {
      last.push(...refs.map((ref) => c.geo(h, ref, "speed")));
      if (withMem) last.push(c.geo(h, base, "memory"));
    }
    last.push(String(summary.overall.reduce((s, o) => s + o.failed, 0)));
    rows.push(last);
  }
  return table(head, rows, 2);
}

/** With many hakmem variants: one table per reference, the variants as columns. */
function variantTables(c: Ctx): string[] {
  const variants = c.hakmems.map((h) => h.slice("hakmem-".length));
  return c.refs.flatMap((ref) => {
    const rows = c.benches.map((b) => [
      b,
      ...c.hakmems.map((h) => fmtRatio(speedRatio(c.summary, b, h, ref))),
    ]);
    rows.push(["geomean", ...c.hakmems.map((h) => c.geo(h, ref, "speed"))]);
    return ["", `hakmem variants vs ${ref}`, table(["bench", ...variants], rows, 1)];
  });
}

/** hakmem against each other allocator: speed and memory geometric means. */
function versusTable(c: Ctx): string[] {
  const others = c.allocs.filter((a) => !a.startsWith("hakmem-"));
  if (c.hakmems.length === 0 || others.length === 0) return [];
  const head = ["against", ...c.hakmems.flatMap((h) => [`${c.short(h)} speed`, "memory"])];
  const rows = others.map((o) => [
    o,
    ...c.hakmems.flatMap((h) => [c.geo(h, o, "speed"), c.geo(h, o, "memory")]),
  ]);
  return [
    "",
    "hakmem against each allocator (geometric means over the benches)",
    table(head, rows),
  ];
}

/** Every allocator's memory figure per bench. */
function memoryTable(c: Ctx): string[] {
  const rows = c.benches.map((b) => [
    b,
    ...c.allocs.map((a) => fmtKiB(summaryRow(c.summary, b, a)?.medianMemKiB ?? null, true)),
  ]);
  return [
    "",
    "memory figure (median peak RSS; memory_return: RSS after the light work)",
    table(["bench", ...c.allocs.map(c.short)], rows, 1),
  ];
}

/** The callgrind counts, per workload and allocator. */
function instructionTable(c: Ctx): string[] {
  const ins = c.results.instructions;
  if (!ins || ins.counts.length === 0) return [];
  const allocs = c.results.allocators.map((a) => a.name)
    .filter((a) => ins.counts.some((x) => x.allocator === a));
  const cells = (value: (n: InstructionCount) => number | null | undefined, digits: number) =>
    ins.workloads.map((w) => [
      w.id,
      w.op,
      ...allocs.map((a) => {
        const n = ins.counts.find((x) => x.workload === w.id && x.allocator === a);
        const v = n ? value(n) : undefined;
        return v != null ? v.toFixed(digits) : n && !n.ok ? "FAILED" : "—";
      }),
    ]);
  const head = ["workload", "op", ...allocs.map(c.short)];
  const out = [
    "",
    "instructions per op (callgrind; the same program for every allocator)",
    table(head, cells((n) => n.per_op, 1), 2),
  ];
  if (ins.counts.some((n) => n.mispredicts_per_op != null)) {
    out.push(
      "",
      "mispredicted branches per op (callgrind's simulated predictor, the same runs)",
      table(head, cells((n) => n.mispredicts_per_op, 2), 2),
    );
  }
  return out;
}

/** The oracle's verdict (--oracle): learning against balanced and the fixed configurations. */
function oracleText(c: Ctx): string[] {
  const t = oracleTable(c.results, c.summary);
  if (!t || t.rows.length === 0) return [];
  const base = c.results.params.baseline;
  const rows = t.rows.map((r) => [
    r.bench,
    fmtRatio(r.speedVsBalanced),
    fmtRatio(r.mibsVsBalanced),
    r.bestSpeed ? variantLabel(r.bestSpeed) : "—",
    fmtRatio(r.speedVsBest),
    fmtRatio(r.speedVsBestHeldOut),
    r.bestMemory ? variantLabel(r.bestMemory) : "—",
    fmtRatio(r.bestMemorySpeedVsBalanced),
    fmtRatio(r.bestMemoryMibsVsBalanced),
    fmtRatio(r.speedVsBaseline),
    r.learningWallS === null ? "—" : r.learningWallS.toFixed(1),
  ]);
  rows.push([
    "geomean",
    fmtRatio(t.geomeanSpeedVsBalanced),
    fmtRatio(t.geomeanMibsVsBalanced),
    "",
    fmtRatio(t.geomeanSpeedVsBest),
    fmtRatio(t.geomeanSpeedVsBestHeldOut),
    "",
    "",
    "",
    "",
    "",
  ]);
  const p = c.results.params;
  const grid = t.fixed.length - 1;
  return [
    "",
    `oracle: ${variantLabel(t.learning)} against ${variantLabel(t.balanced)} and the ` +
    `${grid} fixed configuration${grid === 1 ? "" : "s"} of the grid ${c.results.oracle!.grid}` +
    (p.duration_s !== null
      ? `, runs of about ${p.duration_s} s under ${p.calibrated_with ?? "glibc"}`
      : "") +
    "; speed > 1: learning faster; MiB·s = RSS·time, learning's over the other's (< 1: less); " +
    "best held out: picked on the other rounds, judged on its own",
    table(
      [
        "bench",
        "speed/bal",
        "MiB·s/bal",
        "best fixed (speed)",
        "speed/best",
        "speed/best held out",
        "least RSS·time",
        "its speed/bal",
        "its MiB·s/bal",
        `speed/${base}`,
        "learning s",
      ],
      rows,
      1,
    ),
    ...t.targets.map((g) =>
      `target ${g.met === null ? "n/a" : g.met ? "MET" : "MISSED"}: ${g.what}: ${g.detail}`
    ),
  ];
}

/** One line naming the rounds of each bench whose runs saw the machine change (empty when none):
 * `hakrun --core-rtt` timed the round trip before every run. */
export function machineChangeLines(results: Results): string[] {
  const spans: string[] = [];
  for (const bench of new Set(results.samples.map((s) => s.bench))) {
    const rounds = new Map<number, number[]>();
    for (const s of results.samples) {
      if (s.bench !== bench || !s.core_rtt_ns) continue;
      rounds.set(s.round, [...(rounds.get(s.round) ?? []), s.core_rtt_ns]);
    }
    for (const [round, rtts] of [...rounds].sort((x, y) => x[0] - y[0])) {
      const lo = Math.min(...rtts), hi = Math.max(...rtts);
      if (roundTripsApart(lo, hi)) {
        spans.push(`${bench} r${round} ${lo.toFixed(0)}-${hi.toFixed(0)} ns`);
      }
    }
  }
  if (spans.length === 0) return [];
  return [
    `machine changed within a round (core-to-core round trip before each run; the host moved the ` +
    `vCPUs): ${spans.join(", ")}: in those rounds workloads whose threads share blocks compare ` +
    `different machines`,
  ];
}

/** The summary printed at the end of a run. With more than two hakmem variants (--ladder,
 * --thresholds) the ratios leave the per-bench table for one table per reference, the variants
 * as columns, so the lines stay readable. */
export function summaryText(results: Results, summary: Summary = summarize(results)): string {
  const allocs = results.allocators.filter((a) => a.available).map((a) => a.name)
    .filter((a) => summary.rows.some((r) => r.allocator === a));
  const hakmems = allocs.filter((a) => a.startsWith("hakmem-"));
  const c: Ctx = {
    results,
    summary,
    allocs,
    hakmems,
    refs: [REFERENCE_GLIBC, results.params.baseline].filter((r) => allocs.includes(r)),
    benches: summary.benches.filter((b) => summary.rows.some((r) => r.bench === b)),
    short: (a) => (hakmems.length === 1 && a.startsWith("hakmem-") ? "hakmem" : a),
    geo: (h, ref, what) => fmtRatio(overallRatio(summary, h, ref, what)),
  };
  const out: string[] = [];
  if (c.benches.length > 0 && hakmems.length > 0) {
    out.push(...headlineText(headlines(results, summary, hakmems[0])), "");
  }
  if (c.benches.length > 0) {
    const p = results.params;
    const inline = hakmems.length <= 2;
    out.push(
      `medians over ${p.repeat} round(s), profile ${p.profile}` +
        (p.duration_s !== null
          ? `, runs of about ${p.duration_s} s under ${p.calibrated_with ?? "glibc"}`
          : "") +
        `, ${p.threads} thread(s); ratios > 1 mean hakmem is better (median of per-round pairs; ` +
        "mem: hakmem's memory figure is the smaller)",
      benchTable(c, inline),
      ...(inline ? [] : variantTables(c)),
      ...versusTable(c),
      ...memoryTable(c),
      ...oracleText(c),
    );
  }
  out.push(...machineChangeLines(results));
  out.push(...instructionTable(c));
  const peers = peerBuildLines(results);
  if (peers.length > 0) out.push("", ...peers);
  for (const a of results.allocators.filter((x) => !x.available)) {
    out.push(`not run: ${a.name}: ${a.note ?? "unavailable"}`);
  }
  return out.join("\n");
}
