// What the report page is built from: one bench run (results.json, schema 2, whose types live in
// tasks/bench/stats.ts) or two runs side by side. Types plus small pure helpers, shared by the
// Deno side (build_report.ts) and the browser side (app.ts).

import type { Results, Sample, TraceRef } from "../tasks/bench/stats.ts";
import type { Trace } from "./trace/trace.ts";

export type { Results, Sample, TraceRef };

/** An ACE trace of the run (an entry of results.json's `traces`) as the page gets it: parsed and
 * compacted, or a note saying why it could not be read. */
export interface TraceEntry extends TraceRef {
  trace: Trace | null;
  note: string | null;
}

/** The payload embedded in index.html (`<script type="application/json" id="results">`).
 * `traces` is there when results.json lists ACE traces. */
export type ReportPayload =
  | { kind: "run"; title: string; source: string; results: Results; traces?: TraceEntry[] }
  | {
    kind: "compare";
    title: string;
    labelA: string;
    labelB: string;
    a: Results;
    b: Results;
  };

/** One tier of hakmem's HAKMEM_STATS_FILE JSON. */
export interface HakmemTier {
  allocs: number;
  frees: number;
  hits: number;
  misses: number;
  remote_frees: number;
  bytes_in_use: number;
  bytes_reserved: number;
}

/** The fields of hakmem's statistics the report reads (missing ones read as null). */
export interface HakmemView {
  tiers: Record<string, Partial<HakmemTier>>;
  syscalls: Record<string, number>;
  bytesMapped: number | null;
  peakMapped: number | null;
  madvisedBytes: number | null;
  /** Decay (HAKMEM_DECAY_MS): its passes, the bytes it gave back, and those faulted back in. */
  decayRuns: number | null;
  decayBytes: number | null;
  refaultBytes: number | null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Reads a sample's `hakmem` object defensively. */
export function hakmemView(h: Record<string, unknown> | null): HakmemView | null {
  if (h === null || typeof h !== "object") return null;
  const tiers: Record<string, Partial<HakmemTier>> = {};
  const t = h.tiers;
  if (typeof t === "object" && t !== null) {
    for (const [name, v] of Object.entries(t as Record<string, unknown>)) {
      if (typeof v !== "object" || v === null) continue;
      const o: Partial<HakmemTier> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const n = num(x);
        if (n !== null) (o as Record<string, number>)[k] = n;
      }
      tiers[name] = o;
    }
  }
  const syscalls: Record<string, number> = {};
  const s = h.syscalls;
  if (typeof s === "object" && s !== null) {
    for (const [k, x] of Object.entries(s as Record<string, unknown>)) {
      const n = num(x);
      if (n !== null) syscalls[k] = n;
    }
  }
  return {
    tiers,
    syscalls,
    bytesMapped: num(h.bytes_mapped),
    peakMapped: num(h.peak_mapped),
    madvisedBytes: num(h.madvised_bytes),
    decayRuns: num(h.decay_runs),
    decayBytes: num(h.decay_bytes),
    refaultBytes: num(h.refault_bytes),
  };
}
