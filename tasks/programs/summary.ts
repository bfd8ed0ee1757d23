// What the programs mode of `deno task bench` and `deno task compare` print: the headlines
// (where hakmem loses first), then per program every allocator's medians and its ratios to glibc
// with their spread over rounds, then hakmem against each other allocator. Tables through
// tasks/bench/summary.ts's table() (npm:cli-table3).

import { table } from "../bench/summary.ts";
import { fmtKiB, fmtRatio } from "../lib/format.ts";
import { REFERENCE_GLIBC } from "../bench/stats.ts";
import type { ProgramsRecord } from "../bench/schema.ts";
import {
  figureColumns,
  fmtSpread,
  headlines,
  PROGRAM_METRICS,
  programRow,
  type ProgramsSummary,
  summarizePrograms,
} from "./stats.ts";

const secs = (v: number | null) => (v === null ? "—" : v.toFixed(2));

/** Per program and allocator: medians and the ratios to glibc (spread over rounds). */
function perProgram(rec: ProgramsRecord, s: ProgramsSummary): string {
  const ratioCols = PROGRAM_METRICS.map((m) => `${m.label} ×glibc`);
  const rows: string[][] = [];
  const one = s.programs.length === 1;
  for (const p of s.programs) {
    for (const a of s.allocators) {
      const r = programRow(s, p, a);
      if (!r) continue;
      const g = r.ratios[REFERENCE_GLIBC];
      const fails = r.failed > 0 ? `${r.failed} failed` : "";
      const checked = rec.check_output && a !== REFERENCE_GLIBC;
      const differs = !checked
        ? ""
        : r.differs > 0
        ? `output differs from glibc's in ${r.differs}`
        : "output same as glibc's";
      rows.push([
        ...(one ? [] : [p]),
        a,
        r.ok === 0 ? "FAILED" : secs(r.median.time),
        fmtKiB(r.median.rss, true),
        secs(r.median.user),
        secs(r.median.sys),
        ...PROGRAM_METRICS.map((m) => a === REFERENCE_GLIBC ? "" : fmtSpread(g?.[m.key])),
        [fails, differs].filter(Boolean).join(", ") || "ok",
      ]);
    }
  }
  return table(
    [
      ...figureColumns(one),
      ...ratioCols,
      "runs",
    ],
    rows,
    one ? 1 : 2,
  );
}

/** Each hakmem variant against every other allocator: time and peak RSS per program. */
function versus(s: ProgramsSummary): string[] {
  const hak = s.allocators.filter((a) => a.startsWith("hakmem"));
  const others = s.allocators.filter((a) => !a.startsWith("hakmem"));
  if (hak.length === 0 || others.length === 0) return [];
  return hak.flatMap((h) => {
    const rows = others.map((o) => [
      o,
      ...s.programs.flatMap((p) => {
        const r = programRow(s, p, h)?.ratios[o];
        return [fmtRatio(r?.time.median ?? null), fmtRatio(r?.rss.median ?? null)];
      }),
      ...(s.programs.length > 1
        ? [fmtRatio(s.geomean[h]?.[o]?.time ?? null), fmtRatio(s.geomean[h]?.[o]?.rss ?? null)]
        : []),
    ]);
    const head = [
      `${h} ÷`,
      ...s.programs.flatMap((p) => [`${p} time`, "RSS"]),
      ...(s.programs.length > 1 ? ["geomean time", "RSS"] : []),
    ];
    return [
      "",
      `${h}'s time and peak RSS as a ratio to each allocator's (< 1: less)`,
      table(head, rows),
    ];
  });
}

/** The whole printed summary of a programs record. */
export function programsSummaryText(
  rec: ProgramsRecord,
  order: readonly string[] = [],
  s: ProgramsSummary = summarizePrograms(rec, order),
): string {
  const out: string[] = [];
  if (s.rows.length > 0) {
    out.push(
      ...headlines(s, rec.repeat),
      "",
      `medians over ${rec.repeat} round(s); ratios are this allocator's figure ÷ glibc's in the ` +
        "same round (< 1: less time or memory), median (min–max over the rounds)",
      perProgram(rec, s),
      ...versus(s),
    );
  }
  for (const p of rec.programs.filter((x) => !x.available)) {
    out.push(`program not run: ${p.id}: ${p.note ?? "unavailable"}`);
  }
  return out.join("\n");
}
