/** A heap reuses what it holds resident before it maps more (core/src/heap/refill.c,
 * _hak_heap_slab_new): the empty slabs each class keeps for its next burst are taken by another
 * class once no free unit is left, instead of a new segment. A program whose sizes drift, a
 * burst of one size band and then of another, used to map a class's worth of empty slabs per
 * class it had used (1 MiB each for the classes from 8 KiB up). Judged by the bytes hakmem
 * maps, never by time; the seed is printed.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { FLAVOURS, lazyHakmem, notBuilt, Rng, testSeed } from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SEED = testSeed("kept_empties", "HAKMEM_SEED", 0x6e7);
/** The mid classes from 8 KiB up keep 1 MiB of empty slabs each (HAK_CLASS_CACHE_BYTES). */
const SIZES = [8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64].map((k) => k * KiB);
/** Each burst: 2 MiB of one class, all freed before the next. */
const BURST = 2 * MiB;

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `kept_empties[${flavour}] bursts of drifting sizes map about one burst, not a class each`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      const rng = new Rng(SEED);
      // the order of the classes is drawn: any order must reuse the memory
      const order = [...SIZES];
      for (let i = order.length - 1; i > 0; i--) {
        const k = rng.int(0, i);
        [order[i], order[k]] = [order[k], order[i]];
      }
      const mapped0 = h.stats().counters.bytes_mapped;
      let peak = 0;
      for (const size of order) {
        const blocks: Deno.PointerObject[] = [];
        for (let n = 0; n < BURST / size; n++) {
          const p = h.malloc(size);
          assert.ok(p !== null, `malloc(${size})`);
          blocks.push(p);
        }
        for (const p of blocks) h.free(p);
        peak = Math.max(peak, h.stats().counters.bytes_mapped - mapped0);
      }
      console.log(
        `${flavour}: ${SIZES.length} bursts of ${BURST / MiB} MiB in the order ` +
          `${order.map((s) => s / KiB).join(",")} KiB: ${(peak / MiB).toFixed(1)} MiB mapped`,
      );
      // a few bursts' worth: slabs of 7–8 units leave units of 1–2 MiB segments over, which
      // units the slabs retired in turn make free depends on the classes' order and their
      // clocks (7.1–9.1 MiB here; the debug build is hardened, and its quarantine holds 2 MiB
      // of freed blocks back from their slabs: 9.1–11.1). Every class keeping its 1 MiB mapped
      // 21.1 MiB (19.1 in the debug build)
      const bound = 7 * BURST;
      assert.ok(peak <= bound, `${(peak / MiB).toFixed(1)} MiB mapped (at most ${bound / MiB})`);
    },
  });
}
