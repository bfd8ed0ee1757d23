/**
 * The Deno binding of libhakmem.so: the one typed symbol table of core/include/hakmem.h (each entry
 * under its C prototype; tests/ffi/symbols.test.ts checks the prototypes and the FFI types against
 * the header and the table against the library's exported symbols), and a class that opens a
 * given library and decodes what the library describes about itself: the statistics
 * (hak_stats_layout_json) and the options table (hak_options_table_json). Nothing here re-types a
 * struct offset, a mode or an option.
 *
 *   import { Hakmem } from "./bindings/hakmem.ts";
 *   const h = Hakmem.open("dist/x86_64-linux-gnu/release/libhakmem.so");
 *   const p = h.malloc(100);
 *   h.free(p);
 *   h.stats().tiers.tiny.allocs; h.optionsTable().modes;
 *
 * As a script it prints what a library describes: `deno run -A bindings/hakmem.ts
 * <options|layout|stats|config> <libhakmem.so>`.
 *
 * FFI types: size_t -> "usize" (bigint), int -> "i32", unsigned -> "u32", int64_t -> "i64"
 * (bigint), uint64_t -> "u64" (bigint), double -> "f64", enums -> "u32" (unsigned int in C),
 * pointers and arrays -> "pointer".
 */

import { parseAs, parseJson, z } from "../tasks/lib/schema.ts";

/** The JSON calls of hakmem.h share one signature (snprintf's convention). */
const TEXT_CALL = { parameters: ["pointer", "usize"], result: "usize" } as const;

/** Every hak_* function of hakmem.h, in header order, each under its C prototype. */
export const HAKMEM_SYMBOLS = {
  // ---- allocation ----
  // void *hak_malloc(size_t size)
  hak_malloc: { parameters: ["usize"], result: "pointer" },
  // void hak_free(void *ptr)
  hak_free: { parameters: ["pointer"], result: "void" },
  // void *hak_calloc(size_t count, size_t size)
  hak_calloc: { parameters: ["usize", "usize"], result: "pointer" },
  // void *hak_realloc(void *ptr, size_t size)
  hak_realloc: { parameters: ["pointer", "usize"], result: "pointer" },
  // void *hak_reallocarray(void *ptr, size_t count, size_t size)
  hak_reallocarray: { parameters: ["pointer", "usize", "usize"], result: "pointer" },
  // void *hak_aligned_alloc(size_t alignment, size_t size)
  hak_aligned_alloc: { parameters: ["usize", "usize"], result: "pointer" },
  // int hak_posix_memalign(void **out, size_t alignment, size_t size)
  hak_posix_memalign: { parameters: ["pointer", "usize", "usize"], result: "i32" },
  // void *hak_memalign(size_t alignment, size_t size)
  hak_memalign: { parameters: ["usize", "usize"], result: "pointer" },
  // size_t hak_usable_size(const void *ptr)
  hak_usable_size: { parameters: ["pointer"], result: "usize" },
  // void hak_thread_flush(void)
  hak_thread_flush: { parameters: [], result: "void" },
  // int hak_trim(void)
  hak_trim: { parameters: [], result: "i32" },
  // ---- C23 sized frees ----
  // void hak_free_sized(void *ptr, size_t size)
  hak_free_sized: { parameters: ["pointer", "usize"], result: "void" },
  // void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size)
  hak_free_aligned_sized: { parameters: ["pointer", "usize", "usize"], result: "void" },
  // ---- size classes ----
  // unsigned hak_class_count(void)
  hak_class_count: { parameters: [], result: "u32" },
  // size_t hak_class_size(unsigned cls)
  hak_class_size: { parameters: ["u32"], result: "usize" },
  // int hak_class_of(size_t size)
  hak_class_of: { parameters: ["usize"], result: "i32" },
  // size_t hak_tiny_max(void)
  hak_tiny_max: { parameters: [], result: "usize" },
  // size_t hak_mid_max(void)
  hak_mid_max: { parameters: [], result: "usize" },
  // ---- statistics ----
  // int hak_stats_get(hak_stats_t *out, size_t out_size)
  hak_stats_get: { parameters: ["pointer", "usize"], result: "i32" },
  // size_t hak_stats_json(char *buf, size_t cap)
  hak_stats_json: TEXT_CALL,
  // void hak_stats_print(int fd)
  hak_stats_print: { parameters: ["i32"], result: "void" },
  // size_t hak_stats_layout_json(char *buf, size_t cap)
  hak_stats_layout_json: TEXT_CALL,
  // ---- configuration ----
  // const char *hak_mode(void)
  hak_mode: { parameters: [], result: "pointer" },
  // const char *hak_version(void)
  hak_version: { parameters: [], result: "pointer" },
  // int hak_option_get(const char *name, int64_t *value)
  hak_option_get: { parameters: ["pointer", "pointer"], result: "i32" },
  // int hak_option_set(const char *name, int64_t value)
  hak_option_set: { parameters: ["pointer", "i64"], result: "i32" },
  // size_t hak_config_json(char *buf, size_t cap)
  hak_config_json: TEXT_CALL,
  // size_t hak_options_table_json(char *buf, size_t cap)
  hak_options_table_json: TEXT_CALL,
  // int hak_class_knob_set(hak_class_knob_t knob, unsigned cls, int64_t value)
  hak_class_knob_set: { parameters: ["u32", "u32", "i64"], result: "i32" },
  // int64_t hak_class_knob_get(hak_class_knob_t knob, unsigned cls)
  hak_class_knob_get: { parameters: ["u32", "u32"], result: "i64" },
  // ---- learning layer ----
  // double hak_elo_expected(double ra, double rb)
  hak_elo_expected: { parameters: ["f64", "f64"], result: "f64" },
  // void hak_elo_update(double *ra, double *rb, double score_a, double k)
  hak_elo_update: { parameters: ["pointer", "pointer", "f64", "f64"], result: "void" },
  // double hak_ucb1_score(double mean, uint64_t n, uint64_t total, double c)
  hak_ucb1_score: { parameters: ["f64", "u64", "u64", "f64"], result: "f64" },
  // int hak_elo_state(void)
  hak_elo_state: { parameters: [], result: "i32" },
  // size_t hak_elo_threshold(void)
  hak_elo_threshold: { parameters: [], result: "usize" },
  // size_t hak_elo_json(char *buf, size_t cap)
  hak_elo_json: TEXT_CALL,
  // void hak_elo_test_reset(int learn, uint64_t seed)
  hak_elo_test_reset: { parameters: ["i32", "u64"], result: "void" },
  // int hak_elo_test_step(const double cost[HAK_ELO_CANDIDATE_COUNT])
  hak_elo_test_step: { parameters: ["pointer"], result: "i32" },
  // int hak_ace_running(void)
  hak_ace_running: { parameters: [], result: "i32" },
  // size_t hak_ace_json(char *buf, size_t cap)
  hak_ace_json: TEXT_CALL,
  // void hak_ace_test_reset(void)
  hak_ace_test_reset: { parameters: [], result: "void" },
  // int hak_ace_test_tick(const hak_ace_metrics_t *m, int slow)
  hak_ace_test_tick: { parameters: ["pointer", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** glibc's struct mallinfo2, in order; struct mallinfo has the same fields as int. */
export const MALLINFO_FIELDS = [
  "arena",
  "ordblks",
  "smblks",
  "hblks",
  "hblkhd",
  "usmblks",
  "fsmblks",
  "uordblks",
  "fordblks",
  "keepcost",
] as const;
export type Mallinfo = Record<typeof MALLINFO_FIELDS[number], number>;

const MALLINFO2 = { struct: MALLINFO_FIELDS.map(() => "usize" as const) };
const MALLINFO = { struct: MALLINFO_FIELDS.map(() => "i32" as const) };

/** The standard allocation symbols libhakmem.so exports as well (glibc's prototypes), and glibc's
 * introspection calls, which it answers with its own figures. */
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
  malloc_trim: { parameters: ["usize"], result: "i32" },
  free_sized: { parameters: ["pointer", "usize"], result: "void" },
  free_aligned_sized: { parameters: ["pointer", "usize", "usize"], result: "void" },
  mallinfo2: { parameters: [], result: MALLINFO2 },
  mallinfo: { parameters: [], result: MALLINFO },
  malloc_stats: { parameters: [], result: "void" },
  malloc_info: { parameters: ["i32", "pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export const HAKMEM_SYMBOL_NAMES: readonly string[] = Object.keys(HAKMEM_SYMBOLS);
export const STD_SYMBOL_NAMES: readonly string[] = Object.keys(STD_SYMBOLS);

export type HakSymbols = Deno.DynamicLibrary<typeof HAKMEM_SYMBOLS & typeof STD_SYMBOLS>["symbols"];

// ------------------------------------------------------------------------------------- errno ----

const LIBC_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | undefined;

function errnoCell(): Int32Array {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  const p = libc.__errno_location();
  if (!p) throw new Error("__errno_location returned NULL");
  return new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4));
}

/** The calling thread's errno (valid right after a synchronous FFI call). */
export function getErrno(): number {
  return errnoCell()[0];
}

export function setErrno(value: number): void {
  errnoCell()[0] = value;
}

/** Calls fn with errno cleared and returns its result with the errno after. */
export function withErrno<T>(fn: () => T): { value: T; errno: number } {
  setErrno(0);
  const value = fn();
  return { value, errno: getErrno() };
}

// --------------------------------------------------------------------------------- decoders ----

const offset = z.number().int().nonnegative();
const named = z.object({ name: z.string(), offset, description: z.string() });

/** hak_stats_layout_json: where each field of hak_stats_t lies. */
const StatsLayout = z.object({
  version: z.number().int(),
  size: z.number().int().positive(),
  head: z.array(z.object({ name: z.string(), offset, type: z.literal("u32") })),
  tiers: z.object({
    offset,
    stride: z.number().int().positive(),
    names: z.array(z.string()),
    fields: z.array(named),
  }),
  syscalls: z.object({ offset, names: z.array(z.string()) }),
  counters: z.array(named),
  pmu_source: z.object({ offset, names: z.array(z.string()) }),
});
export type StatsLayout = z.infer<typeof StatsLayout>;

/** The statistics, by the names of the layout: hak_stats_json parsed, or hak_stats_t decoded. */
export interface Stats {
  version: number;
  /** tier name -> field -> value */
  tiers: Record<string, Record<string, number>>;
  /** syscall -> calls */
  syscalls: Record<string, number>;
  /** the process-wide counters (bytes_mapped, peak_mapped, ...) */
  counters: Record<string, number>;
  /** where llc_misses come from ("off", "rdpmc", ...) */
  pmu: string;
}

/** hak_stats_json adds the mode and the build. */
export interface JsonStats extends Stats {
  mode: string;
  build: string;
}

/** hak_stats_t adds its size and the PMU source's number. */
export interface StructStats extends Stats {
  size: number;
  pmu_source: number;
}

function fail(what: string): never {
  throw new Error(`hakmem: ${what}`);
}

const count = z.number().int().nonnegative();

/** An object of exactly these keys, each a count. */
function counts(names: readonly string[]) {
  return z.strictObject(Object.fromEntries(names.map((n) => [n, count])));
}

/** The schema of hak_stats_json's object, made from the layout: exactly its tiers, fields,
 * syscalls and counters (the library describes itself; nothing here re-types a field). */
export function statsJsonSchema(layout: StatsLayout) {
  const tier = counts(layout.tiers.fields.map((f) => f.name));
  return z.strictObject({
    version: count,
    mode: z.string(),
    build: z.string(),
    tiers: z.strictObject(Object.fromEntries(layout.tiers.names.map((t) => [t, tier]))),
    syscalls: counts(layout.syscalls.names),
    pmu: z.enum(layout.pmu_source.names as [string, ...string[]]),
    ...Object.fromEntries(layout.counters.map((c) => [c.name, count])),
  });
}

/** Validates and types hak_stats_json's text against the layout (throws, naming each field that
 * disagrees, when they do). */
export function parseStats(text: string, layout: StatsLayout): JsonStats {
  const root = parseAs(
    statsJsonSchema(layout),
    parseJson(text, "hakmem: stats JSON"),
    "hakmem: stats JSON",
  );
  const { version, mode, build, tiers, syscalls, pmu } = root;
  const counters = Object.fromEntries(
    layout.counters.map((c) => [c.name, (root as Record<string, unknown>)[c.name] as number]),
  );
  return {
    version,
    mode,
    build,
    tiers,
    syscalls,
    counters,
    pmu,
  };
}

/** Decodes a hak_stats_t by the layout (little-endian, as on every target). */
export function decodeStats(buf: Uint8Array, layout: StatsLayout): StructStats {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u64 = (off: number): number => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`stats struct: u64 at ${off} too large: ${v}`);
    return Number(v);
  };
  const u32 = (off: number) => dv.getUint32(off, true);
  const head = Object.fromEntries(layout.head.map((f) => [f.name, u32(f.offset)]));
  const { tiers: t, syscalls: sc, pmu_source: pmu } = layout;
  const source = u32(pmu.offset);
  return {
    version: head.version,
    size: head.size,
    tiers: Object.fromEntries(t.names.map((name, i) => [
      name,
      Object.fromEntries(t.fields.map((f) => [f.name, u64(t.offset + i * t.stride + f.offset)])),
    ])),
    syscalls: Object.fromEntries(sc.names.map((name, i) => [name, u64(sc.offset + i * 8)])),
    counters: Object.fromEntries(layout.counters.map((c) => [c.name, u64(c.offset)])),
    pmu: pmu.names[source] ?? fail(`stats struct: pmu_source ${source} has no name`),
    pmu_source: source,
  };
}

const OptionDef = z.object({
  /** the environment variable */
  name: z.string(),
  type: z.enum(["bool", "int", "enum", "string"]),
  /** the names of an enumeration's values, by index */
  choices: z.array(z.string()),
  min: z.number(),
  max: z.number(),
  /** the default in each mode (an enumeration's index; "" for text) */
  defaults: z.record(z.string(), z.union([z.number(), z.string()])),
  /** hak_option_set may change it while the program runs */
  runtime: z.boolean(),
  description: z.string(),
});
export type OptionDef = z.infer<typeof OptionDef>;

/** hak_options_table_json: the options table of core/src/os/options.def. */
const OptionsTable = z.object({
  /** HAKMEM_MODE's presets, in order: each option's defaults are keyed by them. */
  modes: z.array(z.string()),
  /** the preset when HAKMEM_MODE is unset */
  default_mode: z.string(),
  options: z.array(OptionDef),
  class_knobs: z.array(z.object({
    id: z.number().int(),
    name: z.string(),
    min: z.number(),
    max: z.number(),
    description: z.string(),
  })),
  prewarm: z.array(z.object({ size: z.number().int(), blocks: z.number().int() })),
});
export type OptionsTable = z.infer<typeof OptionsTable>;

/** An options table's JSON text (hak_options_table_json, or `bindings/hakmem.ts options`),
 * validated; `what` names it in errors. */
export function parseOptionsTable(text: string, what: string): OptionsTable {
  return parseAs(OptionsTable, parseJson(text, what), what);
}

/** hak_ace_metrics_t, all doubles: these scalars in order, then one array of hak_class_count()
 * entries per name of ACE_METRICS_PER_CLASS, then ACE_REUSE_BUCKETS entries of reuse_mb
 * (tests/ffi/symbols.test.ts checks the lists against hakmem.h). */
export const ACE_METRICS_FIELDS = [
  "interval_s",
  "ops_per_s",
  "llc_miss_rate",
  "llc_from_pmu",
  "lock_wait_frac",
  "remote_backlog",
  "p99_lat_ns",
  "ace_cpu_percent",
  "frag_ratio",
  "rss_mb",
  "in_use_mb",
  "remote_free_rate",
  "idle_in_mb",
  "large_cold_mb",
  "large_idle_mb",
  "released_mb",
  "refault_mb",
  "cpu_ns_per_op",
] as const;
export const ACE_METRICS_PER_CLASS = ["cls_ops", "cls_underflows", "cls_overflows"] as const;
/** HAK_ACE_REUSE_BUCKETS: reuse_mb[k] is MiB reused after [2^k, 2^(k+1)) ms idle. */
export const ACE_REUSE_BUCKETS = 18;

export type AceMetrics =
  & Partial<Record<typeof ACE_METRICS_FIELDS[number], number>>
  & Partial<Record<typeof ACE_METRICS_PER_CLASS[number], Record<number, number>>>
  & { reuse_mb?: Record<number, number> };

/** A hak_ace_metrics_t for `classes` size classes (fields left out are 0). */
export function encodeAceMetrics(m: AceMetrics, classes: number): Float64Array<ArrayBuffer> {
  const head = ACE_METRICS_FIELDS.length;
  const perClass = ACE_METRICS_PER_CLASS.length * classes;
  const a = new Float64Array(head + perClass + ACE_REUSE_BUCKETS);
  ACE_METRICS_FIELDS.forEach((f, i) => (a[i] = m[f] ?? 0));
  ACE_METRICS_PER_CLASS.forEach((f, k) => {
    for (const [cls, v] of Object.entries(m[f] ?? {})) a[head + k * classes + Number(cls)] = v;
  });
  for (const [k, v] of Object.entries(m.reuse_mb ?? {})) a[head + perClass + Number(k)] = v;
  return a;
}

// ------------------------------------------------------------------------------------ class ----

/** NUL-terminated copy of a JS string (keep the array alive during the call). */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

function big(n: number | bigint): bigint {
  return typeof n === "bigint" ? n : BigInt(n);
}

/** A JSON call of hakmem.h: (buf, cap) -> the length the whole text needs. */
type TextCall = (buf: Deno.PointerValue, cap: bigint) => bigint;

/** An opened libhakmem.so: its symbols, typed wrappers and the decoders of its descriptions. */
export class Hakmem {
  readonly sym: HakSymbols;
  #lib: Deno.DynamicLibrary<typeof HAKMEM_SYMBOLS & typeof STD_SYMBOLS>;
  #layout?: StatsLayout;
  #table?: OptionsTable;

  protected constructor(readonly path: string) {
    this.#lib = Deno.dlopen(path, { ...HAKMEM_SYMBOLS, ...STD_SYMBOLS });
    this.sym = this.#lib.symbols;
  }

  /** dlopens the library at `path` (the same path twice gives the same instance of it). */
  static open(path: string): Hakmem {
    return new Hakmem(path);
  }

  close(): void {
    this.#lib.close();
  }

  malloc(size: number | bigint): Deno.PointerValue {
    return this.sym.hak_malloc(big(size));
  }
  free(p: Deno.PointerValue): void {
    this.sym.hak_free(p);
  }
  usable(p: Deno.PointerValue): number {
    return Number(this.sym.hak_usable_size(p));
  }
  classCount(): number {
    return this.sym.hak_class_count();
  }
  classSize(cls: number): number {
    return Number(this.sym.hak_class_size(cls));
  }
  classOf(size: number | bigint): number {
    return this.sym.hak_class_of(big(size));
  }
  tinyMax(): number {
    return Number(this.sym.hak_tiny_max());
  }
  midMax(): number {
    return Number(this.sym.hak_mid_max());
  }
  mode(): string {
    return this.#cString(this.sym.hak_mode(), "hak_mode");
  }
  version(): string {
    return this.#cString(this.sym.hak_version(), "hak_version");
  }

  /** The text of a JSON call of hakmem.h (snprintf convention), read whole. */
  text(call: TextCall): string {
    for (let attempt = 0; attempt < 8; attempt++) {
      const need = Number(call(null, 0n));
      const buf = new Uint8Array(need + 256);
      const got = Number(call(Deno.UnsafePointer.of(buf), BigInt(buf.length)));
      if (got < buf.length) {
        if (buf[got] !== 0) fail("JSON text not NUL-terminated");
        return new TextDecoder().decode(buf.subarray(0, got));
      }
    }
    return fail("JSON text keeps growing");
  }

  statsLayout(): StatsLayout {
    const what = "hakmem: hak_stats_layout_json";
    return this.#layout ??= parseAs(
      StatsLayout,
      parseJson(this.text(this.sym.hak_stats_layout_json), what),
      what,
    );
  }
  statsJsonText(): string {
    return this.text(this.sym.hak_stats_json);
  }
  /** hak_stats_json, checked against the layout. */
  stats(): JsonStats {
    return parseStats(this.statsJsonText(), this.statsLayout());
  }
  /** hak_stats_get into a buffer of `bufSize` bytes (default: the struct's size), decoded. */
  statsStruct(bufSize = this.statsLayout().size): StructStats {
    const buf = new Uint8Array(Math.max(bufSize, 8));
    const rc = this.sym.hak_stats_get(Deno.UnsafePointer.of(buf), BigInt(bufSize));
    if (rc !== 0) fail(`hak_stats_get(${bufSize}) = ${rc}, errno ${getErrno()}`);
    return decodeStats(buf, this.statsLayout());
  }

  configJsonText(): string {
    return this.text(this.sym.hak_config_json);
  }
  optionsTable(): OptionsTable {
    const text = this.text(this.sym.hak_options_table_json);
    return this.#table ??= parseOptionsTable(text, "hakmem: hak_options_table_json");
  }
  /** hak_option_get: rc 0 and the value, or rc -1 and errno (ENOENT for an unknown name). */
  optionGet(name: string): { rc: number; value: bigint; errno: number } {
    const n = cstr(name);
    const out = new BigInt64Array([-0x5a5a5a5an]);
    setErrno(0);
    const rc = this.sym.hak_option_get(Deno.UnsafePointer.of(n), Deno.UnsafePointer.of(out));
    return { rc, value: out[0], errno: getErrno() };
  }
  optionSet(name: string, value: bigint | number): { rc: number; errno: number } {
    const n = cstr(name);
    setErrno(0);
    const rc = this.sym.hak_option_set(Deno.UnsafePointer.of(n), big(value));
    return { rc, errno: getErrno() };
  }

  /** mallinfo2 (wide = true, size_t fields) or mallinfo (int fields), by field name. */
  mallinfo(wide = true): Mallinfo {
    const raw = wide ? this.sym.mallinfo2() : this.sym.mallinfo();
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const at = (i: number) =>
      wide ? Number(dv.getBigUint64(i * 8, true)) : dv.getInt32(i * 4, true);
    return Object.fromEntries(MALLINFO_FIELDS.map((f, i) => [f, at(i)])) as Mallinfo;
  }

  #cString(p: Deno.PointerValue, what: string): string {
    return p ? Deno.UnsafePointerView.getCString(p) : fail(`${what} returned NULL`);
  }
}

if (import.meta.main) {
  const [what, path] = Deno.args;
  const print: Record<string, (h: Hakmem) => unknown> = {
    options: (h) => h.optionsTable(),
    layout: (h) => h.statsLayout(),
    stats: (h) => h.stats(),
    config: (h) => JSON.parse(h.configJsonText()),
  };
  if (!path || !(what in print)) {
    console.error(`usage: bindings/hakmem.ts <${Object.keys(print).join("|")}> <libhakmem.so>`);
    Deno.exit(2);
  }
  console.log(JSON.stringify(print[what](Hakmem.open(path)), null, 2));
}
