/** Which block malloc hands out next (core/src/heap/heap.h, hak_slab_free_local and
 * hak_free_owned): a block freed by its owner onto the class's current slab is the next one of its
 * class, while its lines are still in cache; pushed onto the slab's local list, it came back only
 * after the rest of the slab. A block freed to a slab that is no longer current waits on the
 * class's hot stack, which malloc pops first. Hardened mode (the debug flavour) holds freed blocks
 * in a quarantine first: release only. */
import assert from "node:assert/strict";
import { addr, hardened, lazyHakmem, notBuilt } from "./helpers.ts";

/** A tiny, a mid and a multi-unit mid size (their slabs hold at least 8 blocks). */
const SIZES = [16, 256, 4096, 40 * 1024];

const hak = lazyHakmem("release");

Deno.test({
  name: "reuse[release] a block its owner freed is the next one malloc hands out",
  ignore: notBuilt("release"),
  fn() {
    const h = hak();
    assert.ok(!hardened(h), "the release flavour runs unhardened here");
    for (const size of SIZES) {
      const p = h.malloc(size);
      const q = h.malloc(size);
      assert.ok(p !== null && q !== null, `malloc(${size})`);
      h.free(p);
      const r = h.malloc(size);
      assert.equal(addr(r), addr(p), `malloc(${size}) after free(p): p again`);
      h.free(q);
      h.free(r);
      const s = h.malloc(size);
      assert.equal(addr(s), addr(r), `malloc(${size}) after free(q), free(p): p, the last freed`);
      h.free(s);
    }
  },
});

/** Tiny and mid sizes, and blocks of each allocated after the first: more than a slab of them
 * holds (a tiny slab is one 64 KiB unit; a mid slab holds at most 80 blocks here). */
const NOT_CURRENT_SIZES = [16, 48, 512, 1024, 2048, 8192, 24 * 1024, 64 * 1024];
const LATER = 80;
const UNIT = 64 * 1024;

Deno.test({
  name: "reuse[release] a block freed to a slab that is not current is handed out next",
  ignore: notBuilt("release"),
  fn() {
    const h = hak();
    for (const size of NOT_CURRENT_SIZES) {
      const first = h.malloc(size);
      const count = Math.max(LATER, Math.ceil(UNIT / size) + 8);
      const later = Array.from({ length: count }, () => h.malloc(size));
      assert.ok(first !== null && later.every((p) => p !== null), `malloc(${size})`);
      h.free(first);
      const again = h.malloc(size);
      assert.equal(addr(again), addr(first), `malloc(${size}) after free(first): first again`);
      h.free(later[1]);
      h.free(again);
      assert.equal(addr(h.malloc(size)), addr(first), `malloc(${size}): the last freed first`);
      assert.equal(addr(h.malloc(size)), addr(later[1]), `malloc(${size}): then the one before`);
      h.free(first);
      for (const p of later) h.free(p);
    }
  },
});
