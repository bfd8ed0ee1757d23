/** glibc-compatible semantics of the hak_* allocation API (and the standard
 * symbols) for the release and debug flavours. */
import assert from "node:assert/strict";
import {
  addr,
  bytesAt,
  EINVAL,
  ENOMEM,
  firstDiff,
  FLAVOURS,
  type Hakmem,
  headerVersion,
  hex,
  lazyHakmem,
  memcmp,
  memcpy,
  memset,
  notBuilt,
  offsetPtr,
  patternBytes,
  ptrOf,
  SIZE_MAX,
  withErrno,
} from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const PAGE = 4096;

/** Deterministic bytes for content checks (largest realloc step: 4 MiB). */
const PATTERN = patternBytes(4 * MiB + 4 * KiB, 0x5eed);
const PATTERN_PTR = ptrOf(PATTERN);
const ZEROS = new Uint8Array(4 * MiB);
const ZEROS_PTR = ptrOf(ZEROS);

function nonNull(p: Deno.PointerValue, what: string): Deno.PointerObject {
  assert.ok(p !== null, `${what} returned NULL`);
  return p;
}

/** Fills [p, p+n) with the pattern starting at pattern offset `off`. */
function fill(p: Deno.PointerObject, n: number, off = 0): void {
  assert.ok(off + n <= PATTERN.length, "pattern too short");
  memcpy(p, offsetPtr(PATTERN_PTR, off), n);
}

function verify(p: Deno.PointerObject, n: number, what: string, off = 0): void {
  if (memcmp(p, offsetPtr(PATTERN_PTR, off), n) === 0) return;
  const at = firstDiff(bytesAt(p, n), PATTERN.subarray(off, off + n));
  assert.fail(`${what}: content differs at byte ${at} of ${n} (${hex(p)})`);
}

function verifyZero(p: Deno.PointerObject, n: number, what: string): void {
  assert.ok(n <= ZEROS.length);
  if (memcmp(p, ZEROS_PTR, n) === 0) return;
  const b = bytesAt(p, n);
  const at = b.findIndex((x) => x !== 0);
  assert.fail(`${what}: byte ${at} of ${n} is ${b[at]} at ${hex(p)}`);
}

function isAligned(p: Deno.PointerObject, a: number): boolean {
  return addr(p) % BigInt(a) === 0n;
}

function alignments(): number[] {
  const out: number[] = [];
  for (let a = 8; a <= 4 * MiB; a *= 2) out.push(a);
  return out;
}

type AlignFn = (h: Hakmem, a: number, size: number) => Deno.PointerValue;
const ALIGN_FNS: Record<string, AlignFn> = {
  hak_aligned_alloc: (h, a, size) => h.sym.hak_aligned_alloc(BigInt(a), BigInt(size)),
  hak_posix_memalign: (h, a, size) => {
    const out = new BigUint64Array([0xdeadbeefn]);
    const rc = h.sym.hak_posix_memalign(ptrOf(out), BigInt(a), BigInt(size));
    assert.equal(rc, 0, `posix_memalign(${a}, ${size}) = ${rc}`);
    assert.notEqual(out[0], 0xdeadbeefn, "posix_memalign did not set *out");
    return Deno.UnsafePointer.create(out[0]);
  },
  hak_memalign: (h, a, size) => h.sym.hak_memalign(BigInt(a), BigInt(size)),
};

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  const ignore = notBuilt(flavour);
  const test = (name: string, fn: () => void) =>
    Deno.test({ name: `api[${flavour}] ${name}`, ignore, fn });

  test("version and tier limits", () => {
    const h = hak();
    assert.equal(h.version(), `${headerVersion()} ${flavour}`);
    assert.equal(h.tinyMax(), 1024);
    assert.equal(h.midMax(), 65536);
    assert.equal(h.usable(null), 0, "hak_usable_size(NULL)");
    assert.equal(Number(h.sym.malloc_usable_size(null)), 0);
    h.free(null); // free(NULL) is a no-op
    h.sym.free(null);
  });

  test("malloc results are 16-byte aligned from 16 B up", () => {
    const h = hak();
    const ptrs: Deno.PointerObject[] = [];
    for (let s = 1; s <= 70000; s += s < 2048 ? 1 : 61) {
      const p = nonNull(h.malloc(s), `malloc(${s})`);
      const need = s >= 16 ? 16 : 8;
      assert.ok(isAligned(p, need), `malloc(${s}) = ${hex(p)} not ${need}-aligned`);
      ptrs.push(p);
      if (ptrs.length >= 500) { for (const q of ptrs.splice(0)) h.free(q); }
    }
    for (const q of ptrs) h.free(q);
  });

  test("zero sizes give unique, freeable pointers", () => {
    const h = hak();
    const ptrs: Deno.PointerObject[] = [];
    const seen = new Set<bigint>();
    const make: [string, () => Deno.PointerValue][] = [
      ["malloc(0)", () => h.sym.hak_malloc(0n)],
      ["calloc(0,0)", () => h.sym.hak_calloc(0n, 0n)],
      ["calloc(0,8)", () => h.sym.hak_calloc(0n, 8n)],
      ["calloc(8,0)", () => h.sym.hak_calloc(8n, 0n)],
      ["realloc(NULL,0)", () => h.sym.hak_realloc(null, 0n)],
      ["aligned_alloc(64,0)", () => h.sym.hak_aligned_alloc(64n, 0n)],
      ["memalign(4096,0)", () => h.sym.hak_memalign(4096n, 0n)],
    ];
    for (let round = 0; round < 32; round++) {
      for (const [what, fn] of make) {
        const p = nonNull(fn(), what);
        assert.ok(!seen.has(addr(p)), `${what} returned a live pointer again`);
        seen.add(addr(p));
        const u = h.usable(p);
        memset(p, 0x77, u); // whatever is usable must be writable
        ptrs.push(p);
      }
    }
    for (const p of ptrs) h.free(p);
  });

  test("calloc of large blocks reads zero where freed blocks wrote", () => {
    const h = hak();
    const MiB = 1 << 20;
    // blocks of 1-9 MiB written all over and freed: their pages stay for the next blocks
    const sizes = [3 * MiB + 100, 9 * MiB, 1 * MiB + 5, 6 * MiB - 64, 4 * MiB + 4096];
    const dirty = sizes.map((n) => {
      const p = h.malloc(n);
      assert.ok(p !== null, `malloc(${n})`);
      memset(p, 0xa5, n);
      return p;
    });
    for (const p of dirty) h.free(p);
    // calloc over them, in other sizes: every byte zero, the last one too
    for (const n of [8 * MiB + 333, 2 * MiB, 5 * MiB + 17, 1 * MiB + 4096]) {
      const p = h.sym.hak_calloc(1n, BigInt(n));
      assert.ok(p !== null, `calloc(1, ${n})`);
      const at = bytesAt(p, n).findIndex((b) => b !== 0);
      assert.equal(at, -1, `calloc(1, ${n}) = ${hex(p)} not zero at byte ${at}`);
      memset(p, 0x5a, n); // dirty for the next one
      h.free(p);
    }
  });

  test("overflow and impossible sizes fail with ENOMEM", () => {
    const h = hak();
    const S = h.sym;
    const half = SIZE_MAX / 2n + 1n; // 2^63
    const cases: [string, () => Deno.PointerValue][] = [
      ["calloc(SIZE_MAX/2+1, 2)", () => S.hak_calloc(half, 2n)],
      ["calloc(2, SIZE_MAX/2+1)", () => S.hak_calloc(2n, half)],
      ["calloc(2^32, 2^32)", () => S.hak_calloc(1n << 32n, 1n << 32n)],
      ["calloc(SIZE_MAX, SIZE_MAX)", () => S.hak_calloc(SIZE_MAX, SIZE_MAX)],
      ["malloc(SIZE_MAX)", () => S.hak_malloc(SIZE_MAX)],
      ["malloc(SIZE_MAX-4095)", () => S.hak_malloc(SIZE_MAX - 4095n)],
      ["malloc(SIZE_MAX-64KiB)", () => S.hak_malloc(SIZE_MAX - 65536n)],
      ["malloc(2^63)", () => S.hak_malloc(1n << 63n)],
      ["malloc(2^57)", () => S.hak_malloc(1n << 57n)],
      ["realloc(NULL, SIZE_MAX)", () => S.hak_realloc(null, SIZE_MAX)],
      ["aligned_alloc(4096, SIZE_MAX-100)", () => S.hak_aligned_alloc(4096n, SIZE_MAX - 100n)],
      [
        "aligned_alloc(2MiB, SIZE_MAX-1MiB)",
        () => S.hak_aligned_alloc(2n << 20n, SIZE_MAX - (1n << 20n)),
      ],
      ["memalign(4096, SIZE_MAX-100)", () => S.hak_memalign(4096n, SIZE_MAX - 100n)],
      ["calloc standard symbol", () => S.calloc(half, 2n)],
      ["malloc standard symbol", () => S.malloc(SIZE_MAX)],
    ];
    for (const [what, fn] of cases) {
      const r = withErrno(fn);
      if (r.value !== null) h.free(r.value);
      assert.equal(r.value, null, `${what} should fail`);
      assert.equal(r.errno, ENOMEM, `${what}: errno`);
    }
    // 2^47 bytes cannot fit a 47-bit user address space; on 57-bit machines
    // with overcommit it might succeed, which is fine too.
    for (const sh of [47n, 48n, 52n]) {
      const r = withErrno(() => S.hak_malloc(1n << sh));
      if (r.value === null) {
        assert.equal(r.errno, ENOMEM, `malloc(2^${sh}): errno`);
      } else h.free(r.value);
    }
    // posix_memalign reports through the return value and leaves *out alone.
    const out = new BigUint64Array([0x1234n]);
    const rc = S.hak_posix_memalign(ptrOf(out), 4096n, SIZE_MAX - 100n);
    assert.equal(rc, ENOMEM, "posix_memalign(4096, SIZE_MAX-100)");
    assert.equal(out[0], 0x1234n, "posix_memalign changed *out on failure");
  });

  test("failed realloc/reallocarray leave the block intact", () => {
    const h = hak();
    const S = h.sym;
    for (const size of [40, 3000, 100000]) {
      const p = nonNull(h.malloc(size), `malloc(${size})`);
      const u = h.usable(p);
      fill(p, u, 7);
      const cases: [string, () => Deno.PointerValue][] = [
        ["reallocarray(p, 2^63, 2)", () => S.hak_reallocarray(p, SIZE_MAX / 2n + 1n, 2n)],
        ["reallocarray(p, 2^32, 2^32)", () => S.hak_reallocarray(p, 1n << 32n, 1n << 32n)],
        ["realloc(p, SIZE_MAX)", () => S.hak_realloc(p, SIZE_MAX)],
        ["realloc(p, 2^63)", () => S.hak_realloc(p, 1n << 63n)],
      ];
      for (const [what, fn] of cases) {
        const r = withErrno(fn);
        assert.equal(r.value, null, `${what} (size ${size}) should fail`);
        assert.equal(r.errno, ENOMEM, `${what}: errno`);
        assert.equal(h.usable(p), u, `${what}: usable size changed`);
        verify(p, u, `${what}: original block`, 7);
      }
      // reallocarray without overflow behaves like realloc(p, n*m).
      const q = nonNull(S.hak_reallocarray(p, 10n, 400n), "reallocarray");
      assert.ok(h.usable(q) >= 4000);
      verify(q, Math.min(size, 4000), "reallocarray kept prefix", 7);
      h.free(q);
    }
  });

  test("every power-of-two alignment 8 B .. 4 MiB", () => {
    const h = hak();
    for (const a of alignments()) {
      const sizes = [0, 1, a - 1, a, 3 * a + 5, 100, 5000, 100000];
      const live: { p: Deno.PointerObject; u: number; b: number }[] = [];
      for (const [fname, fn] of Object.entries(ALIGN_FNS)) {
        for (const size of sizes) {
          const what = `${fname}(${a}, ${size})`;
          const p = nonNull(fn(h, a, size), what);
          assert.ok(isAligned(p, a), `${what} = ${hex(p)} not aligned`);
          const u = h.usable(p);
          assert.ok(u >= size, `${what}: usable ${u} < ${size}`);
          const b = (live.length * 37 + 1) & 0xff;
          memset(p, b, u);
          live.push({ p, u, b });
        }
      }
      // no block overlapped another: each still holds its own byte
      for (const { p, u, b } of live) {
        if (u === 0) continue;
        const v = new Deno.UnsafePointerView(p);
        for (const off of [0, u >> 1, u - 1]) {
          assert.equal(v.getUint8(off), b, `block ${hex(p)}+${off} (a=${a})`);
        }
      }
      for (const { p } of live) h.free(p);
    }
  });

  test("bad alignments are rejected with EINVAL", () => {
    const h = hak();
    for (const a of [0, 3, 24, 48, 100, 4097]) {
      const r = withErrno(() => h.sym.hak_aligned_alloc(BigInt(a), 64n));
      if (r.value !== null) h.free(r.value);
      assert.equal(r.value, null, `aligned_alloc(${a}, 64) should fail`);
      assert.equal(r.errno, EINVAL, `aligned_alloc(${a}, 64): errno`);
    }
    for (const a of [0, 1, 2, 4, 12, 24, 48]) {
      const out = new BigUint64Array([0xfeedn]);
      const rc = h.sym.hak_posix_memalign(ptrOf(out), BigInt(a), 64n);
      assert.equal(rc, EINVAL, `posix_memalign(${a}, 64)`);
      assert.equal(out[0], 0xfeedn, `posix_memalign(${a}) changed *out`);
    }
    // memalign rounds a non-power-of-two alignment up
    for (const [a, want] of [[3, 4], [24, 32], [48, 64], [4097, 8192]]) {
      const p = nonNull(
        h.sym.hak_memalign(BigInt(a), 100n),
        `memalign(${a}, 100)`,
      );
      assert.ok(isAligned(p, want), `memalign(${a}) = ${hex(p)}`);
      assert.ok(h.usable(p) >= 100);
      h.free(p);
    }
  });

  test("usable size >= requested for sizes 0..70000", () => {
    const h = hak();
    const sizes: number[] = [];
    for (let s = 0; s <= 2100; s++) sizes.push(s);
    for (let s = 2101; s <= 70000; s += 37) sizes.push(s);
    for (const b of [4096, 8192, 16384, 32768, 65535, 65536, 65537]) {
      sizes.push(b);
    }
    for (const s of sizes) {
      const p = nonNull(h.malloc(s), `malloc(${s})`);
      const u = h.usable(p);
      assert.ok(u >= s, `usable(malloc(${s})) = ${u}`);
      if (u > 0) {
        const b = bytesAt(p, u);
        b[0] = 1;
        b[u - 1] = 2;
      }
      h.free(p);
    }
  });

  test("realloc across tiers keeps contents", () => {
    const h = hak();
    const steps = [
      1,
      24,
      700,
      1024,
      1025,
      5000,
      65536,
      65537,
      300000,
      3 * MiB,
      4 * MiB,
      100000,
      60000,
      2000,
      1000,
      16,
      8,
      2 * MiB,
      40,
    ];
    for (const start of [null, 10]) {
      let p: Deno.PointerObject | null = start === null ? null : nonNull(h.malloc(start), "malloc");
      let size = start ?? 0;
      if (p) fill(p, size, 3);
      for (const n of steps) {
        const q = nonNull(
          h.sym.hak_realloc(p, BigInt(n)),
          `realloc(${size} -> ${n})`,
        );
        assert.ok(h.usable(q) >= n, `usable after realloc to ${n}`);
        verify(q, Math.min(size, n), `realloc ${size} -> ${n}`, 3);
        fill(q, n, 3);
        p = q;
        size = n;
      }
      h.free(p);
    }
  });

  test("realloc(NULL, n) allocates and realloc(p, 0) frees", () => {
    const h = hak();
    for (const n of [1, 100, 5000, 200000]) {
      const p = nonNull(h.sym.hak_realloc(null, BigInt(n)), `realloc(NULL)`);
      assert.ok(h.usable(p) >= n);
      fill(p, n);
      h.free(p);
    }
    for (const n of [16, 3000, 300000]) {
      const tier = n <= 1024 ? "tiny" : n <= 65536 ? "mid" : "large";
      const before = h.stats().tiers[tier];
      const p = nonNull(h.malloc(n), `malloc(${n})`);
      const mid = h.stats().tiers[tier];
      assert.ok(mid.bytes_in_use >= before.bytes_in_use + n);
      const r = h.sym.hak_realloc(p, 0n);
      assert.equal(r, null, `realloc(p, 0) for ${n} should return NULL`);
      const after = h.stats().tiers[tier];
      assert.equal(after.frees, mid.frees + 1, `realloc(p,0) freed (${n})`);
      assert.equal(
        after.bytes_in_use,
        before.bytes_in_use,
        `bytes_in_use after realloc(p, 0) of ${n}`,
      );
    }
  });

  test("calloc is zeroed, also for recycled blocks", () => {
    const h = hak();
    const sizes = [
      8,
      24,
      200,
      1024,
      1500,
      20000,
      65536,
      70000,
      300000,
      2 * MiB,
      3 * MiB + 5,
    ];
    for (const s of sizes) {
      const k = s > 1 * MiB ? 4 : 16;
      for (let round = 0; round < 6; round++) {
        const dirty: Deno.PointerObject[] = [];
        for (let i = 0; i < k; i++) {
          const p = nonNull(h.malloc(s), `malloc(${s})`);
          memset(p, 0xab, h.usable(p));
          dirty.push(p);
        }
        for (const p of dirty) h.free(p);
        const clean: Deno.PointerObject[] = [];
        for (let i = 0; i < k; i++) {
          const p = round % 2 === 0
            ? nonNull(h.sym.hak_calloc(1n, BigInt(s)), `calloc(1, ${s})`)
            : nonNull(h.sym.hak_calloc(BigInt(s), 1n), `calloc(${s}, 1)`);
          verifyZero(p, s, `calloc ${s} round ${round} #${i}`);
          clean.push(p);
        }
        for (const p of clean) h.free(p);
      }
    }
  });

  test("standard symbols: same allocator, valloc, pvalloc", () => {
    const h = hak();
    const S = h.sym;
    const a = nonNull(S.malloc(100n), "malloc");
    assert.ok(Number(S.malloc_usable_size(a)) >= 100);
    assert.equal(Number(S.malloc_usable_size(a)), h.usable(a));
    h.free(a); // hak_free of a malloc block
    const b = nonNull(h.malloc(100), "hak_malloc");
    S.free(b); // free of a hak_malloc block
    const v = nonNull(S.valloc(100n), "valloc");
    assert.ok(isAligned(v, PAGE), `valloc = ${hex(v)}`);
    S.free(v);
    const p0 = nonNull(S.pvalloc(0n), "pvalloc(0)");
    assert.ok(isAligned(p0, PAGE));
    assert.ok(Number(S.malloc_usable_size(p0)) >= PAGE, "pvalloc(0) usable");
    memset(p0, 1, PAGE);
    S.free(p0);
    const p1 = nonNull(S.pvalloc(5000n), "pvalloc(5000)");
    assert.ok(isAligned(p1, PAGE));
    assert.ok(Number(S.malloc_usable_size(p1)) >= 2 * PAGE);
    memset(p1, 1, 2 * PAGE);
    S.free(p1);
    const out = new BigUint64Array(1);
    assert.equal(S.posix_memalign(ptrOf(out), 256n, 1000n), 0);
    const pm = Deno.UnsafePointer.create(out[0]);
    assert.ok(pm !== null && isAligned(pm, 256));
    S.free(pm);
    const al = nonNull(S.aligned_alloc(1024n, 3000n), "aligned_alloc");
    assert.ok(isAligned(al, 1024));
    const ra = nonNull(S.realloc(al, 9000n), "realloc");
    const rr = nonNull(S.reallocarray(ra, 3n, 5000n), "reallocarray");
    const ml = nonNull(S.memalign(64n, 10n), "memalign");
    assert.ok(isAligned(ml, 64));
    const c = nonNull(S.calloc(10n, 10n), "calloc");
    verifyZero(c, 100, "calloc (standard symbol)");
    for (const p of [rr, ml, c]) S.free(p);
  });
}
