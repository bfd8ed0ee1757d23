/** The decay delay's promise, checked on what a test frees: none of it goes back to the OS within
 * the delay, and by two delays after the free it has. Judged by the bytes given back
 * (MADV_DONTNEED, counted at once); the waits only let the delay pass, with 0.4 of it as a margin
 * for a loaded machine. */
import assert from "node:assert/strict";
import type { Hakmem } from "./helpers.ts";

const KiB = 1024;
/** The decay delay; a heap's passes come every half of it while it has slow paths. */
export const DECAY_WATCH_DELAY_MS = 1000;
/** Spans allocated and freed between the waits: slow paths that look at the heap's clock (every
 * 16th), of a size no test watches. */
const CHURN = 512 * KiB;
const CHURN_PAIRS = 64;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `free` (it frees what the test watches) with the delay set, after everything idle went
 * back (hak_trim), then checks that nothing goes back within 0.6 of the delay and at least
 * `least` bytes by 2 delays (`what` names it in the messages). The options are restored. */
export async function expectGivenBackInTime(
  h: Hakmem,
  what: string,
  least: number,
  free: () => void,
): Promise<void> {
  const delay = h.optionGet("HAKMEM_DECAY_MS").value;
  const batch = h.optionGet("HAKMEM_MADVISE_BATCH").value;
  assert.equal(h.optionSet("HAKMEM_MADVISE_BATCH", 1).rc, 0);
  assert.equal(h.optionSet("HAKMEM_DECAY_MS", DECAY_WATCH_DELAY_MS).rc, 0);
  const churn = () => {
    for (let i = 0; i < CHURN_PAIRS; i++) {
      const q = h.malloc(CHURN);
      assert.ok(q !== null);
      h.free(q);
    }
  };
  const given = () => h.stats().counters.madvised_bytes;
  try {
    h.sym.hak_trim(); // nothing idle left resident: what goes below is the test's
    free();
    const g0 = given();
    // a pass comes within 0.6 of the delay (its period is half of it) and dates what was freed
    churn();
    await sleep(DECAY_WATCH_DELAY_MS * 0.6);
    churn();
    assert.equal(given() - g0, 0, `${what} freed less than a delay ago stays resident`);
    // passes 0.7 of the delay apart: by 2 delays after the free it went back
    await sleep(DECAY_WATCH_DELAY_MS * 0.7);
    churn();
    await sleep(DECAY_WATCH_DELAY_MS * 0.7);
    churn();
    const back = given() - g0;
    assert.ok(back >= least, `${back} bytes given back, at least ${least} expected (${what})`);
  } finally {
    h.optionSet("HAKMEM_DECAY_MS", delay);
    h.optionSet("HAKMEM_MADVISE_BATCH", batch);
  }
}
