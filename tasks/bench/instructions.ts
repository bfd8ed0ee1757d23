// `deno task bench --instructions`: instructions per operation under callgrind, deterministic
// where wall time on a shared two-core machine is not. Each workload of INSTRUCTION_WORKLOADS
// runs twice under every allocator, at --scale s and 2s, through hakrun (the allocator preloaded
// as in a timed run) with valgrind in front of the program; the count is
//   (Ir of the 2s run - Ir of the s run) / (ops of the 2s run - ops of the s run)
// so start-up, the workload's set-up and the allocator's initialisation cancel out. The ops come
// from the program's own result line. A run that fails (an allocator that cannot start under
// valgrind, say) leaves the count failed with the reason. The same runs count mispredicted
// branches (callgrind's --branch-sim, a simple model of a predictor: conditional and indirect
// branches) the same way: where two allocators run about as many instructions and one is slower,
// branches that depend on the program's sizes or addresses are the next suspect.

import { join } from "node:path";
import type { InstructionCount, InstructionWorkload } from "./stats.ts";
import { type Allocator, runOnce } from "./runner.ts";
import { failureText } from "./summary.ts";
import { ensurePackages } from "../lib/deps.ts";
import { readTextIfPresent, removeIfPresent } from "../lib/files.ts";

/** valgrind, the Debian package. */
export const VALGRIND = {
  deb: "valgrind",
  why: "counts instructions (callgrind)",
  probe: "valgrind",
};
/** A callgrind run may take this long (valgrind runs the program some 50 times slower). */
const CALLGRIND_TIMEOUT_S = 600;

/** The totals of a callgrind output file by event name (its "events:" line and its "summary:" or
 * "totals:" line), or null when it has none. */
export function callgrindTotals(text: string): Map<string, number> | null {
  const events = /^events:\s+(.+)$/m.exec(text);
  const totals = /^(?:summary|totals):\s+([\d ]+)$/m.exec(text);
  if (!events || !totals) return null;
  const names = events[1].trim().split(/\s+/);
  const values = totals[1].trim().split(/\s+/).map(Number);
  return new Map(names.map((n, i) => [n, values[i] ?? 0]));
}

/** The total Ir of a callgrind output file, or null. */
export function callgrindTotal(text: string): number | null {
  return callgrindTotals(text)?.get("Ir") ?? null;
}

/** Mispredicted branches of a callgrind output file (--branch-sim=yes: conditional Bcm and
 * indirect Bim), or null when it has no branch counts. */
export function callgrindMispredicts(text: string): number | null {
  const t = callgrindTotals(text);
  const bcm = t?.get("Bcm"), bim = t?.get("Bim");
  return bcm === undefined || bim === undefined ? null : bcm + bim;
}

export interface InstructionOptions {
  hakrun: string;
  /** Program name → its binary. */
  bins: Map<string, string>;
  allocators: readonly Allocator[];
  workloads: readonly InstructionWorkload[];
  seed: number;
  tmpDir: string;
  log?: (line: string) => void;
}

/** One callgrind run: Ir and the program's ops, or the reason it failed. */
async function measure(
  o: InstructionOptions,
  w: InstructionWorkload,
  a: Allocator,
  scale: number,
  seq: number,
): Promise<{ ir: number | null; miss: number | null; ops: number | null; why: string }> {
  const out = join(o.tmpDir, `callgrind-${seq}.out`);
  const m = await runOnce({
    hakrun: o.hakrun,
    program: o.bins.get(w.program)!,
    args: ["--seed", String(o.seed), ...w.args, "--scale", String(scale)],
    allocator: a,
    timeoutS: CALLGRIND_TIMEOUT_S,
    tmpDir: o.tmpDir,
    seq,
    trace: null,
    sampleMs: 0,
    prefix: [
      "valgrind",
      "--tool=callgrind",
      `--callgrind-out-file=${out}`,
      "--dump-instr=no",
      "--branch-sim=yes",
    ],
  });
  const text = (await readTextIfPresent(out)) ?? ""; // absent: valgrind failed (m says why)
  await removeIfPresent(out);
  const ir = callgrindTotal(text), miss = callgrindMispredicts(text);
  const ops = typeof m.result?.ops === "number" ? m.result.ops : null;
  // valgrind's own lines (==pid==) would hide the program's last words
  const own = m.stderr_tail.split("\n").filter((l) => !/^==\d+==/.test(l)).join("\n");
  if (!m.ok) return { ir: null, miss: null, ops, why: failureText({ ...m, stderr_tail: own }) };
  if (ir === null || miss === null) return { ir, miss, ops, why: "callgrind wrote no total" };
  if (ops === null) return { ir, miss, ops, why: 'no "ops" in the result line' };
  return { ir, miss, ops, why: "" };
}

/** Counts every workload under every allocator (available ones). */
export async function countInstructions(o: InstructionOptions): Promise<InstructionCount[]> {
  await ensurePackages([VALGRIND]);
  const log = o.log ?? ((l: string) => console.error(l));
  const counts: InstructionCount[] = [];
  let seq = 0;
  for (const w of o.workloads) {
    for (const a of o.allocators.filter((x) => x.available)) {
      const small = await measure(o, w, a, w.scale, seq++);
      const large = small.why ? small : await measure(o, w, a, 2 * w.scale, seq++);
      const dIr = (large.ir ?? NaN) - (small.ir ?? NaN);
      const dOps = (large.ops ?? NaN) - (small.ops ?? NaN);
      let note = small.why || large.why;
      if (!note && !(dOps > 0 && dIr > 0)) note = `no growth between the runs (Δops ${dOps})`;
      const perOp = note ? null : dIr / dOps;
      // The simulated predictor's tables are indexed by address, which differs from run to run
      // (a few dozen mispredictions of start-up): a loop without a mispredicted branch can give
      // the larger run fewer. That is none per op.
      const dMiss = (large.miss ?? NaN) - (small.miss ?? NaN);
      const missPerOp = note || Number.isNaN(dMiss) ? null : Math.max(0, dMiss) / dOps;
      counts.push({
        workload: w.id,
        allocator: a.name,
        ok: note === "",
        per_op: perOp === null ? null : Number(perOp.toFixed(2)),
        ir: [small.ir, large === small ? null : large.ir],
        ops: [small.ops, large === small ? null : large.ops],
        mispredicts: [small.miss, large === small ? null : large.miss],
        mispredicts_per_op: missPerOp === null ? null : Number(missPerOp.toFixed(3)),
        note,
      });
      log(
        `[instructions] ${w.id} ${a.name}: ${
          perOp === null
            ? `FAILED (${note})`
            : `${perOp.toFixed(1)} per ${w.op}, ${missPerOp?.toFixed(2) ?? "?"} mispredicted`
        }`,
      );
    }
  }
  return counts;
}
