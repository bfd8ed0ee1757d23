/** tasks/bench/calibrate.ts with synthetic run times: the scale grows tenfold while a run says
 * too little, is stretched linearly to the target, and, for an allocator that learns, corrected
 * once by a run at the estimate. */
import assert from "node:assert/strict";
import { calibrate } from "../../tasks/bench/calibrate.ts";

/** A program whose run takes `perScale` seconds per unit of scale; records the scales run. */
function linear(perScale: number) {
  const scales: number[] = [];
  return {
    scales,
    run: (s: number) => {
      scales.push(s);
      return Promise.resolve(s * perScale);
    },
  };
}

Deno.test("calibrate: a run long enough is stretched linearly to the target", async () => {
  const p = linear(0.5);
  assert.equal(await calibrate("b", 1, 20, "glibc", false, p.run), 40);
  assert.deepEqual(p.scales, [1]);
});

Deno.test("calibrate: a run too short to say much is retried ten times larger", async () => {
  const p = linear(0.001);
  assert.equal(await calibrate("b", 1, 2, "glibc", false, p.run), 2000);
  assert.deepEqual(p.scales, [1, 10, 100, 1000]);
});

Deno.test("calibrate: with refine, a run at the estimate that misses the target corrects it", async () => {
  // learning gets faster as it runs: a long run takes a quarter of the time per unit
  const scales: number[] = [];
  const run = (s: number) => {
    scales.push(s);
    return Promise.resolve(s <= 1 ? s : 1 + (s - 1) * 0.25);
  };
  const scale = await calibrate("b", 1, 10, "hakmem-learning", true, run);
  assert.deepEqual(scales, [1, 10]);
  // the run at scale 10 took 3.25 s, under 0.7 of 10 s: stretched by 10 / 3.25
  assert.equal(scale, Number((10 * 10 / 3.25).toPrecision(3)));
  // within the band, the estimate stands
  const q = linear(1);
  assert.equal(await calibrate("b", 1, 10, "hakmem-learning", true, q.run), 10);
  assert.deepEqual(q.scales, [1, 10]);
});

Deno.test("calibrate: a failed run names the bench and the allocator", async () => {
  await assert.rejects(
    calibrate("bursts", 1, 5, "hakmem-learning", false, () => Promise.resolve(null)),
    /bursts: the calibration run under hakmem-learning failed/,
  );
});
