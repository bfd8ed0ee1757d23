// `deno task bench --instructions`: instructions per operation under callgrind, deterministic
// where wall time on a shared two-core machine is not. Each workload of INSTRUCTION_WORKLOADS
// runs twice under every allocator, at --scale s and 2s, through hakrun (the allocator preloaded
// as in a timed run) with valgrind in front of the program; the count is
//   (Ir of the 2s run - Ir of the s run) / (ops of the 2s run - ops of the s run)
// so start-up, the workload's set-up and the allocator's initialisation cancel out. The ops come
// from the program's own result line. A run that fails (an allocator that cannot start under
// valgrind, say) leaves the count failed with the reason.

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

/** The total Ir of a callgrind output file ("summary:" or "totals:" line), or null. */
export function callgrindTotal(text: string): number | null {
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
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
): Promise<{ ir: number | null; ops: number | null; why: string }> {
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
    prefix: ["valgrind", "--tool=callgrind", `--callgrind-out-file=${out}`, "--dump-instr=no"],
  });
  const text = (await readTextIfPresent(out)) ?? ""; // absent: valgrind failed (m says why)
  await removeIfPresent(out);
  const ir = callgrindTotal(text);
  const ops = typeof m.result?.ops === "number" ? m.result.ops : null;
  // valgrind's own lines (==pid==) would hide the program's last words
  const own = m.stderr_tail.split("\n").filter((l) => !/^==\d+==/.test(l)).join("\n");
  if (!m.ok) return { ir: null, ops, why: failureText({ ...m, stderr_tail: own }) };
  if (ir === null) return { ir, ops, why: "callgrind wrote no total" };
  if (ops === null) return { ir, ops, why: 'no "ops" in the result line' };
  return { ir, ops, why: "" };
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
      counts.push({
        workload: w.id,
        allocator: a.name,
        ok: note === "",
        per_op: perOp === null ? null : Number(perOp.toFixed(2)),
        ir: [small.ir, large === small ? null : large.ir],
        ops: [small.ops, large === small ? null : large.ops],
        note,
      });
      log(
        `[instructions] ${w.id} ${a.name}: ${
          perOp === null ? `FAILED (${note})` : `${perOp.toFixed(1)} per ${w.op}`
        }`,
      );
    }
  }
  return counts;
}
