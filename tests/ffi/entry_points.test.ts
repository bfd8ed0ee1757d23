/** The C23 sized frees and glibc's introspection calls through FFI, on a private instance (so
 * the statistics move only with this module's calls): hak_free_sized, hak_free_aligned_sized and
 * the exported free_sized / free_aligned_sized free every tier (a wrong statement is caught by the
 * debug build: invalid_free.test.ts); mallinfo2 is the README's mapping of the statistics of the
 * same instant, moves exactly with allocations, and mallinfo stops at INT_MAX; malloc_info writes
 * the same figures as XML and refuses options and a NULL stream with EINVAL. */
import assert from "node:assert/strict";
import { cstr, type Mallinfo, MALLINFO_FIELDS } from "../../bindings/hakmem.ts";
import { mallinfoOf, parseMallocInfo } from "../preload/malloc_info.ts";
import { EINVAL, FLAVOURS, type Hakmem, hardened, lazyHakmem, notBuilt } from "./helpers.ts";

const MiB = 1024 * 1024;
const INT_MAX = 2 ** 31 - 1;

const libc = Deno.dlopen("libc.so.6", {
  fopen: { parameters: ["buffer", "buffer"], result: "pointer" },
  fclose: { parameters: ["pointer"], result: "i32" },
});

function nonNull(p: Deno.PointerValue, what: string): Deno.PointerObject {
  assert.ok(p !== null, `${what} returned NULL`);
  return p;
}

/** mallinfo2 and the statistics with nothing allocated in between. */
function snapshot(h: Hakmem): { m: Mallinfo; want: ReturnType<typeof mallinfoOf> } {
  const s = h.statsStruct();
  const m = h.mallinfo();
  return { m, want: mallinfoOf(s.tiers, s.counters) };
}

function assertMapping(h: Hakmem, what: string): Mallinfo {
  const { m, want } = snapshot(h);
  for (const [k, v] of Object.entries(want)) {
    assert.equal(m[k as keyof Mallinfo], v, `${what}: mallinfo2.${k}`);
  }
  assert.ok(m.keepcost <= m.fordblks, `${what}: keepcost ${m.keepcost} > fordblks ${m.fordblks}`);
  return m;
}

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  const test = (name: string, fn: () => void | Promise<void>) =>
    Deno.test({ name: `entry_points[${flavour}] ${name}`, ignore: notBuilt(flavour), fn });

  test("hak_free_sized, hak_free_aligned_sized and their libc names free every tier", () => {
    const h = hak();
    const before = h.stats().tiers;
    const sizes = [24, 1000, 5000, 65536, 300000, 5 * MiB];
    for (const size of sizes) {
      const a = nonNull(h.malloc(size), `malloc(${size})`);
      h.sym.hak_free_sized(a, BigInt(size));
      const b = nonNull(h.malloc(size), `malloc(${size})`);
      h.sym.free_sized(b, BigInt(h.usable(b))); // the whole usable size is a true statement
      for (const align of [16, 4096, 2 * MiB]) {
        const c = nonNull(h.sym.hak_aligned_alloc(BigInt(align), BigInt(size)), "aligned_alloc");
        h.sym.hak_free_aligned_sized(c, BigInt(align), BigInt(size));
        const d = nonNull(h.sym.aligned_alloc(BigInt(align), BigInt(size)), "aligned_alloc");
        h.sym.free_aligned_sized(d, BigInt(align), BigInt(size));
      }
    }
    h.sym.hak_free_sized(null, 10n);
    h.sym.free_aligned_sized(null, 64n, 10n);
    const after = h.stats().tiers;
    let allocs = 0, frees = 0;
    for (const t of Object.keys(after)) {
      allocs += after[t].allocs - before[t].allocs;
      frees += after[t].frees - before[t].frees;
      assert.equal(after[t].bytes_in_use, before[t].bytes_in_use, `${t}: nothing left in use`);
    }
    assert.equal(allocs, sizes.length * 8);
    assert.equal(frees, allocs, "every block freed");
  });

  test("mallinfo2 maps the statistics and moves exactly with allocations", () => {
    const h = hak();
    h.sym.hak_trim(); // what earlier tests left in the caches goes back
    const m0 = assertMapping(h, "before");
    assert.equal(m0.keepcost, 0, "nothing cached after a trim");
    const tiny = Array.from({ length: 100 }, () => nonNull(h.malloc(100), "malloc(100)"));
    // above what a thread keeps for itself: freed, they wait in BigCache
    const large = [5, 6].map((n) => nonNull(h.malloc(n * MiB), "malloc(large)"));
    const m1 = assertMapping(h, "live");
    assert.equal(m1.uordblks - m0.uordblks, 100 * h.classSize(h.classOf(100)), "uordblks");
    assert.equal(m1.hblks - m0.hblks, 2, "hblks");
    const usable = large.reduce((n, p) => n + h.usable(p), 0);
    assert.equal(m1.hblkhd - m0.hblkhd, usable, "hblkhd: the large blocks' usable bytes");
    assert.equal(m1.arena + m1.hblkhd, h.stats().counters.bytes_mapped, "arena + hblkhd");
    [...tiny, ...large].forEach((p) => h.free(p));
    const m2 = assertMapping(h, "freed");
    for (const f of ["uordblks", "hblks", "hblkhd"] as const) assert.equal(m2[f], m0[f], f);
    if (hardened(h)) {
      // hardened mode caches no large block: nothing for malloc_trim to give back
      assert.equal(m2.keepcost, 0, "keepcost (hardened)");
      return;
    }
    // the freed large blocks wait in BigCache: what malloc_trim would give back
    assert.ok(m2.keepcost > m0.keepcost, `keepcost ${m0.keepcost} -> ${m2.keepcost}`);
    assert.equal(h.sym.malloc_trim(0n), 1);
    assert.equal(assertMapping(h, "trimmed").keepcost, 0);
  });

  test("mallinfo is mallinfo2 with every field stopped at INT_MAX", () => {
    const h = hak();
    // 3 GiB of address space, never touched: hblkhd and the peak pass INT_MAX
    const big = nonNull(h.malloc(3n << 30n), "malloc(3 GiB)");
    const wide = h.mallinfo(true);
    const narrow = h.mallinfo(false);
    h.free(big);
    assert.ok(wide.hblkhd > INT_MAX && wide.usmblks > INT_MAX, JSON.stringify(wide));
    for (const f of MALLINFO_FIELDS) assert.equal(narrow[f], Math.min(wide[f], INT_MAX), f);
  });

  test("malloc_info writes the figures as glibc's XML; options or NULL give EINVAL", async () => {
    const h = hak();
    const dir = await Deno.makeTempDir({ prefix: "hakmem-malloc-info-" });
    try {
      const path = `${dir}/info.xml`;
      const fp = nonNull(libc.symbols.fopen(cstr(path), cstr("w")), "fopen");
      const s = h.statsStruct();
      const m = h.mallinfo();
      assert.equal(h.sym.malloc_info(0, fp), 0);
      assert.equal(h.sym.malloc_info(1, fp), EINVAL, "options != 0");
      assert.equal(libc.symbols.fclose(fp), 0);
      assert.equal(h.sym.malloc_info(0, null), EINVAL, "no stream");
      const info = parseMallocInfo(await Deno.readTextFile(path));
      assert.deepEqual(info.totals.mmap, { count: m.hblks, size: m.hblkhd });
      assert.deepEqual(info.totals.rest, { count: m.ordblks, size: m.fordblks });
      assert.deepEqual(info.system, { current: s.counters.bytes_mapped, max: m.usmblks });
      assert.equal(info.hakmem.attrs.version, h.version());
      assert.deepEqual(Object.keys(info.hakmem.tiers), h.statsLayout().tiers.names);
      for (const t of Object.keys(s.tiers)) assert.deepEqual(info.hakmem.tiers[t], s.tiers[t]);
      assert.deepEqual(
        Object.keys(info.hakmem.counters),
        h.statsLayout().counters.map((c) => c.name),
        "every counter of the statistics list",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
