// Memory of a thread that exited (tests/reliability/exited_idle.c): all but a scattered 1/64 of a
// worker's small blocks are freed (every slab keeps a survivor, so only free pages can go back).
// Its memory must come back like a live thread's, whoever frees it: by the worker's own exit when
// it freed them (the main thread makes no call meanwhile, and decay is never due), by the exit of
// a second thread that freed them into the exited thread's heap, by decay once the main thread
// frees them and works again, by one malloc_trim(0) when decay is not due, and freed large blocks
// above BigCache's budget by decay although no large block is in use. Checked by counts (bytes
// given back, decay passes), never by timing: the program works until decay gave back what it
// must, or gives up. Before, an exited thread's free pages waited for a decay pass, which needs
// some thread's allocator call: exit and handoff gave back none of them.

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { testSeed } from "../ffi/helpers.ts";

/** HAKMEM_DECAY_MS per mode: short where decay must give back, an hour where it must not. */
const MODES: [string, string][] = [
  ["exit", "3600000"],
  ["handoff", "3600000"],
  ["decay", "100"],
  ["trim", "3600000"],
  ["bigcache", "100"],
];

interface Result {
  freed_small: number;
  freed_large: number;
  want: number;
  given: number;
  decay_runs: number;
  bad_bytes: number;
}

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  for (const [mode, decayMs] of MODES) {
    Deno.test(`exited thread's memory ${flavour}: given back by ${mode}`, async () => {
      const target = hostTarget();
      const exe = await buildReliabilityProgram("exited_idle", target, flavour);
      const env = { HAKMEM_DECAY_MS: decayMs };
      const seed = testSeed("exited_idle", "HAKMEM_TEST_SEED", 0xe817);
      const r = await run([...commandOf(target, exe), mode, `0x${seed.toString(16)}`], {
        scrub: true,
        env,
        timeoutMs: 120_000,
      });
      const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line && r.code === 0 && r.signal === null, describeRun(r));
      console.log(`exited_idle ${flavour}: ${line}`);
      const f = JSON.parse(line) as Result;
      assert.equal(f.bad_bytes, 0, "survivors intact");
      assert.ok(f.freed_small > 16 << 20, `freed ${f.freed_small}`);
      if (mode === "bigcache") assert.ok(f.freed_large > 64 << 20, `large ${f.freed_large}`);
      assert.ok(f.decay_runs > 0, "decay passes ran (the trim's among them)");
      assert.ok(
        f.given >= f.want,
        `${mode} gave back ${f.given} bytes; at least ${f.want} of ${f.freed_small} small + ` +
          `${f.freed_large} large bytes freed must come back`,
      );
    });
  }
}
