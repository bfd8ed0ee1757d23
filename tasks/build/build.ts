// Builds libhakmem for every target and flavour with `zig cc`, incrementally:
//   build/<target>/<flavour>/obj/*.o   objects (+ .stamp: hash of flags, zig, source and headers)
//   dist/<target>/<flavour>/           libhakmem.a, libhakmem.so, include/hakmem.h
//   dist/manifest.json                 what was built, with which flags, glibc floor, sha256
// and links test executables against the static library (buildExecutable).

import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { createHash } from "node:crypto";
import pLimit from "p-limit";
import {
  buildDir,
  distDir,
  type Flavour,
  FLAVOURS,
  GLIBC_FLOOR,
  ROOT,
  type TargetInfo,
  targetInfo,
  type TargetName,
  TARGETS,
} from "../lib/targets.ts";
import { CannotRun, endText, run } from "../lib/run.ts";
import {
  exists,
  readTextIfPresent as readText,
  removeIfPresent as removeIfExists,
} from "../lib/files.ts";
import { zigEnv, zigPath, zigVersion } from "../lib/toolchain.ts";
import { CORE_INCLUDE, coreFiles, coreSources, objectName } from "./layers.ts";
import {
  aarch64LseInstructions,
  compareVersions,
  EM_AARCH64,
  EM_X86_64,
  exportedSymbols,
  maxGlibcVersion,
  readElf,
  requiredGlibcVersions,
} from "./elf.ts";

const PUBLIC_HEADER = join(CORE_INCLUDE, "hakmem.h");

/** Flags of every library object, whatever the target, flavour and compiler. */
export const COMMON_FLAGS: readonly string[] = [
  // C11 in gcc's GNU dialect: gcc accepts its named address space __seg_fs (free's thread
  // pointer, core/src/heap/heap.h) only there; clang and zig cc take either.
  "-std=gnu11",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-fPIC",
  "-fvisibility=hidden", // only HAK_API symbols and the libc allocation names are exported
  "-ftls-model=initial-exec", // thread-cache access without __tls_get_addr calls
  // C++'s std::bad_alloc (and a new-handler's exceptions) pass through operator new's C frames:
  // without it clang marks every C function nounwind, and with LTO a C++ caller of operator new
  // then has no landing pad (std::terminate instead of its catch)
  "-fexceptions",
  // The allocator implements these: the compiler must not fold or elide its own calls to them.
  "-fno-builtin-malloc",
  "-fno-builtin-calloc",
  "-fno-builtin-realloc",
  "-fno-builtin-free",
  "-D_GNU_SOURCE",
  "-Icore/include",
  "-Icore/src",
];

/** Optimisation and checking per flavour. */
export const FLAVOUR_FLAGS: Record<Flavour, readonly string[]> = {
  // release: what programs get. Optimised, asserts off, and explicitly no UBSan: an allocator
  // sitting under every malloc must not carry sanitizer checks or traps (zig cc would otherwise
  // add trapping UBSan in some modes).
  // Frame pointers off: the fast paths are a handful of instructions each.
  release: ["-O2", "-DNDEBUG", "-fno-sanitize=all", "-fomit-frame-pointer"],
  // debug: HAK_DEBUG consistency checks plus trapping UBSan (-fsanitize-trap): undefined behaviour
  // stops the process at once with SIGILL instead of needing the ubsan runtime, which an allocator
  // cannot depend on (the runtime itself allocates). Fail fast, by design.
  debug: ["-O1", "-g", "-DHAK_DEBUG=1", "-fsanitize=undefined", "-fsanitize-trap=undefined"],
};

/** -target and -mcpu: the glibc-2.17 triple and the architecture's baseline CPU. */
function targetFlags(t: TargetInfo): string[] {
  return ["-target", t.zigTarget, `-mcpu=${t.mcpu}`];
}

/** Full zig cc flag list used to compile each library object of `target`/`flavour`. */
export function compileFlags(target: TargetName, flavour: Flavour): string[] {
  const t = targetInfo(target);
  return [...targetFlags(t), ...COMMON_FLAGS, ...t.defines, ...FLAVOUR_FLAGS[flavour]];
}

/** zig cc flags used to link libhakmem.so (objects and output come after). */
export function sharedLinkFlags(target: TargetName, flavour: Flavour): string[] {
  const t = targetInfo(target);
  return [
    ...targetFlags(t),
    ...FLAVOUR_FLAGS[flavour].filter((f) => !f.startsWith("-D")),
    ...SHARED_LINK_FLAGS,
    ...LINK_LIBS,
  ];
}

/** What libhakmem needs besides libc, on the glibc 2.17 floor: threads, and dlsym (its C++
 * operators find the program's C++ runtime when an allocation fails); in libc from glibc 2.34. */
export const LINK_LIBS: readonly string[] = ["-lpthread", "-ldl"];

/** How libhakmem.so is linked, whatever the compiler. */
export const SHARED_LINK_FLAGS: readonly string[] = [
  "-shared",
  "-Wl,-soname,libhakmem.so",
  "-Wl,-z,now", // resolve everything at load: no lazy PLT fix-ups inside malloc
  "-Wl,-z,relro",
  "-Wl,-z,defs", // an undefined symbol is a link error, not a load-time surprise
  // Never unloaded: threads keep a pthread-key destructor and blocks point into its memory,
  // so a dlclose() (Deno's lib.close()) must not unmap the code.
  "-Wl,-z,nodelete",
  // Calls from malloc() to hak_malloc() bind inside the library, not through the PLT.
  "-Wl,-Bsymbolic",
];

export interface LibraryFiles {
  dir: string;
  so: string;
  a: string;
  header: string;
}

/** The files a built library consists of, under dist/<target>/<flavour>/ (or under another
 * root: dist/cc/<compiler>, tasks/build/cc.ts). */
export function libraryFiles(target: TargetName, flavour: Flavour, root?: string): LibraryFiles {
  const dir = root === undefined ? distDir(target, flavour) : join(root, target, flavour);
  return {
    dir,
    so: join(dir, "libhakmem.so"),
    a: join(dir, "libhakmem.a"),
    header: join(dir, "include", "hakmem.h"),
  };
}

// ---------------------------------------------------------------------------------------------
// small helpers

/** Compiler processes run at most one per core (all builds of this process share it). */
export const jobs = pLimit(Math.max(1, navigator.hardwareConcurrency || 2));

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** True when `out` exists and its stamp file (default `<out>.stamp`) holds `stamp`. */
export async function upToDate(
  out: string,
  stamp: string,
  stampFile = `${out}.stamp`,
): Promise<boolean> {
  return (await readText(stampFile)) === stamp && (await exists(out));
}

/**
 * Compiles `src` into `obj` with `compile` unless `obj` is up to date: its `.stamp` holds the hash
 * of the compiler version, the flags, the headers' hash and the source's content. Returns the
 * stamp.
 */
export async function compileIncremental(
  src: string,
  obj: string,
  key: { version: string; flags: readonly string[]; hdrs: string },
  compile: () => Promise<void>,
): Promise<string> {
  const stampFile = `${obj}.stamp`;
  const { version, flags, hdrs } = key;
  const stamp = sha256(
    JSON.stringify({ version, flags, hdrs, src: sha256(await Deno.readFile(src)) }),
  );
  if (await upToDate(obj, stamp, stampFile)) return stamp;
  await removeIfExists(stampFile);
  await compile();
  await Deno.writeTextFile(stampFile, stamp);
  return stamp;
}

/**
 * The files a program built from `sources` depends on besides the compiler and flags: the
 * sources, every header next to them, and the headers those include by a relative
 * `#include "…"` path (e.g. a header shared with another test folder), transitively.
 */
export async function programInputs(sources: readonly string[]): Promise<string[]> {
  const inputs = [...sources];
  for (const d of [...new Set(sources.map((s) => dirname(s)))]) {
    inputs.push(...(await listFiles(d, (n) => n.endsWith(".h"))));
  }
  const seen = new Set(inputs);
  for (let i = 0; i < inputs.length; i++) {
    const text = await readText(inputs[i]);
    if (text === null) continue;
    for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const p = join(dirname(inputs[i]), m[1]);
      if (!seen.has(p) && (await exists(p))) {
        seen.add(p);
        inputs.push(p);
      }
    }
  }
  return inputs;
}

export async function listFiles(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && keep(e.name)) out.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** Writes `data` to `p` through a temporary file and a rename, so readers never see half. */
export async function writeAtomic(p: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(p), { recursive: true });
  const tmp = `${p}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  if (typeof data === "string") await Deno.writeTextFile(tmp, data);
  else await Deno.writeFile(tmp, data);
  await Deno.rename(tmp, p);
}

/** Runs zig with its caches under .cache/; throws with the output on failure. */
async function zig(args: string[]): Promise<string> {
  const bin = await zigPath();
  return await jobs(async () => {
    const res = await run(bin, args, { env: zigEnv() });
    const out = (res.stderr + res.stdout).trim();
    if (res.code !== 0) {
      throw new Error(`zig ${args.join(" ")}\n${endText(res)}${out ? `:\n${out}` : ""}`);
    }
    return out;
  });
}

function rel(p: string): string {
  return relative(ROOT, p) || ".";
}

// ---------------------------------------------------------------------------------------------
// the library

/** Content hash of every core header (anything in core/src/<layer>/ or core/include that is not
 * .c). */
export async function headersHash(): Promise<string> {
  const headers = [
    ...(await coreFiles((n) => !n.endsWith(".c"))),
    ...(await listFiles(CORE_INCLUDE, () => true)),
  ];
  const h = createHash("sha256");
  for (const p of headers) h.update(`${rel(p)}\0`).update(await Deno.readFile(p)).update("\0");
  return h.digest("hex");
}

function log(target: string, flavour: string, msg: string) {
  console.error(`[${target}/${flavour}] ${msg}`);
}

/** Checks the linked .so: machine, glibc floor (unless `floor` is false: a build against this
 * machine's glibc), and (aarch64) no LSE atomics. Returns the newest glibc version it needs. */
export async function verifySharedLibrary(
  t: TargetInfo,
  so: string,
  floor = true,
): Promise<string | null> {
  const elf = await readElf(so);
  const wantMachine = t.arch === "aarch64" ? EM_AARCH64 : EM_X86_64;
  if (elf.machine !== wantMachine) {
    throw new Error(`${rel(so)}: ELF machine ${elf.machine}, expected ${wantMachine}`);
  }
  const versions = await requiredGlibcVersions(so);
  const tooNew = versions.filter((v) => {
    const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v);
    return m !== null && compareVersions(m[1], GLIBC_FLOOR) > 0;
  });
  if (floor && tooNew.length > 0) {
    throw new Error(
      `${rel(so)} requires ${tooNew.join(", ")}, newer than the glibc floor ${GLIBC_FLOOR}`,
    );
  }
  if (t.arch === "aarch64") {
    const hits = await aarch64LseInstructions(so);
    if (hits.length > 0) {
      const shown = hits.slice(0, 5).map((h) =>
        `0x${h.addr.toString(16)}: ${h.word.toString(16).padStart(8, "0")} in ${h.func ?? "?"}`
      );
      throw new Error(
        `${rel(so)} contains ${hits.length} ARMv8.1 LSE atomic instruction(s) outside the ` +
          `outline-atomics helpers (ARMv8.0 baseline violated):\n  ${shown.join("\n  ")}`,
      );
    }
  }
  if ((await exportedSymbols(so)).length === 0) {
    throw new Error(`${rel(so)} exports no symbols`);
  }
  return maxGlibcVersion(versions);
}

async function buildCombo(target: TargetName, flavour: Flavour): Promise<void> {
  const t = targetInfo(target);
  const sources = await coreSources();
  if (sources.length === 0) throw new Error("no C sources in core/src/<layer>/");
  const version = await zigVersion();
  const flags = compileFlags(target, flavour);
  const objDir = join(buildDir(target, flavour), "obj");
  await Deno.mkdir(objDir, { recursive: true });
  // The flag set in readable form; its content is also part of each object's stamp hash.
  const flagsFile = join(buildDir(target, flavour), "flags.json");
  const flagsText = JSON.stringify({ zig: version, compile: flags }, null, 2) + "\n";
  if ((await readText(flagsFile)) !== flagsText) await writeAtomic(flagsFile, flagsText);

  const hdrs = await headersHash();
  const objects = await Promise.all(sources.map(async (src) => {
    const obj = join(objDir, objectName(src));
    const stamp = await compileIncremental(src, obj, { version, flags, hdrs }, async () => {
      log(target, flavour, `cc ${rel(src)}`);
      const warnings = await zig(["cc", ...flags, "-c", rel(src), "-o", obj]);
      if (warnings) console.error(warnings);
    });
    return { obj, stamp };
  }));

  const files = libraryFiles(target, flavour);
  const soFlags = sharedLinkFlags(target, flavour);
  const linkStampFile = join(buildDir(target, flavour), "link.stamp");
  const linkStamp = sha256(JSON.stringify({
    version,
    soFlags,
    objects: objects.map((o) => [basename(o.obj), o.stamp]),
    header: sha256(await Deno.readFile(PUBLIC_HEADER)),
  }));
  const outputsThere = (await exists(files.so)) && (await exists(files.a)) &&
    (await exists(files.header));
  if (outputsThere && (await readText(linkStampFile)) === linkStamp) {
    log(target, flavour, "up to date");
    return;
  }
  await removeIfExists(linkStampFile);
  await Deno.mkdir(dirname(files.header), { recursive: true });
  const objs = objects.map((o) => o.obj);

  // Unlink before writing: a process that has the old .so mapped keeps its copy intact.
  await removeIfExists(files.a);
  await zig(["ar", "rcs", files.a, ...objs]);
  await removeIfExists(files.so);
  log(target, flavour, `link ${rel(files.so)}`);
  const linkOut = await zig(["cc", ...soFlags, "-o", files.so, ...objs]);
  if (linkOut) console.error(linkOut);
  await writeAtomic(files.header, await Deno.readFile(PUBLIC_HEADER));

  const maxGlibc = await verifySharedLibrary(t, files.so);
  log(
    target,
    flavour,
    `ok: needs glibc ${maxGlibc ?? "(no versioned symbols)"} <= floor ${GLIBC_FLOOR}` +
      (t.arch === "aarch64" ? ", no LSE atomics" : ""),
  );
  await Deno.writeTextFile(linkStampFile, linkStamp);
}

// ---------------------------------------------------------------------------------------------
// manifest

interface ManifestArtifact {
  target: TargetName;
  flavour: Flavour;
  kind: "shared" | "static" | "header";
  file: string;
  zigVersion: string;
  flags: string[];
  linkFlags?: string[];
  glibc?: { floor: string; maxRequired: string | null; required: string[] };
  exportedSymbols?: number;
  size: number;
  sha256: string;
}

/** A release tarball written by `deno task dist` (tasks/dist/dist.ts). */
export interface ManifestTarball {
  /** Path under dist/. */
  file: string;
  target: TargetName;
  version: string;
  size: number;
  sha256: string;
}

interface Manifest {
  schema: 1;
  generatedAt: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  zigVersion: string;
  glibcFloor: string;
  artifacts: ManifestArtifact[];
  /** Only in the manifest `deno task dist` writes: a later build may no longer match them. */
  tarballs?: ManifestTarball[];
}

export async function gitInfo(): Promise<{ commit: string | null; dirty: boolean | null }> {
  try {
    const head = await run("git", ["rev-parse", "HEAD"]);
    const commit = head.code === 0 ? head.stdout.trim() : null;
    const st = await run("git", ["status", "--porcelain"]);
    return { commit, dirty: st.code === 0 ? st.stdout.trim() !== "" : null };
  } catch (e) {
    if (!(e instanceof CannotRun)) throw e;
    return { commit: null, dirty: null }; // no git here: the manifest says unknown
  }
}

async function artifactOf(
  target: TargetName,
  flavour: Flavour,
  kind: ManifestArtifact["kind"],
  path: string,
  version: string,
): Promise<ManifestArtifact> {
  const bytes = await Deno.readFile(path);
  const a: ManifestArtifact = {
    target,
    flavour,
    kind,
    file: relative(join(ROOT, "dist"), path),
    zigVersion: version,
    flags: kind === "header" ? [] : compileFlags(target, flavour),
    size: bytes.length,
    sha256: sha256(bytes),
  };
  if (kind === "shared") {
    const required = await requiredGlibcVersions(path);
    a.linkFlags = sharedLinkFlags(target, flavour);
    a.glibc = { floor: GLIBC_FLOOR, maxRequired: maxGlibcVersion(required), required };
    a.exportedSymbols = (await exportedSymbols(path)).length;
  } else if (kind === "static") {
    // Relocatable objects carry no symbol versions; the floor is that of the -target triple.
    a.glibc = { floor: GLIBC_FLOOR, maxRequired: null, required: [] };
  }
  return a;
}

/** Rewrites dist/manifest.json from whatever libraries are present in dist/, plus the tarballs
 * `deno task dist` made from them when given. */
export async function writeManifest(tarballs?: ManifestTarball[]): Promise<string> {
  const version = await zigVersion();
  const artifacts: ManifestArtifact[] = [];
  for (const t of TARGETS) {
    for (const f of FLAVOURS) {
      const files = libraryFiles(t.name, f);
      // Only libraries whose link completed (stamp present) are described.
      if (!(await exists(join(buildDir(t.name, f), "link.stamp")))) continue;
      for (
        const [kind, p] of [["shared", files.so], ["static", files.a], [
          "header",
          files.header,
        ]] as const
      ) {
        if (await exists(p)) artifacts.push(await artifactOf(t.name, f, kind, p, version));
      }
    }
  }
  const git = await gitInfo();
  const manifest: Manifest = {
    schema: 1,
    generatedAt: new Date().toISOString(),
    gitCommit: git.commit,
    gitDirty: git.dirty,
    zigVersion: version,
    glibcFloor: GLIBC_FLOOR,
    artifacts,
    ...(tarballs ? { tarballs } : {}),
  };
  const path = join(ROOT, "dist", "manifest.json");
  await writeAtomic(path, JSON.stringify(manifest, null, 2) + "\n");
  return path;
}

// ---------------------------------------------------------------------------------------------
// public entry points

/** Builds (incrementally) dist/<target>/<flavour>/ and refreshes dist/manifest.json. */
export async function buildLibrary(target: TargetName, flavour: Flavour): Promise<void> {
  await buildCombo(target, flavour);
  await writeManifest();
}

/** dist/<target>/<flavour>'s library, built (incrementally) when it is missing. `deno task test`
 * builds everything first, so this only matters for a direct `deno test` or task on a fresh
 * tree. With $HAKMEM_TEST_DIST (another build's root, e.g. dist/cc/gcc:
 * tests/build/compilers.test.ts runs the contract tests so) the library there, which must exist. */
export async function ensureLibrary(target: TargetName, flavour: Flavour): Promise<LibraryFiles> {
  const other = Deno.env.get("HAKMEM_TEST_DIST");
  if (other !== undefined) {
    const files = libraryFiles(target, flavour, other);
    await Deno.stat(files.so);
    return files;
  }
  const files = libraryFiles(target, flavour);
  if (!(await exists(files.a)) || !(await exists(files.so))) await buildLibrary(target, flavour);
  return files;
}

export interface BuildAllOptions {
  targets?: readonly TargetName[];
  flavours?: readonly Flavour[];
  /** Remove build/ and dist/ of the selected combinations first. */
  clean?: boolean;
}

/** Builds every selected target × flavour (all by default), then writes dist/manifest.json. */
export async function buildAll(opts: BuildAllOptions = {}): Promise<void> {
  const targets = opts.targets ?? TARGETS.map((t) => t.name);
  const flavours = opts.flavours ?? FLAVOURS;
  const combos = targets.flatMap((t) => flavours.map((f) => [t, f] as const));
  if (opts.clean) {
    for (const [t, f] of combos) {
      await removeIfExists(buildDir(t, f));
      await removeIfExists(distDir(t, f));
    }
  }
  await zigPath(); // provision once, before the parallel builds
  const started = performance.now();
  // Combinations build concurrently; the shared job limiter keeps one zig process per core.
  const results = await Promise.allSettled(combos.map(([t, f]) => buildCombo(t, f)));
  await writeManifest();
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [`${combos[i][0]}/${combos[i][1]}: ${errText(r.reason)}`] : []
  );
  if (failed.length > 0) {
    throw new Error(`build failed for ${failed.length} of ${combos.length}:\n${failed.join("\n")}`);
  }
  console.error(
    `[build] ${combos.length} librar${combos.length === 1 ? "y" : "ies"} ready in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s; manifest: dist/manifest.json`,
  );
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface ExecutableOptions {
  target: TargetName;
  flavour: Flavour;
  /** C (or C++: .cc) sources (absolute, or relative to the repository root). */
  sources: string[];
  /** Output: absolute, or a name/relative path under build/<target>/<flavour>/bin/. */
  out: string;
  /** "static-hakmem" (default): link dist/<target>/<flavour>/libhakmem.a whole; "none": plain. */
  link?: "static-hakmem" | "none";
  extraFlags?: string[];
}

/**
 * Compiles and links a test program for `target` with zig cc (same -target/-mcpu as the library),
 * statically with libhakmem.a (every object, so constructors and the malloc family all come from
 * hakmem) and dynamically with glibc, plus -lpthread (and -ldl with hakmem). C++ sources (.cc)
 * are compiled as C++17 with zig c++ (its libc++, linked statically: libhakmem.a's operators new
 * and delete replace libc++'s). Debug flavour programs get -O1 -g. Returns the output path; does
 * nothing when the output is up to date with its sources, the headers next to them or included
 * by relative path (programInputs), the library and the flags.
 */
export async function buildExecutable(opts: ExecutableOptions): Promise<string> {
  const t = targetInfo(opts.target);
  const link = opts.link ?? "static-hakmem";
  const out = isAbsolute(opts.out)
    ? opts.out
    : join(buildDir(opts.target, opts.flavour), "bin", opts.out);
  const sources = opts.sources.map((s) => (isAbsolute(s) ? s : join(ROOT, s)));
  const files = libraryFiles(opts.target, opts.flavour);
  const cxx = sources.some((s) => s.endsWith(".cc"));
  const flags = [
    ...targetFlags(t),
    cxx ? "-std=c++17" : "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-D_GNU_SOURCE",
    ...(opts.flavour === "debug" ? ["-O1", "-g"] : ["-O2"]),
    "-fno-sanitize=all",
    `-I${dirname(files.header)}`,
    ...(opts.extraFlags ?? []),
  ];
  const libs = link === "static-hakmem"
    ? ["-Wl,--whole-archive", files.a, "-Wl,--no-whole-archive", ...LINK_LIBS]
    : ["-lpthread"];

  const h = createHash("sha256");
  h.update(JSON.stringify({ version: await zigVersion(), flags, libs, sources }));
  for (const p of await programInputs(sources)) h.update(p).update(await Deno.readFile(p));
  if (link === "static-hakmem") {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(files.a);
    } catch (e) {
      throw new Error(
        `${rel(files.a)} is missing: run \`deno task build --target ${opts.target} ` +
          `--flavour ${opts.flavour}\` first`,
        { cause: e },
      );
    }
    h.update(`${st.size}:${st.mtime?.getTime()}`);
  }
  const stamp = h.digest("hex");
  const stampFile = `${out}.stamp`;
  if (await upToDate(out, stamp, stampFile)) return out;

  await Deno.mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const msg = await zig([cxx ? "c++" : "cc", ...flags, ...sources, ...libs, "-o", tmp]);
    if (msg) console.error(msg);
    await Deno.rename(tmp, out);
  } finally {
    await removeIfExists(tmp);
  }
  await writeAtomic(stampFile, stamp);
  return out;
}
