/** Size classes: every boundary, usable sizes, and which tier serves what. */
import assert from "node:assert/strict";
import { FLAVOURS, lazyHakmem, notBuilt, usableOfClass } from "./helpers.ts";

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  const ignore = notBuilt(flavour);
  const test = (name: string, fn: () => void) =>
    Deno.test({ name: `classes[${flavour}] ${name}`, ignore, fn });

  test("class table is strictly increasing and ends at the mid max", () => {
    const h = hak();
    const n = h.classCount();
    assert.ok(n >= 2 && n < 4096, `hak_class_count() = ${n}`);
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) sizes.push(h.classSize(i));
    console.log(`${flavour}: ${n} classes: ${sizes.join(" ")}`);
    for (let i = 0; i < n; i++) {
      assert.ok(sizes[i] > 0, `class ${i} has size 0`);
      if (i > 0) {
        assert.ok(sizes[i] > sizes[i - 1], `class ${i} not above ${i - 1}`);
      }
      assert.equal(sizes[i] % 8, 0, `class ${i} size ${sizes[i]} not 8-aligned`);
    }
    assert.equal(h.classSize(n), 0, "hak_class_size(count)");
    assert.equal(h.classSize(n + 100), 0, "hak_class_size(count+100)");
    assert.equal(h.classSize(0xffffffff), 0, "hak_class_size(UINT_MAX)");
    assert.equal(h.tinyMax(), 1024);
    assert.ok(sizes.includes(1024), "a class of exactly 1024 B (tiny max)");
    assert.equal(sizes[n - 1], h.midMax(), "last class size == hak_mid_max()");
    assert.ok(sizes[0] <= 16, `smallest class ${sizes[0]}`);
  });

  // (in hardened mode a class serves up to its size less the canary: usableOfClass)
  test("hak_class_of at every boundary", () => {
    const h = hak();
    const n = h.classCount();
    assert.ok(h.classOf(0) >= 0, "hak_class_of(0) is a class");
    assert.equal(h.classOf(1), 0, "hak_class_of(1)");
    for (let i = 0; i < n; i++) {
      const s = usableOfClass(h, i);
      assert.equal(h.classOf(s), i, `hak_class_of(${s})`);
      if (i > 0) {
        const prev = usableOfClass(h, i - 1);
        assert.equal(h.classOf(prev + 1), i, `hak_class_of(${prev + 1})`);
      }
      assert.equal(
        h.classOf(s + 1),
        i + 1 < n ? i + 1 : -1,
        `hak_class_of(${s + 1})`,
      );
    }
    const mid = h.midMax();
    for (const s of [mid + 1, mid + 4096, 1 << 20, 2 ** 40]) {
      assert.equal(h.classOf(s), -1, `hak_class_of(${s}) should be large`);
    }
    assert.equal(h.classOf(2n ** 64n - 1n), -1, "hak_class_of(SIZE_MAX)");
  });

  test("blocks of class i have usable size class_size(i) (less the canary when hardened)", () => {
    const h = hak();
    const n = h.classCount();
    const tiny = h.tinyMax();
    for (let i = 0; i < n; i++) {
      const s = h.classSize(i), top = usableOfClass(h, i);
      const lo = i > 0 ? usableOfClass(h, i - 1) + 1 : 1;
      const tier = s <= tiny ? "tiny" : "mid";
      for (const req of new Set([lo, (lo + top) >> 1, top])) {
        const before = h.stats().tiers;
        const p = h.malloc(req);
        assert.ok(p !== null, `malloc(${req})`);
        assert.equal(h.usable(p), top, `usable(malloc(${req})), class ${i}`);
        new Deno.UnsafePointerView(p).getUint8(top - 1);
        const after = h.stats().tiers;
        assert.equal(
          after[tier].allocs,
          before[tier].allocs + 1,
          `malloc(${req}) counted in ${tier}`,
        );
        assert.equal(
          after[tier].bytes_in_use,
          before[tier].bytes_in_use + s,
          `malloc(${req}) adds ${s} to ${tier}.bytes_in_use`,
        );
        for (const other of ["tiny", "mid", "large"] as const) {
          if (other === tier) continue;
          assert.equal(
            after[other].allocs,
            before[other].allocs,
            `malloc(${req}) counted in ${other}`,
          );
        }
        h.free(p);
      }
    }
  });

  test("sizes above the mid max go to the large tier", () => {
    const h = hak();
    const mid = h.midMax();
    for (const req of [mid + 1, mid + 100, 2 * mid, 1 << 20]) {
      const before = h.stats().tiers;
      const p = h.malloc(req);
      assert.ok(p !== null, `malloc(${req})`);
      assert.ok(h.usable(p) >= req);
      const after = h.stats().tiers;
      assert.equal(after.large.allocs, before.large.allocs + 1, `${req}`);
      assert.equal(after.mid.allocs, before.mid.allocs, `${req} not mid`);
      assert.equal(after.tiny.allocs, before.tiny.allocs, `${req} not tiny`);
      assert.ok(after.large.bytes_in_use >= before.large.bytes_in_use + req);
      h.free(p);
      const freed = h.stats().tiers;
      assert.equal(freed.large.frees, before.large.frees + 1);
      assert.equal(freed.large.bytes_in_use, before.large.bytes_in_use);
    }
    // and the mid max itself stays in the mid tier
    const before = h.stats().tiers;
    const p = h.malloc(mid);
    assert.ok(p !== null);
    const after = h.stats().tiers;
    assert.equal(after.mid.allocs, before.mid.allocs + 1, "malloc(mid max)");
    assert.equal(after.large.allocs, before.large.allocs);
    h.free(p);
  });
}
