/** A mid class's hot stack grows its room while the class churns (core/src/heap/refill.c,
 * hot_grow): a thread replacing random blocks of several mid classes frees most of them to slabs
 * that are not current, and with 8 blocks of room per class its mallocs kept running the current
 * slabs dry and switching (each of 2 threads replacing 8–32 KiB blocks among 256 live ran
 * 1.25x faster with 32 blocks of room). Judged by the tier's refills (misses), never by time:
 * once the rooms have grown, a round of replacements refills a few times; at a fixed 8 blocks it
 * refilled 40–70 times a round. The grown room is counted (hot_grown_bytes), stays within the
 * thread's bound, and goes back once the classes stop (the owner's decay passes halve it).
 *
 * The release flavour only: hardened mode, which the debug build always runs in, has no hot
 * stacks (every block takes the hardened path). The library is a private copy, so the counts
 * are this module's alone. */
import assert from "node:assert/strict";
import { lazyHakmem, notBuilt } from "./helpers.ts";

/** Blocks live at once, and the sizes replacing them: 8–28 KiB in 4 KiB steps (six classes). */
const LIVE = 256;
const MIN_SIZE = 8192;
const SIZE_STEP = 4096;
const SIZE_STEPS = 6;
const ROUNDS = 8;
const REPLACEMENTS = 4000;
/** Refills a round may take once the rooms have grown (the last rounds' average). */
const SETTLED_REFILLS = 15;
const SEED = 0x5eedn;
/** Grown room a thread may hold (HAK_HOT_GROWN_BYTES, core/src/heap/heap.h). */
const GROWN_MAX = 4 << 20;
/** How long the thread's decay passes may take to halve its idle classes' room back. */
const SHRINK_WAIT_MS = 3000;

for (const flavour of ["release"] as const) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `hot_room[${flavour}] a churning mid class's hot stacks grow: its refills drop`,
    ignore: notBuilt(flavour),
    async fn() {
      const h = hak();
      let x = SEED;
      const below = (n: number) => {
        x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
        return Number((x >> 33n) % BigInt(n));
      };
      const size = () => MIN_SIZE + SIZE_STEP * below(SIZE_STEPS);
      const live: Deno.PointerValue[] = [];
      for (let i = 0; i < LIVE; i++) live.push(h.malloc(size()));
      const refills: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const before = h.stats().tiers.mid.misses;
        for (let k = 0; k < REPLACEMENTS; k++) {
          const i = below(LIVE);
          h.free(live[i]);
          live[i] = h.malloc(size());
          assert.ok(live[i] !== null, "malloc");
        }
        refills.push(h.stats().tiers.mid.misses - before);
      }
      const grown = h.stats().counters.hot_grown_bytes;
      console.log(
        `${flavour} (seed ${SEED}): refills per round of ${REPLACEMENTS} replacements: ` +
          refills.join(", "),
      );
      const last = refills.slice(-4);
      const settled = last.reduce((a, b) => a + b, 0) / last.length;
      assert.ok(
        settled <= SETTLED_REFILLS,
        `the last rounds refilled ${last.join(", ")} times (at most ${SETTLED_REFILLS} each ` +
          `on average once the hot stacks have grown)`,
      );
      assert.ok(
        grown > 0 && grown <= GROWN_MAX,
        `the stacks grew ${grown} bytes of room (more than 0, at most ${GROWN_MAX} per thread)`,
      );
      // the class stops: every decay pass of the thread halves the room its frees did not fill
      // since the last (a decay delay of 1 ms: a pass per 20 ms, from the tiny frees' slow paths)
      for (const p of live) h.free(p);
      const decay = h.optionGet("HAKMEM_DECAY_MS").value;
      assert.equal(h.optionSet("HAKMEM_DECAY_MS", 1).rc, 0);
      try {
        const until = Date.now() + SHRINK_WAIT_MS;
        while (h.stats().counters.hot_grown_bytes > 0 && Date.now() < until) {
          const tiny = Array.from({ length: 256 }, () => h.malloc(64));
          for (const p of tiny) h.free(p);
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        h.optionSet("HAKMEM_DECAY_MS", decay);
      }
      assert.equal(
        h.stats().counters.hot_grown_bytes,
        0,
        `the grown room of stacks no free found full went back within ${SHRINK_WAIT_MS} ms`,
      );
    },
  });
}
