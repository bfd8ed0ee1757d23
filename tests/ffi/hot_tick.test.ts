/** A thread whose frees all wait on its hot stacks still runs its heartbeat (core/src/heap/heap.h,
 * hak_hot_pop and _hak_hot_tick): replacing blocks of a slab that is no longer current, each free
 * goes onto the class's hot stack and the next malloc pops it, so neither reaches a slow path nor
 * the current slab's countdown. The heartbeat is where the thread reads the clock for its decay
 * passes (and drains other threads' frees, and lets ACE tick): until every 64th pop ran it, such a
 * loop never ran one. Judged by the decay passes counted, over a loop far longer than the delay;
 * and by the refills: a class whose one block is freed and taken again between two passes is not
 * idle (its pops are watched, not only the top of its stack).
 *
 * The release flavour only: hardened mode (the debug flavour) has no hot stacks. */
import assert from "node:assert/strict";
import { hardened, lazyHakmem, notBuilt } from "./helpers.ts";

/** A tiny size and more blocks of it than a slab (one 64 KiB unit) holds: the first slab is no
 * longer current once they are allocated. */
const SIZE = 32;
const BLOCKS = (64 * 1024) / SIZE + 64;
/** The blocks replaced in turn: the first slab's. */
const REPLACED = 16;
const DECAY_MS = 5;
const LOOP_MS = 300;

const hak = lazyHakmem("release");

Deno.test({
  name: "hot_tick[release] frees onto the hot stacks alone still run the decay passes",
  ignore: notBuilt("release"),
  fn() {
    const h = hak();
    assert.ok(!hardened(h), "the release flavour runs unhardened here");
    const decay = h.optionGet("HAKMEM_DECAY_MS").value;
    assert.equal(h.optionSet("HAKMEM_DECAY_MS", DECAY_MS).rc, 0);
    const blocks = Array.from({ length: BLOCKS }, () => h.malloc(SIZE));
    try {
      assert.ok(!blocks.includes(null), `malloc(${SIZE})`);
      const before = h.stats().counters.decay_runs;
      const misses = h.stats().tiers.tiny.misses;
      let replaced = 0;
      for (const until = Date.now() + LOOP_MS; Date.now() < until;) {
        for (let i = 0; i < REPLACED; i++) {
          h.free(blocks[i]);
          blocks[i] = h.malloc(SIZE);
        }
        replaced += REPLACED;
      }
      const runs = h.stats().counters.decay_runs - before;
      const refills = h.stats().tiers.tiny.misses - misses;
      console.log(
        `${replaced} replacements in ${LOOP_MS} ms: ${runs} decay passes, ${refills} refills`,
      );
      assert.equal(refills, 0, "every malloc popped the hot stack (no slow path ran)");
      assert.ok(runs > 0, `no decay pass ran in ${LOOP_MS} ms (decay delay ${DECAY_MS} ms)`);
    } finally {
      for (const p of blocks) h.free(p);
      h.optionSet("HAKMEM_DECAY_MS", decay);
    }
  },
});
