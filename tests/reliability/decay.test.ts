// Decay under load (tests/reliability/decay.c): with HAKMEM_DECAY_MS=0 the allocator gives idle
// memory back as often as it can while two threads churn blocks of every tier around long-lived
// survivors; every block's contents are checked when it is freed and at the end. Then the same
// with madvise(MADV_DONTNEED) refused: nothing lost, the refusals counted (os_failures), nothing
// counted as given back.

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { testSeed } from "../ffi/helpers.ts";

const SECONDS = 2;

interface Figures {
  ops: number;
  bad_blocks: number;
  decay_runs: number;
  decay_bytes: number;
  refault_bytes: number;
  os_failures: number;
  refused: number;
  madvised_bytes: number;
}

async function runDecay(flavour: Flavour, refuse: boolean): Promise<Figures> {
  const target = hostTarget();
  const exe = await buildReliabilityProgram("decay", target, flavour);
  const env = { HAKMEM_DECAY_MS: "0" };
  const seed = testSeed("decay", "HAKMEM_TEST_SEED", 0xdeca7);
  const args = [...(refuse ? ["refuse"] : []), `0x${seed.toString(16)}`, String(SECONDS)];
  const r = await run([...commandOf(target, exe), ...args], {
    scrub: true,
    env,
    timeoutMs: 120_000,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (r.timedOut || r.signal !== null || !line) {
    throw new Error(`decay (${flavour}) did not finish\n${describeRun(r)}`);
  }
  console.log(`decay ${flavour}${refuse ? " (madvise refused)" : ""}: ${line}`);
  const f = JSON.parse(line) as Figures;
  assert.equal(f.bad_blocks, 0, `block contents damaged\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(f.ops > 0);
  return f;
}

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`decay ${flavour}: memory given back under load, every block intact`, async () => {
    const f = await runDecay(flavour, false);
    assert.ok(f.decay_runs > 0, "decay ran");
    assert.ok(f.decay_bytes > 0, "and gave memory back");
    assert.equal(f.os_failures, 0);
  });

  Deno.test(`decay ${flavour}: madvise refused — survived, counted, nothing lost`, async () => {
    const f = await runDecay(flavour, true);
    assert.ok(f.refused > 0, "the allocator asked to give memory back");
    assert.equal(f.os_failures, f.refused, "every refusal counted");
    assert.equal(f.madvised_bytes, 0, "nothing counted as advised away");
  });
}
