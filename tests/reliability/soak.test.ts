// Soak in CI: `deno task soak` for about two minutes (HAKMEM_SOAK_MINUTES to change it) on the
// debug flavour: larson and sh8bench shapes, producer/consumer remote frees, thread
// create/exit and forks, every block's content checked. Passes when the run completes with zero
// corruptions and RSS stays bounded (last minute's peak <= 1.5 x first minute's peak + 32 MiB).

import { rssGrowth, runSoak, type SoakSample } from "../../tasks/test/soak.ts";
import assert from "node:assert/strict";

const MINUTES = Number(Deno.env.get("HAKMEM_SOAK_MINUTES") ?? "2");

Deno.test("rssGrowth flags a heap that keeps growing, not a steady one", () => {
  const steady: SoakSample[] = [];
  const growing: SoakSample[] = [];
  for (let t = 5; t <= 180; t += 5) {
    steady.push({ t, ops: t, corruptions: 0, rss_kib: 100_000 + (t % 10) * 1000 });
    growing.push({ t, ops: t, corruptions: 0, rss_kib: 100_000 + t * 2000 });
  }
  steady.push({ t: 181, ops: 1, corruptions: 0, rss_kib: 10, done: true });
  assert.equal(rssGrowth(steady).unbounded, false);
  assert.equal(rssGrowth(growing).unbounded, true);
});

Deno.test(`soak ${MINUTES} min debug: no corruption, bounded RSS`, async () => {
  const r = await runSoak({ minutes: MINUTES, flavour: "debug", verbose: true });
  if (!r.ok) {
    throw new Error(
      `soak failed (seed ${r.seed}): ${r.problems.join("; ")}\n--- stderr ---\n${
        r.stderr.slice(-4000)
      }`,
    );
  }
  assert.ok(r.ops > 0, "the soak did some work");
  assert.ok(r.forks > 0, "the soak forked");
});
