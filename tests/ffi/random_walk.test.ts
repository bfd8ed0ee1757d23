/** Seeded random walk of malloc/calloc/realloc/aligned/free over every tier,
 * checked against a JS model of the live blocks.
 *
 * The seed is fixed and printed; HAKMEM_SEED=<u32> walks another (or replays
 * one); HAKMEM_WALK_STEPS=<n> changes its length. A failure names the seed
 * and the step. */
import assert from "node:assert/strict";
import {
  addr,
  bytesAt,
  firstDiff,
  type Flavour,
  FLAVOURS,
  type Hakmem,
  hex,
  lazyHakmem,
  memcmp,
  memcpy,
  notBuilt,
  offsetPtr,
  patternBytes,
  ptrOf,
  Rng,
  testSeed,
} from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_LIVE = 2000;
const OFFSETS = 64 * KiB;
const MAX_REQUEST = 4 * MiB;
const PATTERN = patternBytes(MAX_REQUEST + 256 * KiB + OFFSETS, 0xc0ffee);
const PATTERN_PTR = ptrOf(PATTERN);
const ZEROS = new Uint8Array(MAX_REQUEST);
const ZEROS_PTR = ptrOf(ZEROS);

const SEED = testSeed("random_walk", "HAKMEM_SEED", 0x5eed1);
const envSteps = Deno.env.get("HAKMEM_WALK_STEPS");
/** HAKMEM_WALK_PARANOID=1: verify every live block after every step, so a
 * failure names the step that corrupted memory (slow; for replays). */
const PARANOID = Deno.env.get("HAKMEM_WALK_PARANOID") === "1";

interface Block {
  id: number;
  ptr: Deno.PointerObject;
  start: number;
  size: number;
  usable: number;
  off: number;
}

/** Live address ranges kept sorted, to catch overlapping blocks at once. */
class Ranges {
  starts: number[] = [];
  ends: number[] = [];
  ids: number[] = [];
  #find(start: number): number {
    let lo = 0, hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** Returns the id of an overlapping live block, or -1 after inserting. */
  add(start: number, end: number, id: number): number {
    const i = this.#find(start);
    if (i > 0 && this.ends[i - 1] > start) return this.ids[i - 1];
    if (i < this.starts.length && this.starts[i] < Math.max(end, start + 1)) {
      return this.ids[i];
    }
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, Math.max(end, start + 1));
    this.ids.splice(i, 0, id);
    return -1;
  }
  remove(start: number): void {
    const i = this.#find(start);
    if (this.starts[i] !== start) throw new Error(`range ${start} not live`);
    this.starts.splice(i, 1);
    this.ends.splice(i, 1);
    this.ids.splice(i, 1);
  }
}

function pickSize(rng: Rng): number {
  const r = rng.u32() / 0x100000000;
  if (r < 0.70) {
    // tiny, biased to small sizes
    return rng.chance(0.6) ? rng.int(0, 128) : rng.int(0, 1024);
  }
  if (r < 0.93) return rng.int(1025, 65536);
  if (r < 0.995) return rng.int(65537, 512 * KiB);
  return rng.int(512 * KiB, MAX_REQUEST);
}

function pickAlignment(rng: Rng): number {
  return 2 ** (rng.chance(0.97) ? rng.int(3, 16) : rng.int(17, 21));
}

function runWalk(h: Hakmem, flavour: Flavour, seed: number, steps: number) {
  const rng = new Rng(seed);
  const live = new Map<number, Block>();
  const liveIds: number[] = [];
  const ranges = new Ranges();
  const trail: string[] = [];
  let nextId = 1;
  let step = 0;
  const counts: Record<string, number> = {};

  const note = (s: string) => {
    trail.push(`#${step} ${s}`);
    if (trail.length > (PARANOID ? 40 : 12)) trail.shift();
    counts[s.split("(")[0]] = (counts[s.split("(")[0]] ?? 0) + 1;
  };
  const fail = (msg: string): never => {
    throw new Error(
      `random walk [${flavour}] seed=${seed} step=${step}: ${msg}\n` +
        `  replay: HAKMEM_SEED=${seed} HAKMEM_WALK_STEPS=${steps}\n` +
        `  last ops:\n    ${trail.join("\n    ")}`,
    );
  };
  const fillLen = (b: Block) => Math.min(b.usable, PATTERN.length - b.off);
  const verify = (b: Block, n: number, what: string) => {
    n = Math.min(n, fillLen(b));
    if (memcmp(b.ptr, offsetPtr(PATTERN_PTR, b.off), n) === 0) return;
    const at = firstDiff(
      bytesAt(b.ptr, n),
      PATTERN.subarray(b.off, b.off + n),
    );
    const dump = (a: Uint8Array) =>
      [...a.subarray(at, Math.min(at + 16, n))].map((x) => x.toString(16).padStart(2, "0"))
        .join(" ");
    const got = bytesAt(b.ptr, n);
    let bad = 0;
    for (let i = at; i < n; i++) if (got[i] !== PATTERN[b.off + i]) bad++;
    fail(
      `${what}: block id ${b.id} ${hex(b.ptr)} size ${b.size} usable ` +
        `${b.usable} corrupt at byte ${at} (${hex(addr(b.ptr) + BigInt(at))}), ` +
        `${bad} bytes differ; found [${dump(got)}] expected ` +
        `[${dump(PATTERN.subarray(b.off, b.off + n))}]`,
    );
  };
  const track = (
    p: Deno.PointerValue,
    size: number,
    what: string,
    align: number,
    off: number,
    id: number,
  ): Block => {
    if (p === null) return fail(`${what} returned NULL`);
    const start = Number(addr(p));
    if (start % align !== 0) fail(`${what} = ${hex(p)} not ${align}-aligned`);
    const usable = h.usable(p);
    if (usable < size) fail(`${what}: usable ${usable} < ${size}`);
    const b: Block = { id, ptr: p, start, size, usable, off };
    const other = ranges.add(start, start + usable, id);
    if (other >= 0) {
      const o = live.get(other);
      fail(
        `${what} = ${hex(p)}+${usable} overlaps live block id ${other} ` +
          `${o ? `${hex(o.ptr)}+${o.usable}` : "?"}`,
      );
    }
    return b;
  };
  const insert = (b: Block) => {
    live.set(b.id, b);
    liveIds.push(b.id);
  };
  const takeRandom = (): Block => {
    const i = rng.int(0, liveIds.length - 1);
    const id = liveIds[i];
    liveIds[i] = liveIds[liveIds.length - 1];
    liveIds.pop();
    const b = live.get(id)!;
    live.delete(id);
    return b;
  };
  const release = (b: Block, what: string) => {
    verify(b, b.usable, what);
    const u = h.usable(b.ptr);
    if (u !== b.usable) fail(`${what}: usable size changed ${b.usable}->${u}`);
    ranges.remove(b.start);
    h.free(b.ptr);
  };
  const newOff = () => rng.int(0, OFFSETS - 1);

  for (step = 0; step < steps; step++) {
    const r = rng.u32() / 0x100000000;
    const mustFree = live.size >= MAX_LIVE;
    if (live.size > 0 && (mustFree || r < 0.30)) {
      const b = takeRandom();
      note(`free(id ${b.id} ${hex(b.ptr)} size ${b.size})`);
      release(b, "before free");
    } else if (live.size > 0 && r < 0.45) {
      const b = takeRandom();
      const n = rng.chance(0.01) ? 0 : pickSize(rng);
      note(`realloc(id ${b.id} ${hex(b.ptr)} ${b.size} -> ${n})`);
      verify(b, b.usable, "before realloc");
      const q = h.sym.hak_realloc(b.ptr, BigInt(n));
      ranges.remove(b.start);
      if (n === 0) {
        if (q !== null) fail(`realloc(p, 0) returned ${hex(q)}, not NULL`);
        continue;
      }
      const nb = track(q, n, `realloc(${b.size} -> ${n})`, 8, b.off, b.id);
      verify(nb, Math.min(b.size, n), "after realloc");
      memcpy(nb.ptr, offsetPtr(PATTERN_PTR, nb.off), fillLen(nb));
      insert(nb);
    } else if (r < 0.47) {
      if (live.size > 0) {
        const b = live.get(liveIds[rng.int(0, liveIds.length - 1)])!;
        note(`verify(id ${b.id})`);
        verify(b, b.usable, "spot check");
      }
    } else if (r < 0.475) {
      note("thread_flush()");
      h.sym.hak_thread_flush();
    } else {
      const size = pickSize(rng);
      const id = nextId++;
      const kind = rng.u32() / 0x100000000;
      let b: Block;
      if (kind < 0.75) {
        note(`malloc(${size}) id ${id}`);
        b = track(h.malloc(size), size, `malloc(${size})`, 8, newOff(), id);
      } else if (kind < 0.88) {
        const [n, m] = rng.chance(0.5) ? [1, size] : [size, 1];
        note(`calloc(${n}, ${m}) id ${id}`);
        b = track(
          h.sym.hak_calloc(BigInt(n), BigInt(m)),
          size,
          `calloc(${n}, ${m})`,
          8,
          newOff(),
          id,
        );
        if (memcmp(b.ptr, ZEROS_PTR, size) !== 0) {
          const at = bytesAt(b.ptr, size).findIndex((x) => x !== 0);
          fail(`calloc(${n}, ${m}) = ${hex(b.ptr)} not zeroed at byte ${at}`);
        }
      } else {
        const a = pickAlignment(rng);
        const which = rng.int(0, 2);
        let p: Deno.PointerValue;
        if (which === 0) {
          note(`aligned_alloc(${a}, ${size}) id ${id}`);
          p = h.sym.hak_aligned_alloc(BigInt(a), BigInt(size));
        } else if (which === 1) {
          note(`posix_memalign(${a}, ${size}) id ${id}`);
          const out = new BigUint64Array(1);
          const rc = h.sym.hak_posix_memalign(
            ptrOf(out),
            BigInt(a),
            BigInt(size),
          );
          if (rc !== 0) fail(`posix_memalign(${a}, ${size}) = ${rc}`);
          p = Deno.UnsafePointer.create(out[0]);
        } else {
          note(`memalign(${a}, ${size}) id ${id}`);
          p = h.sym.hak_memalign(BigInt(a), BigInt(size));
        }
        b = track(p, size, `aligned(${a}, ${size})`, a, newOff(), id);
      }
      memcpy(b.ptr, offsetPtr(PATTERN_PTR, b.off), fillLen(b));
      insert(b);
    }
    if (PARANOID) {
      for (const b of live.values()) {
        const u = h.usable(b.ptr);
        if (u !== b.usable) {
          fail(`paranoid check: usable(id ${b.id} ${hex(b.ptr)}) ${b.usable} -> ${u}`);
        }
        verify(b, b.usable, "paranoid check");
      }
    }
  }
  note("free all");
  while (live.size > 0) release(takeRandom(), "final free");
  return counts;
}

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  const steps = envSteps !== undefined
    ? Number.parseInt(envSteps, 10)
    : flavour === "release"
    ? 200_000
    : 50_000;
  Deno.test({
    name: `random_walk[${flavour}] ${steps} steps (seed ${SEED})`,
    ignore: notBuilt(flavour),
    fn() {
      console.log(
        `random_walk[${flavour}] seed=${SEED} steps=${steps} ` +
          `(replay with HAKMEM_SEED=${SEED})`,
      );
      const h = hak();
      h.sym.hak_thread_flush();
      const start = h.stats();
      const counts = runWalk(h, flavour, SEED, steps);
      h.sym.hak_thread_flush();
      const end = h.stats();
      console.log(`  ops: ${JSON.stringify(counts)}`);
      const tiers = h.statsLayout().tiers.names;
      for (const t of tiers) {
        assert.equal(
          end.tiers[t].bytes_in_use,
          start.tiers[t].bytes_in_use,
          `seed=${SEED}: ${t}.bytes_in_use after freeing everything`,
        );
      }
      const balance = (s: typeof start) =>
        tiers.reduce((acc, t) => acc + s.tiers[t].allocs - s.tiers[t].frees, 0);
      assert.equal(
        balance(end),
        balance(start),
        `seed=${SEED}: allocs - frees over all tiers after freeing everything`,
      );
    },
  });
}
