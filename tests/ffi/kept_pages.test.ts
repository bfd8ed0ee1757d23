/** The free pages of a partly used slab go back to the OS once its blocks sat free for the decay
 * delay, and not before (core/src/heap/decay.c). The slab's local frees are dated by the heap's
 * next decay pass without a walk of their list; the pass that finds them still there a delay
 * later joins them to the free list and gives the pages back.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { expectGivenBackInTime } from "./decay_watch.ts";
import { FLAVOURS, hardened, lazyHakmem, notBuilt } from "./helpers.ts";

const KiB = 1024;
/** Blocks of one tiny class, 8 slabs' worth of 64 KiB: all but the last slab are full, then
 * freed but for one survivor each, so none empties. */
const SIZE = 64;
const BLOCKS = 8192;
const SURVIVOR_EVERY = 1024;
/** At least this much of the freed slabs' pages goes back: 7 slabs of 16 pages, 15 free each,
 * at 4 KiB pages; half of it, whatever the page size and slab layout. */
const EXPECTED = 7 * 15 * 4 * KiB / 2;

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `kept_pages[${flavour}] a partly used slab's free pages go back after the delay`,
    ignore: notBuilt(flavour),
    async fn() {
      const h = hak();
      if (hardened(h)) return; // frees wait in the quarantine
      const survivors: Deno.PointerValue[] = [];
      try {
        await expectGivenBackInTime(h, "a partly used slab's free pages", EXPECTED, () => {
          const blocks: Deno.PointerValue[] = [];
          for (let i = 0; i < BLOCKS; i++) {
            const p = h.malloc(SIZE);
            assert.ok(p !== null);
            blocks.push(p);
          }
          blocks.forEach((p, i) => i % SURVIVOR_EVERY === 0 ? survivors.push(p) : h.free(p));
        });
      } finally {
        for (const p of survivors) h.free(p);
      }
    },
  });
}
