/**
 * What the FFI tests share besides the binding (bindings/hakmem.ts): which library a test opens
 * (a flavour of the x86_64 build, in a private copy by default), whether it is built, raw memory
 * helpers, errno constants and a seeded PRNG.
 */
import { Hakmem } from "../../bindings/hakmem.ts";
import { versionOfHeader } from "../../tasks/dist/version.ts";
import { existsSync } from "../../tasks/lib/files.ts";
import { mulberry32 } from "../../tasks/lib/random.ts";

export { getErrno, Hakmem, setErrno, withErrno } from "../../bindings/hakmem.ts";
export type {
  JsonStats,
  OptionsTable,
  Stats,
  StatsLayout,
  StructStats,
} from "../../bindings/hakmem.ts";

export type Flavour = "release" | "debug";
export const FLAVOURS: readonly Flavour[] = ["release", "debug"];
export const TARGET = "x86_64-linux-gnu";

export const EINVAL = 22;
export const ENOMEM = 12;
export const ENOENT = 2;
export const EPERM = 1;
export const ERANGE = 34;

export const SIZE_MAX = (1n << 64n) - 1n;

/** Repository root: $HAKMEM_ROOT or two levels above this file. */
export function repoRoot(): string {
  const env = Deno.env.get("HAKMEM_ROOT");
  if (env) return env.replace(/\/+$/, "");
  return new URL("../..", import.meta.url).pathname.replace(/\/+$/, "");
}

/** The version core/include/hakmem.h defines (HAKMEM_VERSION_*), which hak_version() reports. */
export function headerVersion(): string {
  const header = `${repoRoot()}/core/include/hakmem.h`;
  return versionOfHeader(Deno.readTextFileSync(header), header);
}

/** dist/x86_64-linux-gnu/<flavour>/libhakmem.so, or under $HAKMEM_TEST_DIST (another build's
 * root, e.g. dist/cc/gcc: tests/build/compilers.test.ts runs the contract tests so). */
export function libraryPath(flavour: Flavour): string {
  const root = Deno.env.get("HAKMEM_TEST_DIST") ?? `${repoRoot()}/dist`;
  return `${root}/${TARGET}/${flavour}/libhakmem.so`;
}

export function libraryExists(flavour: Flavour): boolean {
  return existsSync(libraryPath(flavour));
}

/** `ignore` value for a test needing the library: ignored (with a note) when
 * it has not been built, except under CI=true, where the test runs and fails. */
const noted = new Set<Flavour>();
export function notBuilt(flavour: Flavour): boolean {
  if (libraryExists(flavour)) return false;
  if (Deno.env.get("CI") === "true") return false;
  if (noted.has(flavour)) return true;
  noted.add(flavour);
  console.warn(`note: ${libraryPath(flavour)} not built; ${flavour} FFI tests ignored`);
  return true;
}

/** A library a test opened: the binding, its flavour, and the private copy it may live in. */
export interface TestHakmem extends Hakmem {
  flavour: Flavour;
  /** Removes the private copy (if kept) without closing the library. */
  removeFile(): void;
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

function tested(h: Hakmem, flavour: Flavour, tmpDir?: string): TestHakmem {
  return Object.assign(h, {
    flavour,
    removeFile() {
      if (tmpDir) Deno.removeSync(tmpDir, { recursive: true });
      tmpDir = undefined;
    },
  });
}

const shared = new Map<string, TestHakmem>();

/** dlopens dist/x86_64-linux-gnu/<flavour>/libhakmem.so (a private copy unless isolate=false). */
export function openHakmem(flavour: Flavour, opts: OpenOptions = {}): TestHakmem {
  const src = libraryPath(flavour);
  if (!(opts.isolate ?? true)) {
    const h = shared.get(src) ?? openHakmemAt(src, flavour);
    shared.set(src, h);
    return h;
  }
  const tmpDir = Deno.makeTempDirSync({ prefix: `hakmem-ffi-${flavour}-` });
  const path = `${tmpDir}/libhakmem.so`;
  Deno.copyFileSync(src, path);
  const h = tested(Hakmem.open(path), flavour, tmpDir);
  if (!opts.keepFile) h.removeFile();
  return h;
}

/** dlopens a given libhakmem.so path (e.g. from a Worker sharing an instance). */
export function openHakmemAt(path: string, flavour: Flavour): TestHakmem {
  return tested(Hakmem.open(path), flavour);
}

/** One shared (isolated) instance per flavour for the calling module. */
export function lazyHakmem(flavour: Flavour, opts: OpenOptions = {}): () => TestHakmem {
  let h: TestHakmem | undefined;
  return () => (h ??= openHakmem(flavour, opts));
}

/** Hardened mode (HAKMEM_HARDEN=1; the debug flavour always): small blocks carry an 8-byte canary
 * (all classes but the largest), blocks past the mid tier and 0-byte blocks are guarded, no large
 * block is cached. */
export function hardened(h: Hakmem): boolean {
  return h.optionGet("HAKMEM_HARDEN").value === 1n;
}

/** Bytes of class `cls` a block gives its user: the class size less the canary in hardened mode. */
export function usableOfClass(h: Hakmem, cls: number): number {
  const canary = hardened(h) && cls < h.classCount() - 1 ? 8 : 0;
  return h.classSize(cls) - canary;
}

/** The id of a per-class knob (hak_class_knob_t) by its name in the options table. */
export function classKnob(h: Hakmem, name: string): number {
  const knob = h.optionsTable().class_knobs.find((k) => k.name === name);
  if (!knob) throw new Error(`no class knob ${name} in the options table`);
  return knob.id;
}

// ---------------------------------------------------------------------------------- memory ----

const LIBC_SYMBOLS = {
  memcpy: { parameters: ["pointer", "pointer", "usize"], result: "pointer" },
  memcmp: { parameters: ["pointer", "pointer", "usize"], result: "i32" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let libcCache: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | undefined;

function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  return libcCache ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
}

export function memcpy(dst: Deno.PointerObject, src: Deno.PointerObject, n: number): void {
  if (n > 0) libc().memcpy(dst, src, BigInt(n));
}

export function memcmp(a: Deno.PointerObject, b: Deno.PointerObject, n: number): number {
  return n > 0 ? libc().memcmp(a, b, BigInt(n)) : 0;
}

export function memset(p: Deno.PointerObject, byte: number, n: number): void {
  if (n > 0) libc().memset(p, byte, BigInt(n));
}

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

/** Offset of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// ------------------------------------------------------------------------------------ seeds ----

/** A test's seed: `env` when set (to replay), else `fixed`; printed either way. */
export function testSeed(what: string, env: string, fixed: number): number {
  const given = Deno.env.get(env);
  const seed = given !== undefined ? Number.parseInt(given, 10) >>> 0 : fixed;
  console.log(`${what}: seed ${seed} (${env}=${seed} replays; set it to try another)`);
  return seed;
}

/** Small fast seeded PRNG (mulberry32 over a 32-bit seed). */
export class Rng {
  /** uniform uint32 */
  readonly u32: () => number;
  constructor(seed: number) {
    this.u32 = mulberry32(seed);
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
