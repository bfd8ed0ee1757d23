// Out of memory: tests/reliability/oom.c sets RLIMIT_AS to its address space + 64 MiB, then
// allocates each tier (and calloc/aligned_alloc/posix_memalign/memalign/realloc) until NULL, in
// the release and the debug flavour. Every failure must be NULL with ENOMEM, nothing may crash,
// and after the frees every tier must serve again; the program prints "oom: OK". Its per-phase
// figures (how much each tier got, how much address space stayed mapped after the frees) are
// printed here.

import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`out of memory ${flavour}: NULL + ENOMEM for every tier, then serves again`, async () => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("oom", target, flavour);
    const r = await run(commandOf(target, exe), { scrub: true, timeoutMs: 120_000 });
    if (r.timedOut || r.signal !== null || r.code !== 0 || !r.stdout.includes("oom: OK")) {
      throw new Error(`oom (${flavour}) failed\n${describeRun(r)}`);
    }
    if (r.stderr.trim() !== "") throw new Error(`oom (${flavour}): unexpected stderr\n${r.stderr}`);
    console.log(r.stdout.trimEnd());
  });
}
