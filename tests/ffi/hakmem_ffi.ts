/**
 * Typed FFI bindings for libhakmem.so (mirrors core/include/hakmem.h) plus the
 * helpers the FFI tests share: opening a flavour of the library, reading
 * statistics (JSON and struct), options, errno and raw memory.
 *
 * Type mapping: size_t -> "usize" (bigint), int -> "i32", unsigned -> "u32",
 * int64_t -> "i64" (bigint), enums -> "u32" (their C type is unsigned int),
 * pointers -> "pointer".
 */

/** Every hak_* function of hakmem.h, in header order. */
export const HAKMEM_SYMBOLS = {
  // ---- allocation ----
  hak_malloc: { parameters: ["usize"], result: "pointer" },
  hak_free: { parameters: ["pointer"], result: "void" },
  hak_calloc: { parameters: ["usize", "usize"], result: "pointer" },
  hak_realloc: { parameters: ["pointer", "usize"], result: "pointer" },
  hak_reallocarray: {
    parameters: ["pointer", "usize", "usize"],
    result: "pointer",
  },
  hak_aligned_alloc: { parameters: ["usize", "usize"], result: "pointer" },
  hak_posix_memalign: {
    parameters: ["pointer", "usize", "usize"],
    result: "i32",
  },
  hak_memalign: { parameters: ["usize", "usize"], result: "pointer" },
  hak_usable_size: { parameters: ["pointer"], result: "usize" },
  hak_thread_flush: { parameters: [], result: "void" },
  hak_trim: { parameters: [], result: "i32" },
  // ---- size classes ----
  hak_class_count: { parameters: [], result: "u32" },
  hak_class_size: { parameters: ["u32"], result: "usize" },
  hak_class_of: { parameters: ["usize"], result: "i32" },
  hak_tiny_max: { parameters: [], result: "usize" },
  hak_mid_max: { parameters: [], result: "usize" },
  // ---- statistics ----
  hak_stats_get: { parameters: ["pointer", "usize"], result: "i32" },
  hak_stats_json: { parameters: ["pointer", "usize"], result: "usize" },
  hak_stats_print: { parameters: ["i32"], result: "void" },
  hak_stats_layout_json: { parameters: ["pointer", "usize"], result: "usize" },
  // ---- configuration ----
  hak_mode: { parameters: [], result: "pointer" },
  hak_version: { parameters: [], result: "pointer" },
  hak_option_get: { parameters: ["pointer", "pointer"], result: "i32" },
  hak_option_set: { parameters: ["pointer", "i64"], result: "i32" },
  hak_config_json: { parameters: ["pointer", "usize"], result: "usize" },
  hak_options_table_json: { parameters: ["pointer", "usize"], result: "usize" },
  hak_class_knob_set: { parameters: ["u32", "u32", "i64"], result: "i32" },
  hak_class_knob_get: { parameters: ["u32", "u32"], result: "i64" },
  // ---- learning layer ----
  hak_elo_expected: { parameters: ["f64", "f64"], result: "f64" },
  hak_elo_update: { parameters: ["pointer", "pointer", "f64", "f64"], result: "void" },
  hak_ucb1_score: { parameters: ["f64", "u64", "u64", "f64"], result: "f64" },
  hak_elo_state: { parameters: [], result: "i32" },
  hak_elo_threshold: { parameters: [], result: "usize" },
  hak_elo_json: { parameters: ["pointer", "usize"], result: "usize" },
  hak_elo_test_reset: { parameters: ["i32", "u64"], result: "void" },
  hak_elo_test_step: { parameters: ["pointer"], result: "i32" },
  hak_ace_running: { parameters: [], result: "i32" },
  hak_ace_json: { parameters: ["pointer", "usize"], result: "usize" },
  hak_ace_test_reset: { parameters: [], result: "void" },
  hak_ace_test_tick: { parameters: ["pointer", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The standard allocation symbols libhakmem.so exports as well. */
export const STD_SYMBOLS = {
  malloc: { parameters: ["usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
  calloc: { parameters: ["usize", "usize"], result: "pointer" },
  realloc: { parameters: ["pointer", "usize"], result: "pointer" },
  reallocarray: { parameters: ["pointer", "usize", "usize"], result: "pointer" },
  posix_memalign: { parameters: ["pointer", "usize", "usize"], result: "i32" },
  aligned_alloc: { parameters: ["usize", "usize"], result: "pointer" },
  memalign: { parameters: ["usize", "usize"], result: "pointer" },
  valloc: { parameters: ["usize"], result: "pointer" },
  pvalloc: { parameters: ["usize"], result: "pointer" },
  malloc_usable_size: { parameters: ["pointer"], result: "usize" },
} as const satisfies Deno.ForeignLibraryInterface;

export const STD_SYMBOL_NAMES: readonly string[] = Object.keys(STD_SYMBOLS);
export const HAKMEM_SYMBOL_NAMES: readonly string[] = Object.keys(
  HAKMEM_SYMBOLS,
);

/** libc helpers (never hakmem): errno, memcpy/memcmp/memset for speed. */
const LIBC_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["pointer", "pointer", "usize"], result: "pointer" },
  memcmp: { parameters: ["pointer", "pointer", "usize"], result: "i32" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

export type Flavour = "release" | "debug";
export const FLAVOURS: readonly Flavour[] = ["release", "debug"];
export const TARGET = "x86_64-linux-gnu";

export const EINVAL = 22;
export const ENOMEM = 12;
export const ENOENT = 2;
export const EPERM = 1;
export const ERANGE = 34;

export const SIZE_MAX = (1n << 64n) - 1n;
export const HAK_STATS_VERSION = 1;
/** sizeof(hak_stats_t) on LP64 (see layout below). */
export const HAK_STATS_SIZE = 296;

export const HAK_KNOB_TCACHE_CAP = 0;
export const HAK_KNOB_PREWARM = 1;

/** Repository root: $HAKMEM_ROOT or two levels above this file. */
export function repoRoot(): string {
  const env = Deno.env.get("HAKMEM_ROOT");
  if (env) return env.replace(/\/+$/, "");
  return new URL("../..", import.meta.url).pathname.replace(/\/+$/, "");
}

/** dist/x86_64-linux-gnu/<flavour>/libhakmem.so */
export function libraryPath(flavour: Flavour): string {
  return `${repoRoot()}/dist/${TARGET}/${flavour}/libhakmem.so`;
}

export function libraryExists(flavour: Flavour): boolean {
  try {
    return Deno.statSync(libraryPath(flavour)).isFile;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- libc ----

let libcCache:
  | Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"]
  | undefined;

function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  if (!libcCache) libcCache = Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libcCache;
}

/** The calling thread's errno (valid right after a synchronous FFI call). */
export function getErrno(): number {
  const p = libc().__errno_location();
  if (!p) throw new Error("__errno_location returned NULL");
  return new Deno.UnsafePointerView(p).getInt32();
}

export function setErrno(value: number): void {
  const p = libc().__errno_location();
  if (!p) throw new Error("__errno_location returned NULL");
  new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4))[0] = value;
}

export function memcpy(
  dst: Deno.PointerObject,
  src: Deno.PointerObject,
  n: number,
): void {
  if (n > 0) libc().memcpy(dst, src, BigInt(n));
}

export function memcmp(
  a: Deno.PointerObject,
  b: Deno.PointerObject,
  n: number,
): number {
  return n > 0 ? libc().memcmp(a, b, BigInt(n)) : 0;
}

export function memset(p: Deno.PointerObject, byte: number, n: number): void {
  if (n > 0) libc().memset(p, byte, BigInt(n));
}

// ------------------------------------------------------------ memory ----

/** A writable view of native memory [p, p+n). */
export function bytesAt(p: Deno.PointerObject, n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, n));
}

export function addr(p: Deno.PointerValue): bigint {
  return Deno.UnsafePointer.value(p);
}

export function hex(p: Deno.PointerValue | bigint): string {
  const v = typeof p === "bigint" ? p : addr(p);
  return "0x" + v.toString(16);
}

export function ptrOf(buf: Uint8Array | BigUint64Array): Deno.PointerObject {
  const p = Deno.UnsafePointer.of(buf);
  if (!p) throw new Error("UnsafePointer.of returned NULL");
  return p;
}

export function offsetPtr(p: Deno.PointerObject, n: number): Deno.PointerObject {
  const q = Deno.UnsafePointer.offset(p, n);
  if (!q) throw new Error("pointer offset gave NULL");
  return q;
}

/** NUL-terminated copy of a JS string (keep the array alive during the call). */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

/** Offset of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// ------------------------------------------------------------- stats ----

export type TierName = "tiny" | "mid" | "large";
export const TIERS: readonly TierName[] = ["tiny", "mid", "large"];
export type SyscallName = "mmap" | "munmap" | "madvise" | "mremap";
export const SYSCALLS: readonly SyscallName[] = [
  "mmap",
  "munmap",
  "madvise",
  "mremap",
];
export type PmuName = "compiled-out" | "off" | "unavailable" | "read" | "rdpmc";
/** hak_pmu_source_t index -> JSON name. */
export const PMU_NAMES: readonly PmuName[] = [
  "compiled-out",
  "off",
  "unavailable",
  "read",
  "rdpmc",
];

export interface TierStats {
  allocs: number;
  frees: number;
  hits: number;
  misses: number;
  remote_frees: number;
  bytes_in_use: number;
  bytes_reserved: number;
}
export const TIER_FIELDS: readonly (keyof TierStats)[] = [
  "allocs",
  "frees",
  "hits",
  "misses",
  "remote_frees",
  "bytes_in_use",
  "bytes_reserved",
];

/** Statistics in the shape of hak_stats_json. */
export interface Stats {
  version: number;
  mode: string;
  tiers: Record<TierName, TierStats>;
  syscalls: Record<SyscallName, number>;
  bytes_mapped: number;
  peak_mapped: number;
  madvised_bytes: number;
  minor_faults: number;
  major_faults: number;
  heaps_created: number;
  heaps_reused: number;
  threads_live: number;
  segments: number;
  llc_misses: number;
  pmu: PmuName;
}

export const SCALAR_FIELDS = [
  "bytes_mapped",
  "peak_mapped",
  "madvised_bytes",
  "minor_faults",
  "major_faults",
  "heaps_created",
  "heaps_reused",
  "threads_live",
  "segments",
  "llc_misses",
] as const;

type ScalarField = typeof SCALAR_FIELDS[number];

/** The scalar counters, each read by `get` (field name and its index in SCALAR_FIELDS). */
function scalars(get: (f: ScalarField, i: number) => number): Record<ScalarField, number> {
  return Object.fromEntries(SCALAR_FIELDS.map((f, i) => [f, get(f, i)])) as Record<
    ScalarField,
    number
  >;
}

/** hak_stats_t decoded from the struct (the header fields kept apart). */
export interface StructStats extends Omit<Stats, "mode"> {
  size: number;
  pmu_source: number;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new Error(`stats: ${what} is not a non-negative integer: ${v}`);
  }
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`stats: ${what} is not an object`);
  }
  return v as Record<string, unknown>;
}

/** Validates and types a parsed hak_stats_json object (throws if malformed). */
export function parseStats(text: string): Stats {
  const root = obj(JSON.parse(text), "root");
  const tiersIn = obj(root.tiers, "tiers");
  const tiers = {} as Record<TierName, TierStats>;
  for (const t of TIERS) {
    const o = obj(tiersIn[t], `tiers.${t}`);
    const ts = {} as TierStats;
    for (const f of TIER_FIELDS) ts[f] = num(o[f], `tiers.${t}.${f}`);
    tiers[t] = ts;
  }
  const sysIn = obj(root.syscalls, "syscalls");
  const syscalls = {} as Record<SyscallName, number>;
  for (const s of SYSCALLS) syscalls[s] = num(sysIn[s], `syscalls.${s}`);
  if (typeof root.mode !== "string") throw new Error("stats: mode missing");
  if (!PMU_NAMES.includes(root.pmu as PmuName)) {
    throw new Error(`stats: bad pmu ${JSON.stringify(root.pmu)}`);
  }
  const out: Stats = {
    version: num(root.version, "version"),
    mode: root.mode,
    tiers,
    syscalls,
    ...scalars((f) => num(root[f], f)),
    pmu: root.pmu as PmuName,
  };
  return out;
}

/*
 * hak_stats_t layout (LP64):
 *   0 u32 version, 4 u32 size,
 *   8 tier[3] x 7 u64 (56 bytes each) -> 176,
 * 176 syscalls[4] u64 -> 208,
 * 208 bytes_mapped, 216 peak_mapped, 224 madvised_bytes, 232 minor_faults,
 * 240 major_faults, 248 heaps_created, 256 heaps_reused, 264 threads_live,
 * 272 segments, 280 llc_misses, 288 u32 pmu_source, 292 u32 reserved_ -> 296.
 */
export function decodeStatsStruct(buf: Uint8Array): StructStats {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u64 = (off: number): number => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Error(`stats struct: u64 at ${off} too large: ${v}`);
    }
    return Number(v);
  };
  const tiers = {} as Record<TierName, TierStats>;
  TIERS.forEach((t, ti) => {
    const ts = {} as TierStats;
    TIER_FIELDS.forEach((f, fi) => ts[f] = u64(8 + ti * 56 + fi * 8));
    tiers[t] = ts;
  });
  const syscalls = {} as Record<SyscallName, number>;
  SYSCALLS.forEach((s, i) => syscalls[s] = u64(176 + i * 8));
  const pmuSource = dv.getUint32(288, true);
  const out: StructStats = {
    version: dv.getUint32(0, true),
    size: dv.getUint32(4, true),
    tiers,
    syscalls,
    ...scalars((_f, i) => u64(208 + i * 8)),
    pmu: PMU_NAMES[pmuSource] ?? "unavailable",
    pmu_source: pmuSource,
  };
  return out;
}

// ---------------------------------------------------------- library ----

export type HakSymbols = Deno.DynamicLibrary<
  typeof HAKMEM_SYMBOLS & typeof STD_SYMBOLS
>["symbols"];

export interface Hakmem {
  flavour: Flavour;
  /** The path actually dlopen'ed (a private copy when isolated). */
  path: string;
  sym: HakSymbols;
  /** dlclose, and remove the private copy if still on disk. */
  close(): void;
  /** Remove the private copy (if kept) without closing the library. */
  removeFile(): void;
  // convenience wrappers
  malloc(size: number | bigint): Deno.PointerValue;
  free(p: Deno.PointerValue): void;
  usable(p: Deno.PointerValue): number;
  classCount(): number;
  classSize(cls: number): number;
  classOf(size: number | bigint): number;
  tinyMax(): number;
  midMax(): number;
  mode(): string;
  version(): string;
  /** hak_stats_json parsed and typed. */
  readStats(): Stats;
  /** Raw hak_stats_json text. */
  statsJsonText(): string;
  /** hak_stats_get into a buffer of `bufSize` bytes (default HAK_STATS_SIZE),
   * checked for version 1 and the size field. */
  statsStruct(bufSize?: number): StructStats;
  configJsonText(): string;
  /** hak_option_get: value, or null with errno (ENOENT for unknown). */
  optionGet(name: string): { rc: number; value: bigint; errno: number };
  optionSet(name: string, value: bigint | number): {
    rc: number;
    errno: number;
  };
}

function big(n: number | bigint): bigint {
  return typeof n === "bigint" ? n : BigInt(n);
}

/** Reads a snprintf-convention JSON function into a string. */
export function snprintfString(
  fn: (buf: Deno.PointerValue, cap: bigint) => bigint,
): string {
  for (let attempt = 0; attempt < 8; attempt++) {
    const need = Number(fn(null, 0n));
    const buf = new Uint8Array(need + 256);
    const got = Number(fn(ptrOf(buf), BigInt(buf.length)));
    if (got < buf.length) {
      if (buf[got] !== 0) throw new Error("JSON text not NUL-terminated");
      return new TextDecoder().decode(buf.subarray(0, got));
    }
  }
  throw new Error("JSON text keeps growing");
}

export interface OpenOptions {
  /** dlopen a private copy so this module gets its own allocator instance
   * (exact statistics even when other test modules run in parallel).
   * Default true. */
  isolate?: boolean;
  /** Keep the private copy on disk (for a Worker to dlopen the same
   * instance by path); otherwise it is unlinked right after dlopen. */
  keepFile?: boolean;
}

const instances = new Map<string, Hakmem>();

/** dlopens dist/x86_64-linux-gnu/<flavour>/libhakmem.so. */
export function openHakmem(flavour: Flavour, opts: OpenOptions = {}): Hakmem {
  const src = libraryPath(flavour);
  if (!(opts.isolate ?? true)) {
    const cached = instances.get(src);
    if (cached) return cached;
    const h = openHakmemAt(src, flavour);
    instances.set(src, h);
    return h;
  }
  const tmpDir = Deno.makeTempDirSync({ prefix: `hakmem-ffi-${flavour}-` });
  const path = `${tmpDir}/libhakmem.so`;
  Deno.copyFileSync(src, path);
  const h = openHakmemAt(path, flavour, tmpDir);
  if (!opts.keepFile) Deno.removeSync(tmpDir, { recursive: true });
  return h;
}

/** dlopens a given libhakmem.so path (e.g. from a Worker sharing an instance). */
export function openHakmemAt(
  path: string,
  flavour: Flavour,
  tmpDir?: string,
): Hakmem {
  const lib = Deno.dlopen(path, { ...HAKMEM_SYMBOLS, ...STD_SYMBOLS });
  const sym = lib.symbols;
  const cString = (p: Deno.PointerValue, what: string): string => {
    if (!p) throw new Error(`${what} returned NULL`);
    return Deno.UnsafePointerView.getCString(p);
  };
  const h: Hakmem = {
    flavour,
    path,
    sym,
    close() {
      lib.close();
      h.removeFile();
    },
    removeFile() {
      if (tmpDir) {
        try {
          Deno.removeSync(tmpDir, { recursive: true });
        } catch { /* already gone */ }
      }
    },
    malloc: (size) => sym.hak_malloc(big(size)),
    free: (p) => sym.hak_free(p),
    usable: (p) => Number(sym.hak_usable_size(p)),
    classCount: () => sym.hak_class_count(),
    classSize: (cls) => Number(sym.hak_class_size(cls)),
    classOf: (size) => sym.hak_class_of(big(size)),
    tinyMax: () => Number(sym.hak_tiny_max()),
    midMax: () => Number(sym.hak_mid_max()),
    mode: () => cString(sym.hak_mode(), "hak_mode"),
    version: () => cString(sym.hak_version(), "hak_version"),
    statsJsonText: () => snprintfString(sym.hak_stats_json),
    readStats: () => parseStats(snprintfString(sym.hak_stats_json)),
    statsStruct(bufSize = HAK_STATS_SIZE) {
      const buf = new Uint8Array(Math.max(bufSize, 8));
      const rc = sym.hak_stats_get(ptrOf(buf), BigInt(bufSize));
      if (rc !== 0) {
        throw new Error(`hak_stats_get(${bufSize}) = ${rc}, errno ${getErrno()}`);
      }
      const s = decodeStatsStruct(buf);
      if (s.version !== HAK_STATS_VERSION) {
        throw new Error(`hak_stats_t.version = ${s.version}, expected 1`);
      }
      if (s.size !== HAK_STATS_SIZE) {
        throw new Error(
          `hak_stats_t.size = ${s.size}, expected ${HAK_STATS_SIZE}`,
        );
      }
      return s;
    },
    configJsonText: () => snprintfString(sym.hak_config_json),
    optionGet(name) {
      const n = cstr(name);
      const out = new BigInt64Array([-0x5a5a5a5an]);
      setErrno(0);
      const rc = sym.hak_option_get(
        ptrOf(n),
        Deno.UnsafePointer.of(out),
      );
      const errno = getErrno();
      return { rc, value: out[0], errno };
    },
    optionSet(name, value) {
      const n = cstr(name);
      setErrno(0);
      const rc = sym.hak_option_set(ptrOf(n), big(value));
      return { rc, errno: getErrno() };
    },
  };
  return h;
}

/** Calls fn with errno cleared and returns its result with the errno after. */
export function withErrno<T>(fn: () => T): { value: T; errno: number } {
  setErrno(0);
  const value = fn();
  return { value, errno: getErrno() };
}

// -------------------------------------------------------------- misc ----

/** Small fast seeded PRNG (mulberry32 over a 32-bit seed). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** uniform uint32 */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** uniform integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.u32() / 0x100000000) * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
}

/** Fills `buf` with deterministic bytes from `seed`. */
export function patternBytes(len: number, seed: number): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(len);
  const rng = new Rng(seed);
  const words = new Uint32Array(buf.buffer, 0, Math.floor(len / 4));
  for (let i = 0; i < words.length; i++) words[i] = rng.u32();
  for (let i = words.length * 4; i < len; i++) buf[i] = rng.u32() & 0xff;
  return buf;
}

/** `ignore` value for a test needing the library: ignored (with a note) when
 * it has not been built, except under CI=true, where the test runs and fails. */
const noted = new Set<Flavour>();
export function notBuilt(flavour: Flavour): boolean {
  if (libraryExists(flavour)) return false;
  if (Deno.env.get("CI") === "true") return false;
  if (noted.has(flavour)) return true;
  noted.add(flavour);
  console.warn(
    `note: ${libraryPath(flavour)} not built; ${flavour} FFI tests ignored`,
  );
  return true;
}

/** One shared (isolated) instance per flavour for the calling module. */
export function lazyHakmem(flavour: Flavour, opts: OpenOptions = {}): () => Hakmem {
  let h: Hakmem | undefined;
  return () => (h ??= openHakmem(flavour, opts));
}
