// Remote frees to an idle owner (tests/reliability/remote_idle.c): blocks freed by another thread
// wait in their owner's queue while the owner sleeps past the decay delay; its next allocations
// drain them, and the memory counts as idle since it was freed, so that pass gives it back. The
// program prints what decay gave back after the sleep; most of what was freed must be among it
// (before, drained memory counted as idle from the drain and stayed another delay).

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { testSeed } from "../ffi/helpers.ts";

/** Of the freed bytes, the share decay must have given back: survivors pin some pages. */
const MIN_SHARE = 0.5;

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`remote frees to an idle owner ${flavour}: given back once it allocates again`, async () => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("remote_idle", target, flavour);
    const env = { HAKMEM_DECAY_MS: "100" };
    const seed = testSeed("remote_idle", "HAKMEM_TEST_SEED", 0x1d1e);
    const r = await run([...commandOf(target, exe), `0x${seed.toString(16)}`], {
      scrub: true,
      env,
      timeoutMs: 120_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line && r.code === 0 && r.signal === null, describeRun(r));
    console.log(`remote_idle ${flavour}: ${line}`);
    const f = JSON.parse(line) as { freed: number; decay_bytes: number; bad_bytes: number };
    assert.equal(f.bad_bytes, 0, "survivors intact");
    assert.ok(
      f.decay_bytes >= MIN_SHARE * f.freed,
      `decay gave back ${f.decay_bytes} of ${f.freed} bytes freed remotely`,
    );
  });
}
