/** Statistics move exactly as the allocations made through FFI say.
 *
 * The library is dlopen'ed (not preloaded) from a private copy, so only this
 * module's hak_* calls reach this instance: deltas are exact. */
import assert from "node:assert/strict";
import {
  EINVAL,
  FLAVOURS,
  type Hakmem,
  hardened,
  lazyHakmem,
  notBuilt,
  openHakmem,
  ptrOf,
  Rng,
  type Stats,
  testSeed,
  withErrno,
} from "./helpers.ts";

const MiB = 1024 * 1024;

function allocN(h: Hakmem, n: number, size: number): Deno.PointerObject[] {
  const out: Deno.PointerObject[] = [];
  for (let i = 0; i < n; i++) {
    const p = h.malloc(size);
    assert.ok(p !== null, `malloc(${size}) #${i}`);
    out.push(p);
  }
  return out;
}

/** Per tier field deltas after - before (the fields of the library's stats layout). */
function delta(h: Hakmem, before: Stats, after: Stats, tier: string) {
  const d: Record<string, number> = {};
  for (const { name } of h.statsLayout().tiers.fields) {
    d[name] = after.tiers[tier][name] - before.tiers[tier][name];
  }
  return d;
}

/** Fields that can move without any allocator activity. */
const VOLATILE = new Set<string>(["minor_faults", "major_faults", "llc_misses"]);

/** Every field of the layout but the volatile ones, flattened. */
function comparable(h: Hakmem, s: Stats) {
  const layout = h.statsLayout();
  const out: Record<string, number | string> = {};
  for (const t of layout.tiers.names) {
    for (const { name } of layout.tiers.fields) out[`${t}.${name}`] = s.tiers[t][name];
  }
  for (const c of layout.syscalls.names) out[`syscalls.${c}`] = s.syscalls[c];
  for (const { name } of layout.counters) if (!VOLATILE.has(name)) out[name] = s.counters[name];
  out.pmu = s.pmu;
  out.version = s.version;
  return out;
}

for (const flavour of FLAVOURS) {
  // the copy stays on disk so a Worker can dlopen the same instance
  const hak = lazyHakmem(flavour, { keepFile: true });
  const ignore = notBuilt(flavour);
  const test = (name: string, fn: () => void | Promise<void>) =>
    Deno.test({ name: `stats[${flavour}] ${name}`, ignore, fn });

  // (the tier is the class's: in hardened mode malloc(1024) needs room for a canary, a mid block)
  for (
    const [size, n] of [
      [24, 1000],
      [1024, 300],
      [5000, 200],
      [65536, 40],
    ] as const
  ) {
    test(`${n} x malloc(${size}) and free are counted exactly in the class's tier`, () => {
      const h = hak();
      const cls = h.classOf(size);
      assert.ok(cls >= 0);
      const block = h.classSize(cls);
      const tier = block <= h.tinyMax() ? "tiny" : "mid";
      const s0 = h.stats();
      const ptrs = allocN(h, n, size);
      const s1 = h.stats();
      const d1 = delta(h, s0, s1, tier);
      assert.equal(d1.allocs, n, `${tier}.allocs delta`);
      assert.equal(d1.frees, 0, `${tier}.frees delta while allocating`);
      assert.equal(d1.bytes_in_use, n * block, `${tier}.bytes_in_use delta`);
      assert.equal(d1.hits + d1.misses >= 1, true, "hits + misses moved");
      assert.ok(s1.tiers[tier].bytes_reserved >= s1.tiers[tier].bytes_in_use);
      for (const other of h.statsLayout().tiers.names) {
        if (other === tier) continue;
        assert.equal(delta(h, s0, s1, other).allocs, 0, `${other}.allocs unchanged`);
      }
      for (const p of ptrs) h.free(p);
      const s2 = h.stats();
      const d2 = delta(h, s1, s2, tier);
      assert.equal(d2.frees, n, `${tier}.frees delta`);
      assert.equal(d2.allocs, 0, `${tier}.allocs delta while freeing`);
      assert.equal(
        s2.tiers[tier].bytes_in_use,
        s0.tiers[tier].bytes_in_use,
        `${tier}.bytes_in_use back down`,
      );
      for (const t of h.statsLayout().tiers.names) {
        assert.equal(s2.tiers[t].remote_frees, s0.tiers[t].remote_frees);
      }
    });
  }

  test("tiny: malloc/free of one size hits the thread cache", () => {
    const h = hak();
    const s0 = h.stats();
    for (let i = 0; i < 1000; i++) {
      const p = h.malloc(48);
      assert.ok(p !== null);
      h.free(p);
    }
    const d = delta(h, s0, h.stats(), "tiny");
    assert.equal(d.allocs, 1000);
    assert.equal(d.frees, 1000);
    assert.equal(d.bytes_in_use, 0);
    // (HAKMEM_TCACHE=0, e.g. from HAKMEM_MODE=minimal in the environment, has no cache to hit)
    if (h.optionGet("HAKMEM_TCACHE").value !== 0n) {
      assert.ok(d.hits >= 900, `tiny hits delta ${d.hits} (misses ${d.misses})`);
    }
  });

  test("large: allocs, frees, bytes_in_use", () => {
    const h = hak();
    const n = 20, size = 300000;
    const s0 = h.stats();
    const ptrs = allocN(h, n, size);
    const s1 = h.stats();
    const d1 = delta(h, s0, s1, "large");
    assert.equal(d1.allocs, n, "large.allocs delta");
    assert.ok(d1.bytes_in_use >= n * size, `large.bytes_in_use delta ${d1.bytes_in_use}`);
    assert.ok(s1.tiers.large.bytes_reserved >= s1.tiers.large.bytes_in_use);
    assert.ok(s1.counters.bytes_mapped >= s1.tiers.large.bytes_in_use);
    assert.ok(s1.counters.peak_mapped >= s1.counters.bytes_mapped);
    for (const p of ptrs) h.free(p);
    const s2 = h.stats();
    assert.equal(delta(h, s1, s2, "large").frees, n, "large.frees delta");
    assert.equal(s2.tiers.large.bytes_in_use, s0.tiers.large.bytes_in_use);
  });

  test("a large block above the BigCache limits maps fresh memory", () => {
    const h = hak();
    if (hardened(h)) return; // no large block is cached: guarded.test.ts
    const o = h.optionGet("HAKMEM_BIGCACHE_MAX_BLOCK_MB");
    assert.equal(o.rc, 0);
    const size = (Number(o.value) + 16) * MiB;
    const s0 = h.stats();
    const p = h.malloc(size);
    assert.ok(p !== null, `malloc(${size})`);
    const s1 = h.stats();
    assert.ok(s1.syscalls.mmap > s0.syscalls.mmap, "syscalls.mmap increased");
    assert.ok(
      s1.counters.bytes_mapped >= s0.counters.bytes_mapped + size,
      "bytes_mapped grew by the block",
    );
    assert.ok(s1.counters.peak_mapped >= s1.counters.bytes_mapped);
    assert.equal(delta(h, s0, s1, "large").allocs, 1);
    h.free(p);
    const s2 = h.stats();
    assert.equal(s2.tiers.large.bytes_in_use, s0.tiers.large.bytes_in_use);
    // too big for BigCache: handed back to the OS (unmapped or advised away)
    const given = (s2.syscalls.munmap - s1.syscalls.munmap) +
      (s2.syscalls.madvise - s1.syscalls.madvise);
    assert.ok(given >= 1, "free of an uncacheable block gave memory back");
    assert.ok(
      s2.counters.peak_mapped >= s1.counters.bytes_mapped,
      "peak_mapped kept the high-water mark",
    );
  });

  test("freed large blocks stay resident up to twice the bytes in use, and go back once none is in use for a decay delay", async () => {
    const h = hak();
    if (hardened(h)) return; // no large block is cached
    const budget = Number(h.optionGet("HAKMEM_BIGCACHE_MB").value) * MiB;
    const batch = h.optionGet("HAKMEM_MADVISE_BATCH").value;
    const decay = h.optionGet("HAKMEM_DECAY_MS").value;
    assert.equal(h.optionSet("HAKMEM_MADVISE_BATCH", 1).rc, 0); // advise at once: visible
    h.sym.hak_trim(); // an empty cache to start from
    try {
      // sizes past a thread's own stash (4 MiB), so every free goes to the arenas or BigCache
      const keep = allocN(h, 3, budget); // in use: 3 x the fixed budget
      const churn = allocN(h, 4, budget / 2 + MiB); // freed: 2 MiB more than the fixed budget
      const s0 = h.stats();
      for (const p of churn) h.free(p);
      const s1 = h.stats();
      assert.equal(
        s1.counters.madvised_bytes - s0.counters.madvised_bytes,
        0,
        "freed blocks within twice what is in use stay resident",
      );
      const again = allocN(h, 4, budget / 2 + MiB);
      const s2 = h.stats();
      assert.equal(s2.syscalls.mmap - s1.syscalls.mmap, 0, "and are reused without a mapping");
      for (const p of [...again, ...keep]) h.free(p);
      // nothing in use: after a decay delay (1 ms here) the next free's decay pass (at most one
      // per 20 ms) gives back all that idled
      assert.equal(h.optionSet("HAKMEM_DECAY_MS", 1).rc, 0);
      await new Promise((r) => setTimeout(r, 50));
      const one = h.malloc(budget / 2 + MiB);
      assert.ok(one !== null);
      h.free(one);
      const s3 = h.stats();
      assert.ok(
        s3.counters.madvised_bytes - s2.counters.madvised_bytes >= 2 * budget,
        "once nothing is in use for a delay, the resident free memory falls to the fixed budget",
      );
    } finally {
      h.optionSet("HAKMEM_MADVISE_BATCH", batch);
      h.optionSet("HAKMEM_DECAY_MS", decay);
    }
  });

  test("large blocks of random sizes replacing each other reuse the freed pages", () => {
    const h = hak();
    if (hardened(h)) return; // every large block has its own guarded mapping
    const seed = testSeed("large reuse", "HAKMEM_TEST_SEED", 0x1a7e);
    const rng = new Rng(seed);
    const live: (Deno.PointerObject | null)[] = [null, null, null, null];
    const step = () => {
      const k = rng.int(0, live.length - 1);
      if (live[k] !== null) h.free(live[k]);
      live[k] = h.malloc(rng.int(1 * MiB, 24 * MiB)); // past the stash's 4 MiB most of the time
      assert.ok(live[k] !== null);
    };
    for (let i = 0; i < 50; i++) step(); // the slots filled, the first chunks taken
    const s0 = h.stats();
    for (let i = 0; i < 300; i++) step();
    const s1 = h.stats();
    for (const p of live) h.free(p);
    const calls = (k: string) => s1.syscalls[k] - s0.syscalls[k];
    assert.equal(calls("mmap") + calls("munmap") + calls("mremap"), 0, "no mapping per block");
    assert.equal(
      s1.counters.madvised_bytes - s0.counters.madvised_bytes,
      0,
      "no freed block given back while it is reused",
    );
  });

  test("arenas take 4 KiB pages once a huge page's first fault was too slow", () => {
    const h = hak();
    if (hardened(h)) return; // every large block has its own guarded mapping
    const slow = h.optionGet("HAKMEM_THP_SLOW_US").value;
    // every huge-page fault counts as too slow: the first fresh chunk turns huge pages off
    assert.equal(h.optionSet("HAKMEM_THP_SLOW_US", 0).rc, 0);
    try {
      h.sym.hak_trim(); // no resident free chunk: the blocks below fault theirs in
      const first = h.malloc(16 * MiB);
      assert.ok(first !== null);
      const second = h.malloc(16 * MiB);
      assert.ok(second !== null);
      const s0 = h.stats();
      const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(second, 16 * MiB));
      for (let off = 0; off < bytes.length; off += 4096) bytes[off] = 1;
      const s1 = h.stats();
      h.free(first);
      h.free(second);
      // huge pages: 8 faults; 4 KiB ones: 4096 (or 1024 with 16 KiB pages, where the arenas
      // never take huge pages)
      const faults = s1.counters.minor_faults - s0.counters.minor_faults;
      assert.ok(faults >= 1000, `${faults} page faults for 16 MiB`);
    } finally {
      h.optionSet("HAKMEM_THP_SLOW_US", slow);
    }
  });

  test("a calloc's fresh chunks fault in 4 KiB pages while other blocks take huge ones", () => {
    // an instance of its own: an earlier test turned this one's huge pages off for a while
    const h = openHakmem(flavour);
    try {
      if (hardened(h)) return; // every large block has its own guarded mapping
      // no huge-page fault counts as slow: the arenas keep taking huge pages
      assert.equal(h.optionSet("HAKMEM_THP_SLOW_US", 1_000_000).rc, 0);
      // the first 2 MiB of a fresh block touched page by page: the faults taken
      const faults = (p: Deno.PointerValue) => {
        assert.ok(p !== null);
        const s0 = h.stats();
        const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, 2 * MiB));
        for (let off = 0; off < bytes.length; off += 4096) bytes[off] = 1;
        return h.stats().counters.minor_faults - s0.counters.minor_faults;
      };
      const buffer = h.malloc(16 * MiB);
      const table = h.sym.hak_calloc(1n, BigInt(16 * MiB));
      const [bufferFaults, tableFaults] = [faults(buffer), faults(table)];
      h.free(buffer);
      h.free(table);
      // a huge page came in with the malloc'd block's header (none where the machine has no
      // transparent huge pages: then both take 4 KiB pages); the calloc'd one faults page by page
      console.log(`first 2 MiB: malloc ${bufferFaults} faults, calloc ${tableFaults}`);
      assert.ok(tableFaults >= 400, `${tableFaults} page faults for a calloc'd block's 2 MiB`);
    } finally {
      h.close();
    }
  });

  test("segments emptied between bursts stay until their units idled for the decay delay", async () => {
    const h = hak();
    if (hardened(h)) return; // freed blocks wait in the quarantine first
    const decay = h.optionGet("HAKMEM_DECAY_MS").value;
    assert.equal(h.optionSet("HAKMEM_DECAY_MS", 2000).rc, 0);
    try {
      // 24 MiB of 8 KiB blocks: a dozen segments, all empty again after each burst
      const burst = () => {
        const blocks = allocN(h, 3072, 8192);
        for (const p of blocks) h.free(p);
      };
      burst();
      const s0 = h.stats();
      // 10 bursts 150 ms apart: decay passes (every half delay) see the empty segments, whose
      // units were freed well within the delay
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 150));
        burst();
      }
      const s1 = h.stats();
      const calls = (k: string) => s1.syscalls[k] - s0.syscalls[k];
      assert.ok(s1.counters.decay_runs > s0.counters.decay_runs, "decay passes ran");
      assert.equal(
        calls("mmap") + calls("munmap") + calls("madvise"),
        0,
        "nothing unmapped or advised away",
      );
    } finally {
      h.optionSet("HAKMEM_DECAY_MS", decay);
    }
  });

  test("hak_stats_get struct equals the JSON (no activity between)", () => {
    const h = hak();
    const layout = h.statsLayout();
    const st = h.statsStruct();
    const js = h.stats();
    assert.equal(st.version, 4);
    assert.equal(st.size, layout.size);
    assert.ok(st.pmu_source < layout.pmu_source.names.length, `pmu_source ${st.pmu_source}`);
    assert.deepEqual(comparable(h, st), comparable(h, js));
    assert.equal(js.mode, h.mode());
    // a bigger buffer is fine; the struct's size field stays the library's
    const big = h.statsStruct(layout.size + 64);
    assert.equal(big.size, layout.size);
  });

  test("hak_stats_get rejects NULL and short buffers with EINVAL", () => {
    const h = hak();
    const full = h.statsLayout().size;
    for (const size of [0, 8, full - 8, full - 1]) {
      const buf = new Uint8Array(full).fill(0xee);
      const r = withErrno(() => h.sym.hak_stats_get(ptrOf(buf), BigInt(size)));
      assert.equal(r.value, -1, `hak_stats_get(buf, ${size})`);
      assert.equal(r.errno, EINVAL, `hak_stats_get(buf, ${size}) errno`);
    }
    const r = withErrno(() => h.sym.hak_stats_get(null, BigInt(full)));
    assert.equal(r.value, -1, "hak_stats_get(NULL)");
    assert.equal(r.errno, EINVAL);
  });

  test("hak_stats_json follows the snprintf convention and parses", () => {
    const h = hak();
    const need = Number(h.sym.hak_stats_json(null, 0n));
    assert.ok(need > 50, `needed length ${need}`);
    const buf = new Uint8Array(need + 1).fill(0xff);
    const got = Number(h.sym.hak_stats_json(ptrOf(buf), BigInt(buf.length)));
    assert.equal(got, need, "length with enough room (no activity in between)");
    assert.equal(buf[need], 0, "NUL-terminated");
    const text = new TextDecoder().decode(buf.subarray(0, need));
    const parsed = JSON.parse(text);
    assert.equal(parsed.version, 4);
    assert.ok(!text.includes("\n"), "one line of JSON");
    // truncated: cap bytes written including the NUL, full length returned
    const small = new Uint8Array(16).fill(0xff);
    const got2 = Number(h.sym.hak_stats_json(ptrOf(small), 10n));
    assert.equal(got2, need, "returns the full length when truncating");
    assert.equal(small[9], 0, "NUL at cap-1");
    assert.equal(small[10], 0xff, "nothing written past cap");
    assert.equal(new TextDecoder().decode(small.subarray(0, 9)), text.slice(0, 9));
    // cap 1: just the NUL
    const one = new Uint8Array(2).fill(0xff);
    assert.equal(Number(h.sym.hak_stats_json(ptrOf(one), 1n)), need);
    assert.equal(one[0], 0);
    assert.equal(one[1], 0xff);
    // config JSON: same convention
    const cneed = Number(h.sym.hak_config_json(null, 0n));
    const cbuf = new Uint8Array(cneed + 1);
    assert.equal(Number(h.sym.hak_config_json(ptrOf(cbuf), BigInt(cbuf.length))), cneed);
    assert.equal(cbuf[cneed], 0);
    JSON.parse(new TextDecoder().decode(cbuf.subarray(0, cneed)));
  });

  test("free from another thread counts as remote frees (tiny, and spans in the large tier)", async () => {
    const h = hak();
    const n = 100;
    // blocks past the mid tier up to 1 MiB are spans of the thread's segments (hardened mode:
    // guarded blocks of their own, which any thread frees alike: no remote free)
    const spans = 4, remoteSpans = hardened(h) ? 0 : spans;
    const s0 = h.stats();
    const ptrs = [...allocN(h, n, 64), ...allocN(h, spans, 200 * 1024)];
    const worker = new Worker(new URL("./fixtures/remote_free_worker.ts", import.meta.url), {
      type: "module",
    });
    try {
      const done = new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`worker: ${e.message}`));
        };
      });
      worker.postMessage({
        path: h.path,
        flavour,
        addrs: ptrs.map((p) => Deno.UnsafePointer.value(p).toString()),
      });
      const res = await done;
      assert.ok(res.ok, res.error);
    } finally {
      worker.terminate();
      h.removeFile(); // the last test of the module that needs the path
    }
    h.sym.hak_thread_flush(); // drains this thread's remote-free queue
    const s1 = h.stats();
    const d = delta(h, s0, s1, "tiny");
    assert.equal(d.allocs, n);
    assert.equal(d.frees, n, "tiny.frees delta (remote)");
    assert.equal(d.remote_frees, n, "tiny.remote_frees delta");
    assert.equal(d.bytes_in_use, 0, "tiny.bytes_in_use back after the remote frees drain");
    const l = delta(h, s0, s1, "large");
    assert.equal(l.allocs, spans);
    assert.equal(l.frees, spans, "large.frees delta (remote spans)");
    assert.equal(l.remote_frees, remoteSpans, "large.remote_frees delta");
    assert.equal(l.bytes_in_use, 0, "large.bytes_in_use back after the remote frees drain");
  });
}
