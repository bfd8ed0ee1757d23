// --duration S: the --scale that makes a bench's run take about S seconds under one allocator
// (glibc; with --oracle, the learning variant being judged), measured from runs of the program.

/** A calibration run shorter than this says too little: the next one is ten times larger. */
const CALIBRATE_MIN_S = 0.2;
const CALIBRATE_MAX_FACTOR = 1000;
/** With `refine`: a run at the estimate outside these shares of S corrects it once. */
const CALIBRATE_LOW = 0.7;
const CALIBRATE_HIGH = 1.5;

/** `scale` stretched so that a run of `wall` seconds would take `seconds`. */
function rescale(scale: number, wall: number, seconds: number): number {
  return Number(
    (scale * Math.min(CALIBRATE_MAX_FACTOR, seconds / Math.max(wall, 1e-3))).toPrecision(3),
  );
}

/** The scale that makes bench `id` run about `seconds` under `who`: measured from a run at the
 * profile's scale `base` (ten times larger while that run takes under CALIBRATE_MIN_S), scaled
 * linearly. An allocator that learns gets faster as it learns, so its short run says too little
 * of a long one: with `refine`, one run at the estimate corrects it when that run took less than
 * CALIBRATE_LOW or more than CALIBRATE_HIGH of `seconds`. `run` returns a run's wall time, or
 * null when it failed. */
export async function calibrate(
  id: string,
  base: number,
  seconds: number,
  who: string,
  refine: boolean,
  run: (scale: number) => Promise<number | null>,
): Promise<number> {
  const measure = async (scale: number) => {
    const wall = await run(scale);
    if (wall === null) throw new Error(`${id}: the calibration run under ${who} failed`);
    return wall;
  };
  let scale = base;
  for (let i = 0;; i++) {
    const wall = await measure(scale);
    if (wall >= CALIBRATE_MIN_S || i === 3) {
      scale = rescale(scale, wall, seconds);
      break;
    }
    scale *= 10;
  }
  if (!refine) return scale;
  const wall = await measure(scale);
  return wall < CALIBRATE_LOW * seconds || wall > CALIBRATE_HIGH * seconds
    ? rescale(scale, wall, seconds)
    : scale;
}
