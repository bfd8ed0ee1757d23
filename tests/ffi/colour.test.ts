/** A mid class's blocks of a page or more lie 128 bytes further apart than their size, unless the
 * class serves page-aligned requests (4 and 8 KiB; core/src/segment/classes.c). A span's block
 * (past the mid tier, up to 1 MiB) starts a colour into its first unit: a whole
 * number of cache lines below 64 KiB, stepping from span to span (core/src/heap/span.c); a large
 * block starts a colour past its header, taken from its chunk (core/src/large/large.c). Live
 * blocks that all started at one offset from a unit or chunk boundary put their first lines in
 * the same sets of every cache level. A block asked for with an alignment past a cache line
 * starts where the alignment puts it; every block still frees, grows, and answers a sized free
 * and its usable size like one without a colour.
 *
 * The library is a private copy, so the spans here are this module's alone. */
import assert from "node:assert/strict";
import {
  addr,
  bytesAt,
  FLAVOURS,
  hardened,
  hex,
  lazyHakmem,
  memset,
  notBuilt,
  ptrOf,
  usableOfClass,
} from "./helpers.ts";

const KiB = 1024;
const LINE = 64n;
const PAGE = 4096n;
const UNIT = 65536n;
const MiB = 1024 * KiB;
/** Live spans allocated at once: more than one L1 way holds of one set. */
const LIVE = 64;

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);

  Deno.test({
    name: `colour[${flavour}] live spans start at many offsets into their page`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      if (hardened(h)) return; // every span has a guarded mapping of its own
      for (const size of [96 * KiB, 256 * KiB, 1024 * KiB]) {
        const ps = [];
        const offsets = new Set<bigint>();
        for (let i = 0; i < LIVE; i++) {
          const p = h.malloc(size);
          assert.ok(p !== null, `malloc(${size})`);
          const off = addr(p) % PAGE;
          assert.equal(off % LINE, 0n, `${hex(p)} of ${size} B is not line-aligned`);
          assert.ok(h.usable(p) >= size, `usable size of ${hex(p)} below ${size}`);
          memset(p, 0x33, size); // the whole block is the caller's
          offsets.add(off);
          ps.push(p);
        }
        // the old layout started every span at offset 0
        assert.ok(
          offsets.size >= LIVE / 2,
          `${LIVE} live spans of ${size} B start at only ${offsets.size} offsets into a page`,
        );
        // and later within the first page of its unit: a second-level way spans 64 KiB
        const pages = new Set(ps.map((p) => (addr(p) % UNIT) / PAGE));
        assert.ok(
          pages.size >= 4,
          `${LIVE} live spans of ${size} B start in only ${pages.size} pages of their unit`,
        );
        for (const p of ps) h.sym.hak_free_sized(p, BigInt(size));
      }
    },
  });

  Deno.test({
    name: `colour[${flavour}] live mid blocks of a page or more start at many offsets into it`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      for (const size of [5000, 12 * KiB, 16 * KiB, 20 * KiB, 48 * KiB]) {
        const cls = Number(h.sym.hak_class_of(BigInt(size)));
        const ps = [];
        for (let i = 0; i < LIVE; i++) {
          const p = h.malloc(size);
          assert.ok(p !== null, `malloc(${size})`);
          assert.equal(addr(p) % 128n, 0n, `${hex(p)} of ${size} B is not 128-byte aligned`);
          // the room past the class's size is no one's
          assert.equal(h.usable(p), usableOfClass(h, cls), `usable size of ${hex(p)}`);
          memset(p, 0x44, size);
          ps.push(p);
        }
        // the old layout started them at one offset (four for 5000 B: 5 KiB apart)
        const offsets = new Set(ps.map((p) => addr(p) % PAGE));
        assert.ok(
          offsets.size >= 6,
          `${LIVE} live blocks of ${size} B start at only ${offsets.size} offsets into a page`,
        );
        for (const p of ps) h.sym.hak_free_sized(p, BigInt(size));
      }
    },
  });

  Deno.test({
    name: `colour[${flavour}] live large blocks start at many offsets into their page`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      if (hardened(h)) return; // every large block has a guarded mapping of its own
      // from arenas (up to 64 MiB) and mappings of their own
      for (const [size, live] of [[1536 * KiB, 16], [3 * MiB, 16], [70 * MiB, 4]]) {
        const ps = [];
        for (let i = 0; i < live; i++) {
          const p = h.malloc(size);
          assert.ok(p !== null, `malloc(${size})`);
          assert.equal(addr(p) % LINE, 0n, `${hex(p)} of ${size} B is not line-aligned`);
          assert.ok(h.usable(p) >= size, `usable size of ${hex(p)} below ${size}`);
          const head = Math.min(size, 256 * KiB);
          memset(p, 0x5a, head); // the block's first and last bytes are the caller's
          memset(Deno.UnsafePointer.offset(p!, size - head)!, 0x5b, head);
          ps.push(p);
        }
        // the old layout started every large block 64 B past a chunk boundary
        const offsets = new Set(ps.map((p) => addr(p) % PAGE));
        assert.ok(
          offsets.size >= live / 2,
          `${live} live blocks of ${size} B start at only ${offsets.size} offsets into a page`,
        );
        for (const p of ps) h.sym.hak_free_sized(p, BigInt(size));
      }
      // a coloured large block grows with its content
      const p = h.malloc(1536 * KiB);
      assert.ok(p !== null);
      memset(p, 0x6c, 1536 * KiB);
      const q = h.sym.hak_realloc(p, BigInt(5 * MiB));
      assert.ok(q !== null);
      assert.ok(bytesAt(q, 1536 * KiB).every((b) => b === 0x6c), "realloc lost the content");
      assert.ok(h.usable(q) >= 5 * MiB, "usable size below the grown size");
      memset(q, 0x12, 5 * MiB);
      h.free(q);
    },
  });

  Deno.test({
    name: `colour[${flavour}] aligned blocks keep their alignment; a coloured span grows in place`,
    ignore: notBuilt(flavour),
    fn() {
      const h = hak();
      for (
        const [align, size] of [
          [4096, 256 * KiB],
          [65536, 200 * KiB],
          [128, 300 * KiB],
          [4096, 3 * MiB],
          [1 << 20, 1536 * KiB],
          // mid sizes: page-aligned ones up to 8 KiB from the 4 and 8 KiB classes, larger ones
          // from spans; 128-aligned ones from any class
          [4096, 4096],
          [4096, 5000],
          [8192, 8192],
          [4096, 12 * KiB],
          [4096, 16 * KiB],
          [16384, 40 * KiB],
          [128, 20 * KiB],
          [256, 20 * KiB],
          [16384, 0],
        ]
      ) {
        const a = [];
        for (let i = 0; i < 8; i++) {
          const out = new BigUint64Array(1);
          const rc = h.sym.hak_posix_memalign(ptrOf(out), BigInt(align), BigInt(size));
          assert.equal(rc, 0, `posix_memalign(${align}, ${size})`);
          assert.equal(out[0] % BigInt(align), 0n, `posix_memalign(${align}, ${size}) misaligned`);
          const p = Deno.UnsafePointer.create(out[0])!;
          assert.ok(h.usable(p) >= size, `usable size of posix_memalign(${align}, ${size})`);
          if (size > 0) memset(p, 0x21, size);
          a.push(p);
        }
        for (const p of a) h.free(p);
      }
      if (hardened(h)) return;
      // a span grows into the free units after it without moving, colour and content kept
      const p = h.malloc(100 * KiB);
      assert.ok(p !== null);
      memset(p, 0x7e, 100 * KiB);
      const q = h.sym.hak_realloc(p, BigInt(180 * KiB));
      assert.ok(q !== null);
      assert.equal(addr(q) % UNIT, addr(p) % UNIT, "realloc changed the span's colour");
      assert.ok(h.usable(q) >= 180 * KiB, "usable size below the grown size");
      assert.ok(bytesAt(q, 100 * KiB).every((b) => b === 0x7e), "realloc lost the content");
      memset(q, 0x11, 180 * KiB);
      h.free(q);
    },
  });
}
