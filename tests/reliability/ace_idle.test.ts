// Learning mode gives an idle program's memory back even while a guard keeps ACE backed off
// (tests/reliability/ace_idle.c): threads allocate and exit, the main thread frees most of it into
// their heaps and sleeps without calling the allocator, and HAKMEM_ACE_MAX_RSS_MB=1 trips a guard on every
// tick. ACE's thread runs the decay passes of idle threads on their own budget, not its own: at
// least half of the freed bytes must come back (checked by counts, the program polls until they
// do). Before, the first trip ended ACE's thread, and the memory stayed.

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { testSeed } from "../ffi/helpers.ts";
import { unsetAllocatorVars } from "../../tasks/lib/run.ts";

const MIN_SHARE = 0.5; // survivors pin some pages

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`learning mode, guard tripped ${flavour}: an idle program's memory comes back`, async () => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("ace_idle", target, flavour);
    const env = unsetAllocatorVars({
      HAKMEM_MODE: "learning",
      HAKMEM_ACE_MAX_RSS_MB: "1",
      HAKMEM_DECAY_MS: "100",
    });
    const seed = testSeed("ace_idle", "HAKMEM_TEST_SEED", 0xace1);
    const r = await run([...commandOf(target, exe), `0x${seed.toString(16)}`], {
      env,
      timeoutMs: 120_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line && r.code === 0 && r.signal === null, describeRun(r));
    console.log(`ace_idle ${flavour}: ${line}`);
    const f = JSON.parse(line) as {
      freed: number;
      decay_bytes: number;
      trips: number;
      stopped: boolean;
    };
    assert.ok(f.trips >= 1 && f.stopped, `the RSS guard tripped and holds ACE back: ${line}`);
    assert.ok(
      f.decay_bytes >= MIN_SHARE * f.freed,
      `decay gave back ${f.decay_bytes} of ${f.freed} bytes freed while ACE was backed off`,
    );
  });
}
