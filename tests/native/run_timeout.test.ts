// The time limit of a test program's run ends its whole process tree: a program that forked and
// whose child hangs (a deadlock after fork) must come back as timed out, not keep the run waiting
// on the output pipe the child still holds.
import assert from "node:assert/strict";
import { run } from "./proc.ts";

Deno.test("a timed-out run kills the children its program forked", async () => {
  // the shell's background child keeps stdout open and outlives its parent's kill
  const r = await run(["sh", "-c", "sleep 60 & echo started; wait"], { timeoutMs: 500 });
  assert.equal(r.timedOut, true, `not timed out: ${JSON.stringify(r)}`);
  assert.ok(r.seconds < 20, `the run took ${r.seconds.toFixed(1)} s after a 0.5 s limit`);
  assert.match(r.stdout, /started/);
});
