// A size class the thread stopped using (tests/reliability/idle_class.c): a thread frees the few
// mid blocks it had of two sizes, and the many of a third, and goes on with small blocks only. The
// slabs of the first two sizes were the classes' current ones, which decay never touched, so their
// free pages stayed resident for as long as the thread lived; the third's last frees wait on the
// class's hot stack, still counted out of their slabs. After a delay without use the class gives
// its slab and its stack up and decay gives the pages back. The small blocks' slabs, in use all along, must not be given back (no
// page faulted in again), and the block kept must be intact.

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { testSeed } from "../ffi/helpers.ts";

interface Figures {
  resident_before: number;
  resident_after: number;
  steps: number;
  refault_bytes: number;
  bad_bytes: number;
}

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`idle class ${flavour}: a size no longer used gives its slab's pages back`, async () => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("idle_class", target, flavour);
    const seed = testSeed("idle_class", "HAKMEM_TEST_SEED", 0x1d1c);
    const r = await run([...commandOf(target, exe), `0x${seed.toString(16)}`], {
      scrub: true,
      env: { HAKMEM_DECAY_MS: "100" },
      timeoutMs: 120_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line && r.code === 0 && r.signal === null, describeRun(r));
    console.log(`idle_class ${flavour}: ${line}`);
    const f = JSON.parse(line) as Figures;
    assert.equal(f.bad_bytes, 0, "the kept block is intact");
    assert.ok(f.resident_before > 0 && f.steps > 0);
    assert.equal(f.resident_after, 0, `${f.resident_after} freed pages still resident`);
    assert.equal(f.refault_bytes, 0, "the classes in use kept their pages");
  });
}
