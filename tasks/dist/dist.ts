// `deno task dist`: what a deployer takes. Builds the release flavour of each target, then writes
//   dist/hakmem-<version>-<target>.tar.gz   one per target, everything under one top folder
//                                            hakmem-<version>-<target>/ (TARBALL_FILES)
//   dist/bin/hakmem                          the launcher, picking dist/<target>/release/ by
//                                            `uname -m`
//   dist/SHA256SUMS                          the tarballs' checksums (`sha256sum -c SHA256SUMS`)
//   dist/manifest.json                       the build manifest plus "tarballs": file, target,
//                                            version, size, sha256
// Tarballs are reproducible: the same libraries, header and sources give the same bytes (entries
// sorted by name, mtime 0, owner and group 0 without names, fixed modes, plain ustar without
// extended headers, gzip without name or time; GNU tar and gzip).

import { versionOfHeader } from "./version.ts";
import { join, relative } from "node:path";
import {
  buildAll,
  compileFlags,
  gitInfo,
  libraryFiles,
  type ManifestTarball,
  sha256,
  sharedLinkFlags,
  writeAtomic,
  writeManifest,
} from "../build/build.ts";
import { optionsTable } from "../build/options.ts";
import {
  compareVersions,
  EM_AARCH64,
  EM_X86_64,
  maxGlibcVersion,
  readElf,
  requiredGlibcVersions,
} from "../build/elf.ts";
import { GLIBC_FLOOR, ROOT, targetInfo, type TargetName, TARGETS } from "../lib/targets.ts";
import { runChecked, runIfPresent } from "../lib/run.ts";
import { zigVersion } from "../lib/toolchain.ts";

const LAUNCHER_TEMPLATE = join(ROOT, "tasks", "dist", "launcher.sh");
const DIST = join(ROOT, "dist");
const FILE_MODE = 0o644;
const EXEC_MODE = 0o755;

/** Every file of a tarball, relative to its top folder, in the order tar stores them. */
export const TARBALL_FILES = [
  "README",
  "bin/hakmem",
  "include/hakmem.h",
  "lib/libhakmem.a",
  "lib/libhakmem.so",
  "lib/pkgconfig/hakmem.pc",
  "manifest.json",
] as const;

/** "1.0.0" from the HAKMEM_VERSION_MAJOR/MINOR/PATCH defines of a hakmem.h. */
async function headerVersion(header: string): Promise<string> {
  return versionOfHeader(await Deno.readTextFile(header), header);
}

/** The version of the headers `deno task dist` packs (copies of core/include/hakmem.h). */
function distVersion(target: TargetName): Promise<string> {
  return headerVersion(libraryFiles(target, "release").header);
}

/** The target the launcher preloads on each architecture: the first of that architecture in
 * TARGETS (x86_64-linux-gnu, whose PMU reader falls back at run time; aarch64-linux-gnu). */
function launcherTargets(): { arch: string; target: TargetName }[] {
  const out: { arch: string; target: TargetName }[] = [];
  for (const t of TARGETS) {
    if (!out.some((o) => o.arch === t.arch)) out.push({ arch: t.arch, target: t.name });
  }
  return out;
}

let modeList: Promise<string[]> | undefined;

/** HAKMEM_MODE's values, from the options table of the host's release library. */
function modes(): Promise<string[]> {
  modeList ??= optionsTable().then((t) => t.modes);
  modeList.catch(() => (modeList = undefined)); // not kept when it failed; the caller sees why
  return modeList;
}

/** tasks/dist/launcher.sh with its placeholders filled: the version, the modes (the options
 * table's) and the architecture=target pairs. */
async function launcherScript(version: string): Promise<string> {
  const fill: Record<string, string> = {
    "@VERSION@": version,
    "@MODES@": (await modes()).join(" "),
    "@TARGETS@": launcherTargets().map((p) => `${p.arch}=${p.target}`).join(" "),
  };
  let text = await Deno.readTextFile(LAUNCHER_TEMPLATE);
  for (const [k, v] of Object.entries(fill)) text = text.replaceAll(k, v);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`${LAUNCHER_TEMPLATE}: placeholder ${left[0]} has no value`);
  return text;
}

/** lib/pkgconfig/hakmem.pc: every path relative to the file itself, so the tree can live
 * anywhere. */
function pkgConfigFile(version: string, target: TargetName): string {
  return [
    "prefix=${pcfiledir}/../..",
    "exec_prefix=${prefix}",
    "libdir=${exec_prefix}/lib",
    "includedir=${prefix}/include",
    "",
    "Name: hakmem",
    `Description: hakmem, a learning malloc for Linux (${target})`,
    `Version: ${version}`,
    "Libs: -L${libdir} -lhakmem",
    "Libs.private: -lpthread -ldl",
    "Cflags: -I${includedir}",
    "",
  ].join("\n");
}

interface GlibcInfo {
  floor: string;
  maxRequired: string | null;
  required: string[];
}

function readme(
  version: string,
  target: TargetName,
  glibc: GlibcInfo,
  modeNames: readonly string[],
): string {
  const t = targetInfo(target);
  const title = `hakmem ${version} for ${target}`;
  return `${title}
${"=".repeat(title.length)}

hakmem is a learning malloc for Linux: a drop-in malloc, free, calloc, realloc,
posix_memalign, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size,
malloc_trim and C23's free_sized and free_aligned_sized, plus its own hak_* API;
mallinfo, mallinfo2, malloc_stats and malloc_info report hakmem's figures.

  target   ${target}: ${t.description}
  glibc    ${glibc.floor} or newer (symbol versions up to GLIBC_${glibc.maxRequired ?? "-"})
  DIR      below: this folder, hakmem-${version}-${target}, wherever it is

Contents
  bin/hakmem                launcher: runs a program with hakmem preloaded
  lib/libhakmem.so          shared library, for LD_PRELOAD or -lhakmem
  lib/libhakmem.a           static library (it defines malloc, free, ... itself)
  lib/pkgconfig/hakmem.pc   pkg-config file; its paths are relative to its own
                            folder, so DIR can be anywhere
  include/hakmem.h          public API: hak_malloc, hak_stats_json, ...
  manifest.json             version, target, glibc floor, zig version and flags,
                            and the mode, size and sha256 of every other file
  README                    this file

Preload (no rebuild)
  LD_PRELOAD=DIR/lib/libhakmem.so program args...
  DIR/bin/hakmem [--mode M] [--stats] [--stats-file F] [--] program args...

  The launcher finds lib/ beside its own folder, also through a symbolic link
  (ln -s DIR/bin/hakmem /usr/local/bin/hakmem), puts the library before any
  LD_PRELOAD value and execs the program: the exit status and signals are the
  program's. --mode M sets HAKMEM_MODE, one of: ${modeNames.join(" ")};
  --stats sets HAKMEM_STATS=1 (statistics on stderr at exit), --stats-file F
  sets HAKMEM_STATS_FILE (statistics as JSON at exit; %p in F becomes the pid).
  It exits 2 on a usage error, and 127 when this machine (uname -m) is not
  ${t.arch} or DIR holds a space or a colon (the dynamic loader splits
  LD_PRELOAD there).

Link
  export PKG_CONFIG_PATH=DIR/lib/pkgconfig
  cc app.c $(pkg-config --cflags --libs hakmem) -Wl,-rpath,DIR/lib
  (or LD_LIBRARY_PATH=DIR/lib instead of -rpath). libhakmem.so then comes
  before libc, so it serves the program's malloc; hakmem.h declares the hak_*
  API. Static, with the archive linked whole:
  cc app.c $(pkg-config --cflags hakmem) \\
     -Wl,--whole-archive DIR/lib/libhakmem.a -Wl,--no-whole-archive -lpthread -ldl

Check the files
  manifest.json lists the sha256 of every other file: compare with sha256sum.

Configuration
  Environment variables, read once at start: HAKMEM_MODE, HAKMEM_STATS,
  HAKMEM_STATS_FILE and the tuning knobs; a bad value prints one warning and
  the default is used. The full table is in the project README, section
  "Modes and environment variables".
`;
}

async function glibcOf(so: string, target: TargetName): Promise<GlibcInfo> {
  const t = targetInfo(target);
  const elf = await readElf(so);
  const machine = t.arch === "aarch64" ? EM_AARCH64 : EM_X86_64;
  if (elf.machine !== machine) {
    throw new Error(`${so}: ELF machine ${elf.machine}, expected ${machine} (${t.arch})`);
  }
  const required = await requiredGlibcVersions(so);
  const maxRequired = maxGlibcVersion(required);
  if (maxRequired !== null && compareVersions(maxRequired, GLIBC_FLOOR) > 0) {
    throw new Error(`${so} needs GLIBC_${maxRequired}, newer than the floor ${GLIBC_FLOOR}`);
  }
  return { floor: GLIBC_FLOOR, maxRequired, required };
}

/** Writes `data` into the staging tree with a fixed mode (the umask plays no part). */
async function put(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  await writeAtomic(path, data);
  await Deno.chmod(path, mode);
}

/** Sets every folder under `dir` (itself included) to mode 0755. */
async function fixDirModes(dir: string): Promise<void> {
  await Deno.chmod(dir, EXEC_MODE);
  for await (const e of Deno.readDir(dir)) if (e.isDirectory) await fixDirModes(join(dir, e.name));
}

/** Fails early, and clearly, without the GNU tar (sort, mtime, owner options) and gzip used. */
async function checkTools(): Promise<void> {
  const tar = await runIfPresent("tar", ["--version"]);
  if (tar?.code !== 0 || !tar.stdout.startsWith("tar (GNU tar)")) {
    throw new Error("deno task dist needs GNU tar 1.28 or newer (Debian package tar) as `tar`");
  }
  const gzip = await runIfPresent("gzip", ["--version"]);
  if (gzip?.code !== 0) throw new Error("deno task dist needs gzip (Debian package gzip)");
}

export interface Tarball extends ManifestTarball {
  /** Absolute path. */
  path: string;
}

/**
 * Packs the release build of `target` (dist/<target>/release/, already built) into
 * `<outDir>/hakmem-<version>-<target>.tar.gz`; returns its size and sha256.
 */
export async function packTarget(target: TargetName, outDir: string): Promise<Tarball> {
  const t = targetInfo(target);
  const lib = libraryFiles(target, "release");
  const version = await distVersion(target);
  const top = `hakmem-${version}-${target}`;
  await Deno.mkdir(join(ROOT, "build"), { recursive: true });
  const staging = await Deno.makeTempDir({ dir: join(ROOT, "build"), prefix: "dist-" });
  try {
    const root = join(staging, top);
    const glibc = await glibcOf(lib.so, target);
    const contents: Record<string, { data: string | Uint8Array; mode: number }> = {
      "README": { data: readme(version, target, glibc, await modes()), mode: FILE_MODE },
      "bin/hakmem": { data: await launcherScript(version), mode: EXEC_MODE },
      "include/hakmem.h": { data: await Deno.readFile(lib.header), mode: FILE_MODE },
      "lib/libhakmem.a": { data: await Deno.readFile(lib.a), mode: FILE_MODE },
      "lib/libhakmem.so": { data: await Deno.readFile(lib.so), mode: FILE_MODE },
      "lib/pkgconfig/hakmem.pc": { data: pkgConfigFile(version, target), mode: FILE_MODE },
    };
    const files = [];
    for (const [path, { data, mode }] of Object.entries(contents)) {
      await put(join(root, path), data, mode);
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      const octal = mode.toString(8).padStart(4, "0");
      files.push({ path, mode: octal, size: bytes.length, sha256: sha256(bytes) });
    }
    const git = await gitInfo();
    const manifest = {
      schema: 1,
      name: "hakmem",
      version,
      target,
      arch: t.arch,
      flavour: "release",
      description: t.description,
      glibc,
      zigVersion: await zigVersion(),
      zigTarget: t.zigTarget,
      flags: {
        compile: compileFlags(target, "release"),
        link: sharedLinkFlags(target, "release"),
      },
      gitCommit: git.commit,
      gitDirty: git.dirty,
      files,
    };
    await put(join(root, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n", FILE_MODE);
    await fixDirModes(root);

    const tar = join(staging, `${top}.tar`);
    await runChecked("tar", [
      "--create",
      `--file=${tar}`,
      "--format=ustar", // no pax or GNU extended headers
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      `--directory=${staging}`,
      top,
    ]);
    await runChecked("gzip", ["-n", "-9", tar]); // -n: no file name, no time stamp
    const bytes = await Deno.readFile(`${tar}.gz`);
    const path = join(outDir, `${top}.tar.gz`);
    await writeAtomic(path, bytes);
    await Deno.chmod(path, FILE_MODE);
    return {
      path,
      file: relative(outDir, path),
      target,
      version,
      size: bytes.length,
      sha256: sha256(bytes),
    };
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

export interface DistOptions {
  /** Default: every target. */
  targets?: readonly TargetName[];
}

/** `deno task dist`: builds the release flavour, packs each target, installs dist/bin/hakmem,
 * writes dist/SHA256SUMS and dist/manifest.json with the tarballs. */
export async function runDist(opts: DistOptions = {}): Promise<Tarball[]> {
  const targets = opts.targets ?? TARGETS.map((t) => t.name);
  await checkTools();
  await buildAll({ targets, flavours: ["release"] });
  const tarballs: Tarball[] = [];
  for (const target of targets) {
    const tb = await packTarget(target, DIST);
    console.error(`[dist] ${relative(ROOT, tb.path)}: ${tb.size} bytes, sha256 ${tb.sha256}`);
    tarballs.push(tb);
  }
  const launcher = join(DIST, "bin", "hakmem");
  await put(launcher, await launcherScript(await distVersion(targets[0])), EXEC_MODE);
  await writeAtomic(
    join(DIST, "SHA256SUMS"),
    tarballs.map((tb) => `${tb.sha256}  ${tb.file}\n`).join(""),
  );
  const manifest = await writeManifest(
    tarballs.map(({ file, target, version, size, sha256 }) => ({
      file,
      target,
      version,
      size,
      sha256,
    })),
  );
  console.error(
    `[dist] launcher ${relative(ROOT, launcher)}; checksums dist/SHA256SUMS; manifest ` +
      relative(ROOT, manifest),
  );
  return tarballs;
}
