// Sanitizer and libFuzzer builds with Debian's clang: zig cc 0.15.2 ships no ASan/TSan/libFuzzer
// runtime (linking -fsanitize=address fails on __asan_* symbols), so these programs are compiled
// with clang-19 and its compiler-rt (libclang-rt-19-dev). hakmem's own sources are compiled into
// the program with the sanitizer and -DHAK_NO_OVERRIDE=1: the sanitizer owns malloc/free, and the
// test code calls hak_* (through tests/sanitize/hak_names.h when it is written against malloc).
//
//   build/clang/<key>/core/*.o     hakmem's objects for one flag set (key: sanitizers)
//   build/clang/<key>/bin/<name>   the programs
//
// Builds are incremental (a stamp per object and per program: flags, clang version, sources).

import { dirname, isAbsolute, join, relative } from "node:path";
import { createHash } from "node:crypto";
import { ensurePackages, type PackageNeed, probeOk } from "../lib/deps.ts";
import { endText, run } from "../lib/run.ts";
import { ROOT } from "../lib/targets.ts";
import { compileIncremental, headersHash, programInputs, upToDate } from "./build.ts";
import { CORE_INCLUDE, coreSources, objectName } from "./layers.ts";
import { removeIfPresent } from "../lib/files.ts";

export const CLANG = "clang-19";
const RT_DIR = "/usr/lib/llvm-19/lib/clang/19/lib/linux";
/** Turns the sanitizers' raw addresses into function:file:line (their *_OPTIONS need it). */
export const SYMBOLIZER = "/usr/lib/llvm-19/bin/llvm-symbolizer";

/** The Debian packages: the compiler and compiler-rt (sanitizer and libFuzzer runtimes). */
export const CLANG_PACKAGES: PackageNeed[] = [
  { deb: "clang-19", why: "sanitizer and libFuzzer builds", probe: CLANG },
  {
    deb: "libclang-rt-19-dev",
    why: "ASan/UBSan/TSan and libFuzzer runtimes",
    probe: `${RT_DIR}/libclang_rt.fuzzer-x86_64.a`,
  },
  { deb: "llvm-19", why: "llvm-symbolizer for sanitizer reports", probe: SYMBOLIZER },
];

/** Makes sure clang and its runtimes are there (apt-get install as root); returns null, or why
 * they cannot be had (a sanitizer test then calls skipOrFail with it). */
export async function clangMissing(): Promise<string | null> {
  if (Deno.build.arch !== "x86_64") return `the clang builds run on x86_64 only`;
  try {
    await ensurePackages(CLANG_PACKAGES);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  for (const p of CLANG_PACKAGES) {
    if (!(await probeOk(p.probe))) return `${p.deb} is missing (probe ${p.probe})`;
  }
  return null;
}

export type Sanitizers = "address,undefined" | "thread" | "fuzzer,address,undefined";

/** Flags of every object, core and test alike. */
function baseFlags(san: Sanitizers): string[] {
  const compileSan = san.startsWith("fuzzer") ? san.replace("fuzzer", "fuzzer-no-link") : san;
  return [
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    `-fsanitize=${compileSan}`,
    // UBSan findings stop the program (a report that scrolls by is not a failure otherwise).
    ...(san.includes("undefined") ? ["-fno-sanitize-recover=all"] : []),
    "-Wall",
    "-Wextra",
    "-Werror",
    "-D_GNU_SOURCE",
  ];
}

/** Flags of hakmem's own objects: the library's (C11 in the GNU dialect, no builtin malloc folding, initial-exec
 * TLS, debug checks on) plus HAK_NO_OVERRIDE. */
function coreFlags(san: Sanitizers): string[] {
  return [
    ...baseFlags(san),
    "-std=gnu11",
    "-ftls-model=initial-exec",
    "-fno-builtin-malloc",
    "-fno-builtin-calloc",
    "-fno-builtin-realloc",
    "-fno-builtin-free",
    "-DHAK_NO_OVERRIDE=1",
    "-DHAK_DEBUG=1",
    "-DHAK_PMU=1",
    "-Icore/include",
    "-Icore/src",
  ];
}

let versionPromise: Promise<string> | undefined;
function clangVersion(): Promise<string> {
  versionPromise ??= run(CLANG, ["--version"]).then((r) => r.stdout.split("\n")[0]);
  return versionPromise;
}

async function clang(args: string[]): Promise<void> {
  const r = await run(CLANG, args);
  const out = (r.stderr + r.stdout).trim();
  if (r.code !== 0) {
    throw new Error(`${CLANG} ${args.join(" ")}\n${endText(r)}${out ? `:\n${out}` : ""}`);
  }
  if (out) console.error(out);
}

/** Runs the tasks at most `n` at a time. */
async function limited<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const runOne = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, runOne));
  return results;
}

function keyOf(san: Sanitizers): string {
  return san.replaceAll(",", "-");
}

/** Compiles hakmem's sources for `san` (incrementally); returns the object paths. */
async function coreObjects(san: Sanitizers): Promise<string[]> {
  const dir = join(ROOT, "build", "clang", keyOf(san), "core");
  await Deno.mkdir(dir, { recursive: true });
  const flags = coreFlags(san);
  const version = await clangVersion();
  const hdrs = await headersHash();
  const sources = await coreSources();
  const jobs = Math.max(1, navigator.hardwareConcurrency || 2);
  return await limited(
    jobs,
    sources.map((src) => async () => {
      const obj = join(dir, objectName(src));
      await compileIncremental(src, obj, { version, flags, hdrs }, async () => {
        console.error(`[clang ${san}] cc ${relative(ROOT, src)}`);
        await clang([...flags, "-c", relative(ROOT, src), "-o", obj]);
      });
      return obj;
    }),
  );
}

export interface ClangProgram {
  /** Output name under build/clang/<key>/bin/. */
  name: string;
  sanitize: Sanitizers;
  /** The program's own C sources (absolute or relative to the repository root). */
  sources: string[];
  /** Headers force-included into the program's sources (not into hakmem's), e.g. hak_names.h. */
  include?: string[];
  extraFlags?: string[];
}

/** Builds a program with hakmem compiled in under the sanitizers; returns its path. */
export async function buildClangProgram(p: ClangProgram): Promise<string> {
  const objs = await coreObjects(p.sanitize);
  const out = join(ROOT, "build", "clang", keyOf(p.sanitize), "bin", p.name);
  const sources = p.sources.map((s) => (isAbsolute(s) ? s : join(ROOT, s)));
  const includes = (p.include ?? []).map((s) => (isAbsolute(s) ? s : join(ROOT, s)));
  const flags = [
    ...baseFlags(p.sanitize),
    "-std=gnu11",
    "-DHAK_NO_OVERRIDE=1",
    `-I${CORE_INCLUDE}`,
    ...includes.flatMap((i) => ["-include", i]),
    ...(p.extraFlags ?? []),
  ];
  const link = [`-fsanitize=${p.sanitize}`, "-lpthread"];
  const h = createHash("sha256").update(JSON.stringify({ v: await clangVersion(), flags, link }));
  const inputs = [...new Set([...(await programInputs([...sources, ...includes])), ...objs])];
  for (const f of inputs) h.update(f).update(await Deno.readFile(f));
  const stamp = h.digest("hex");
  if (await upToDate(out, stamp)) return out;
  await Deno.mkdir(dirname(out), { recursive: true });
  console.error(`[clang ${p.sanitize}] link ${relative(ROOT, out)}`);
  const tmp = `${out}.tmp-${Deno.pid}`;
  try {
    await clang([...flags, ...sources, ...objs, ...link, "-o", tmp]);
    await Deno.rename(tmp, out);
  } finally {
    await removeIfPresent(tmp);
  }
  await Deno.writeTextFile(`${out}.stamp`, stamp);
  return out;
}

/** Environment of a sanitized program: symbolized reports, the first report fatal. */
export function sanitizerEnv(): Record<string, string> {
  const common = `external_symbolizer_path=${SYMBOLIZER}:halt_on_error=1`;
  return {
    ASAN_OPTIONS: `${common}:abort_on_error=1:detect_leaks=1`,
    UBSAN_OPTIONS: `${common}:print_stacktrace=1`,
    // fork_mt's children start threads, which TSan allows with die_after_fork=0.
    TSAN_OPTIONS: `${common}:second_deadlock_stack=1:die_after_fork=0`,
  };
}
