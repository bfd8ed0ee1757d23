/** The free pages of a partly used slab go back to the OS once its blocks sat free for the decay
 * delay, and not before (core/src/heap/decay.c). The slab's local frees are dated by the heap's
 * next decay pass without a walk of their list; the pass that finds them still there a delay
 * later joins them to the free list and gives the pages back. Judged by the bytes given back
 * (MADV_DONTNEED, counted); the waits only let the delay pass.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { FLAVOURS, hardened, lazyHakmem, notBuilt } from "./helpers.ts";

const KiB = 1024;
/** Blocks of one tiny class, 8 slabs' worth of 64 KiB: all but the last slab are full, then
 * freed but for one survivor each, so none empties. */
const SIZE = 64;
const BLOCKS = 8192;
const SURVIVOR_EVERY = 1024;
/** Spans allocated and freed: slow paths that look at the heap's clock (every 16th) without
 * touching the tiny class. */
const CHURN = 512 * KiB;
const CHURN_PAIRS = 64;
/** The decay delay; a heap's passes come every half of it while it has slow paths. The waits
 * below leave 0.4 of it as a margin for a loaded machine. */
const DELAY_MS = 1000;
/** At least this much of the freed slabs' pages goes back: 7 slabs of 16 pages, 15 free each,
 * at 4 KiB pages; half of it, whatever the page size and slab layout. */
const EXPECTED = 7 * 15 * 4 * KiB / 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `kept_pages[${flavour}] a partly used slab's free pages go back after the delay`,
    ignore: notBuilt(flavour),
    async fn() {
      const h = hak();
      if (hardened(h)) return; // frees wait in the quarantine
      const delay = h.optionGet("HAKMEM_DECAY_MS").value;
      const batch = h.optionGet("HAKMEM_MADVISE_BATCH").value;
      assert.equal(h.optionSet("HAKMEM_MADVISE_BATCH", 1).rc, 0); // advise at once: counted
      assert.equal(h.optionSet("HAKMEM_DECAY_MS", DELAY_MS).rc, 0);
      const churn = () => {
        for (let i = 0; i < CHURN_PAIRS; i++) {
          const q = h.malloc(CHURN);
          assert.ok(q !== null);
          h.free(q);
        }
      };
      const given = () => h.stats().counters.madvised_bytes;
      const survivors: Deno.PointerValue[] = [];
      try {
        h.sym.hak_trim(); // nothing idle left resident: what goes below is the slabs'
        const blocks: Deno.PointerValue[] = [];
        for (let i = 0; i < BLOCKS; i++) {
          const p = h.malloc(SIZE);
          assert.ok(p !== null);
          blocks.push(p);
        }
        blocks.forEach((p, i) => i % SURVIVOR_EVERY === 0 ? survivors.push(p) : h.free(p));
        const g0 = given();
        // a pass comes within 0.6 of the delay (its period is half of it) and dates the frees
        churn();
        await sleep(DELAY_MS * 0.6);
        churn();
        assert.equal(given() - g0, 0, "pages freed less than a delay ago stay resident");
        // passes 0.7 of the delay apart: by 2 delays after the frees their pages went back
        await sleep(DELAY_MS * 0.7);
        churn();
        await sleep(DELAY_MS * 0.7);
        churn();
        const back = given() - g0;
        assert.ok(back >= EXPECTED, `${back} bytes given back, at least ${EXPECTED} expected`);
      } finally {
        for (const p of survivors) h.free(p);
        h.optionSet("HAKMEM_DECAY_MS", delay);
        h.optionSet("HAKMEM_MADVISE_BATCH", batch);
      }
    },
  });
}
