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

/** One walk: the model of the live blocks, the trail of the last operations and the checks. */
class Walk {
  readonly rng: Rng;
  readonly live = new Map<number, Block>();
  readonly liveIds: number[] = [];
  readonly ranges = new Ranges();
  readonly trail: string[] = [];
  readonly counts: Record<string, number> = {};
  nextId = 1;
  step = 0;

  constructor(
    readonly h: Hakmem,
    readonly flavour: Flavour,
    readonly seed: number,
    readonly steps: number,
  ) {
    this.rng = new Rng(seed);
  }

  note(s: string) {
    this.trail.push(`#${this.step} ${s}`);
    if (this.trail.length > (PARANOID ? 40 : 12)) this.trail.shift();
    const op = s.split("(")[0];
    this.counts[op] = (this.counts[op] ?? 0) + 1;
  }

  fail(msg: string): never {
    throw new Error(
      `random walk [${this.flavour}] seed=${this.seed} step=${this.step}: ${msg}\n` +
        `  replay: HAKMEM_SEED=${this.seed} HAKMEM_WALK_STEPS=${this.steps}\n` +
        `  last ops:\n    ${this.trail.join("\n    ")}`,
    );
  }

  fill(b: Block) {
    memcpy(b.ptr, offsetPtr(PATTERN_PTR, b.off), fillLen(b));
  }

  verify(b: Block, n: number, what: string) {
    n = Math.min(n, fillLen(b));
    if (memcmp(b.ptr, offsetPtr(PATTERN_PTR, b.off), n) === 0) return;
    const got = bytesAt(b.ptr, n);
    const at = firstDiff(got, PATTERN.subarray(b.off, b.off + n));
    const dump = (a: Uint8Array) =>
      [...a.subarray(at, Math.min(at + 16, n))].map((x) => x.toString(16).padStart(2, "0"))
        .join(" ");
    let bad = 0;
    for (let i = at; i < n; i++) if (got[i] !== PATTERN[b.off + i]) bad++;
    this.fail(
      `${what}: block id ${b.id} ${hex(b.ptr)} size ${b.size} usable ` +
        `${b.usable} corrupt at byte ${at} (${hex(addr(b.ptr) + BigInt(at))}), ` +
        `${bad} bytes differ; found [${dump(got)}] expected ` +
        `[${dump(PATTERN.subarray(b.off, b.off + n))}]`,
    );
  }

  /** A block just returned by `what`: aligned, large enough, overlapping no live block. */
  track(p: Deno.PointerValue, size: number, what: string, align: number, off: number, id: number) {
    if (p === null) return this.fail(`${what} returned NULL`);
    const start = Number(addr(p));
    if (start % align !== 0) this.fail(`${what} = ${hex(p)} not ${align}-aligned`);
    const usable = this.h.usable(p);
    if (usable < size) this.fail(`${what}: usable ${usable} < ${size}`);
    const b: Block = { id, ptr: p, start, size, usable, off };
    const other = this.ranges.add(start, start + usable, id);
    if (other >= 0) {
      const o = this.live.get(other);
      this.fail(
        `${what} = ${hex(p)}+${usable} overlaps live block id ${other} ` +
          `${o ? `${hex(o.ptr)}+${o.usable}` : "?"}`,
      );
    }
    return b;
  }

  insert(b: Block) {
    this.live.set(b.id, b);
    this.liveIds.push(b.id);
  }

  takeRandom(): Block {
    const i = this.rng.int(0, this.liveIds.length - 1);
    const id = this.liveIds[i];
    this.liveIds[i] = this.liveIds[this.liveIds.length - 1];
    this.liveIds.pop();
    const b = this.live.get(id)!;
    this.live.delete(id);
    return b;
  }

  release(b: Block, what: string) {
    this.verify(b, b.usable, what);
    const u = this.h.usable(b.ptr);
    if (u !== b.usable) this.fail(`${what}: usable size changed ${b.usable}->${u}`);
    this.ranges.remove(b.start);
    this.h.free(b.ptr);
  }

  newOff() {
    return this.rng.int(0, OFFSETS - 1);
  }

  realloc() {
    const b = this.takeRandom();
    const n = this.rng.chance(0.01) ? 0 : pickSize(this.rng);
    this.note(`realloc(id ${b.id} ${hex(b.ptr)} ${b.size} -> ${n})`);
    this.verify(b, b.usable, "before realloc");
    const q = this.h.sym.hak_realloc(b.ptr, BigInt(n));
    this.ranges.remove(b.start);
    if (n === 0) {
      if (q !== null) this.fail(`realloc(p, 0) returned ${hex(q)}, not NULL`);
      return;
    }
    const nb = this.track(q, n, `realloc(${b.size} -> ${n})`, 8, b.off, b.id);
    this.verify(nb, Math.min(b.size, n), "after realloc");
    this.fill(nb);
    this.insert(nb);
  }

  calloc(size: number, id: number): Block {
    const [n, m] = this.rng.chance(0.5) ? [1, size] : [size, 1];
    this.note(`calloc(${n}, ${m}) id ${id}`);
    const p = this.h.sym.hak_calloc(BigInt(n), BigInt(m));
    const b = this.track(p, size, `calloc(${n}, ${m})`, 8, this.newOff(), id);
    if (memcmp(b.ptr, ZEROS_PTR, size) !== 0) {
      const at = bytesAt(b.ptr, size).findIndex((x) => x !== 0);
      this.fail(`calloc(${n}, ${m}) = ${hex(b.ptr)} not zeroed at byte ${at}`);
    }
    return b;
  }

  aligned(size: number, id: number): Block {
    const a = pickAlignment(this.rng);
    const which = this.rng.int(0, 2);
    let p: Deno.PointerValue;
    if (which === 0) {
      this.note(`aligned_alloc(${a}, ${size}) id ${id}`);
      p = this.h.sym.hak_aligned_alloc(BigInt(a), BigInt(size));
    } else if (which === 1) {
      this.note(`posix_memalign(${a}, ${size}) id ${id}`);
      const out = new BigUint64Array(1);
      const rc = this.h.sym.hak_posix_memalign(ptrOf(out), BigInt(a), BigInt(size));
      if (rc !== 0) this.fail(`posix_memalign(${a}, ${size}) = ${rc}`);
      p = Deno.UnsafePointer.create(out[0]);
    } else {
      this.note(`memalign(${a}, ${size}) id ${id}`);
      p = this.h.sym.hak_memalign(BigInt(a), BigInt(size));
    }
    return this.track(p, size, `aligned(${a}, ${size})`, a, this.newOff(), id);
  }

  allocate() {
    const size = pickSize(this.rng);
    const id = this.nextId++;
    const kind = this.rng.u32() / 0x100000000;
    let b: Block;
    if (kind < 0.75) {
      this.note(`malloc(${size}) id ${id}`);
      b = this.track(this.h.malloc(size), size, `malloc(${size})`, 8, this.newOff(), id);
    } else if (kind < 0.88) {
      b = this.calloc(size, id);
    } else {
      b = this.aligned(size, id);
    }
    this.fill(b);
    this.insert(b);
  }

  /** HAKMEM_WALK_PARANOID: every live block intact after this step. */
  checkAll() {
    for (const b of this.live.values()) {
      const u = this.h.usable(b.ptr);
      if (u !== b.usable) {
        this.fail(`paranoid check: usable(id ${b.id} ${hex(b.ptr)}) ${b.usable} -> ${u}`);
      }
      this.verify(b, b.usable, "paranoid check");
    }
  }

  oneStep() {
    const r = this.rng.u32() / 0x100000000;
    const mustFree = this.live.size >= MAX_LIVE;
    if (this.live.size > 0 && (mustFree || r < 0.30)) {
      const b = this.takeRandom();
      this.note(`free(id ${b.id} ${hex(b.ptr)} size ${b.size})`);
      this.release(b, "before free");
    } else if (this.live.size > 0 && r < 0.45) {
      this.realloc();
    } else if (r < 0.47) {
      if (this.live.size > 0) {
        const b = this.live.get(this.liveIds[this.rng.int(0, this.liveIds.length - 1)])!;
        this.note(`verify(id ${b.id})`);
        this.verify(b, b.usable, "spot check");
      }
    } else if (r < 0.475) {
      this.note("thread_flush()");
      this.h.sym.hak_thread_flush();
    } else {
      this.allocate();
    }
  }

  run(): Record<string, number> {
    for (this.step = 0; this.step < this.steps; this.step++) {
      this.oneStep();
      if (PARANOID) this.checkAll();
    }
    this.note("free all");
    while (this.live.size > 0) this.release(this.takeRandom(), "final free");
    return this.counts;
  }
}

const fillLen = (b: Block) => Math.min(b.usable, PATTERN.length - b.off);

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
      const counts = new Walk(h, flavour, SEED, steps).run();
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
