/** Slab sizes follow how a class is used (core/src/heap/refill.c, "slab sizes"): a class that
 * churns among a few slabs gets bigger ones, so its mallocs reach the slow path less often; a
 * class that fills fresh slabs and leaves long-lived blocks scattered among them goes back to
 * small ones, which those blocks pin less of. Judged by the statistics' counts (slow-path
 * refills, reserved bytes), never by time; the seed is printed.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { FLAVOURS, type Hakmem, lazyHakmem, notBuilt, Rng, testSeed } from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SEED = testSeed("slab_sizing", "HAKMEM_SEED", 0x51ab);

/** The 8–32 KiB churn of the mid_large_mt bench: `live` blocks, each step frees a random one and
 * allocates one of a random size in its place. Returns the mid tier's slow-path refills per
 * malloc over the steps after the first `warm` (the levels settle meanwhile). */
function churn(h: Hakmem, rng: Rng, live: Deno.PointerObject[], steps: number, warm: number) {
  let s0 = h.stats().tiers.mid;
  for (let i = 0; i < steps; i++) {
    if (i === warm) s0 = h.stats().tiers.mid;
    const k = rng.int(0, live.length - 1);
    h.free(live[k]);
    const p = h.malloc(rng.int(8 * KiB, 32 * KiB));
    assert.ok(p !== null, `malloc at step ${i}`);
    live[k] = p;
  }
  const s1 = h.stats().tiers.mid;
  return (s1.misses - s0.misses) / (s1.allocs - s0.allocs);
}

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `slab_sizing[${flavour}] a churning class gets bigger slabs, a filling one small ones`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      if (h.optionGet("HAKMEM_TCACHE").value === 0n) return; // one shared heap: no per-thread sizing
      const rng = new Rng(SEED);
      const live: Deno.PointerObject[] = [];
      for (let i = 0; i < 256; i++) live.push(h.malloc(rng.int(8 * KiB, 32 * KiB))!);
      // Level-0 slabs of these classes hold 8–12 blocks: about one malloc in two went to the
      // slow path (51 % at 200 000 steps); grown slabs refill from their own frees.
      const rate = churn(h, rng, live, 60_000, 20_000);
      console.log(`${flavour}: churn: ${(100 * rate).toFixed(1)} % of mallocs took the slow path`);
      assert.ok(
        rate < 0.35,
        `slow-path share ${rate.toFixed(3)} under churn (level-0 slabs: ~0.5)`,
      );
      for (const p of live) h.free(p);

      // 16 KiB blocks filling fresh slabs, one in 16 kept: level-0 slabs (8 blocks, 128 KiB) pin
      // every other slab, 128 of 256 (16 MiB); had the class kept the slabs its churn grew (32
      // blocks, 512 KiB) every slab would hold two survivors: 64 slabs, 32 MiB.
      const before = h.stats().tiers.mid.bytes_reserved;
      const blocks: Deno.PointerObject[] = [];
      for (let i = 0; i < 2048; i++) blocks.push(h.malloc(16 * KiB)!);
      const kept = blocks.filter((_, i) => i % 16 === 0);
      blocks.forEach((p, i) => i % 16 !== 0 && h.free(p));
      const pinned = h.stats().tiers.mid.bytes_reserved - before;
      console.log(`${flavour}: fill: ${(pinned / MiB).toFixed(1)} MiB of slabs held by 128 blocks`);
      // (in proportion to the class's block: the hardened debug build's canary takes 16 KiB
      // blocks to the next class)
      const block = Number(h.sym.hak_class_size(h.sym.hak_class_of(BigInt(16 * KiB))));
      const limit = 20 * MiB * block / (16 * KiB);
      assert.ok(pinned <= limit, `${pinned / MiB} MiB reserved for 128 scattered 16 KiB blocks`);
      for (const p of kept) h.free(p);
    },
  });
}
