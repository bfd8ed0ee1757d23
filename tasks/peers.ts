// The peer allocators of the bench: today's releases, built from the upstream C/C++ sources that
// the Rust package registry ships inside their -sys crates (pinned name, version and sha256), plus
// glibc and Debian's tcmalloc-minimal. Each source peer is built as a preloadable .so with zig,
// with the options of its upstream's own release build, for the same baseline CPU as libhakmem
// (x86_64, no -march=native) and against this machine's glibc; tasks/peers_build.ts caches it.
//
// A peer that cannot be fetched or built does not stop the run: resolvePeers() marks it
// unavailable with the reason, and the bench goes on without it.

import { join } from "node:path";
import { DEFAULT_BASELINE } from "./bench_stats.ts";
import { ensurePackages, installLine } from "./deps.ts";
import { type BuildContext, buildPeer, expectText, type PeerRecipe, step } from "./peers_build.ts";
import { runCommand, which } from "./toolchain.ts";

/** The peers, in the order the bench lists them. */
export const PEER_NAMES = [
  "mimalloc3",
  "mimalloc2",
  "jemalloc",
  "tcmalloc",
  "snmalloc",
  "rpmalloc",
] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** The report's baseline: ratios are given against it (and against glibc). */
export const BASELINE = DEFAULT_BASELINE;

/** What the bench knows of a peer once resolved. */
export interface ResolvedPeer {
  name: string;
  /** The .so to preload, or null when the peer is unavailable. */
  lib: string | null;
  version: string | null;
  /** Where it came from: the crate (name, version, sha256) or the Debian package. */
  source: string | null;
  /** How it was built (the flags), for source peers. */
  build: string | null;
  /** Why it is unavailable, or null. */
  note: string | null;
}

// ---------------------------------------------------------------------------------------------
// source peers

/** glibc of this machine ("2.36"): the floor of the peers' target triple. */
export async function glibcVersion(): Promise<string> {
  try {
    const lib = Deno.dlopen("libc.so.6", {
      gnu_get_libc_version: { parameters: [], result: "pointer" },
    });
    try {
      const p = lib.symbols.gnu_get_libc_version();
      if (p) return new Deno.UnsafePointerView(p).getCString();
    } finally {
      lib.close();
    }
  } catch {
    // no FFI permission or not glibc
  }
  const r = await runCommand("ldd", ["--version"]).catch(() => null);
  const m = r ? /(\d+\.\d+)\s*$/m.exec(r.stdout.split("\n")[0]) : null;
  return m ? m[1] : "2.28";
}

/** -target and -mcpu of every peer: libhakmem's baseline CPU, this machine's glibc. */
export function targetFlags(glibc: string): string[] {
  return ["-target", `x86_64-linux-gnu.${glibc.split(".").slice(0, 2).join(".")}`, "-mcpu=x86_64"];
}

/** The sources listed by `set(mi_sources …)` in mimalloc's CMakeLists.txt. */
async function mimallocSources(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(dir, "CMakeLists.txt"));
  const block = /set\(mi_sources([^)]*)\)/.exec(text);
  const srcs = block ? [...block[1].matchAll(/src\/[\w/.-]+\.c/g)].map((m) => m[0]) : [];
  if (srcs.length === 0) throw new Error(`no mi_sources in ${dir}/CMakeLists.txt`);
  return srcs;
}

/** mimalloc's CMake Release build of the shared library (MI_OVERRIDE on, MI_SECURE off). */
function mimalloc(major: 2 | 3, version: string, glibc: string): PeerRecipe {
  const sub = `c_src/mimalloc/v${major}`;
  const flags = [
    ...targetFlags(glibc),
    "-O3",
    "-DNDEBUG",
    "-fPIC",
    "-DMI_BUILD_RELEASE",
    "-DMI_CMAKE_BUILD_TYPE=release",
    "-DMI_SHARED_LIB",
    "-DMI_SHARED_LIB_EXPORT",
    "-DMI_MALLOC_OVERRIDE",
    "-Wall",
    "-Wextra",
    "-Wno-unknown-pragmas",
    "-fvisibility=hidden",
    "-Wstrict-prototypes",
    "-Wno-static-in-inline",
    "-ftls-model=initial-exec",
    "-fno-builtin-malloc",
    // zig turns __DATE__ into an error; mimalloc prints its build date in verbose mode
    "-Wno-error=date-time",
  ];
  const [maj, min, patch] = version.split(".").map(Number);
  const code = maj * 10000 + min * 100 + patch;
  return {
    name: `mimalloc${major}`,
    version,
    crate: {
      crate: "libmimalloc-sys",
      version: "0.1.49",
      sha256: "6a45a52f43e1c16f667ccfe4dd8c85b7f7c204fd5e3bf46c5b0db9a5c3c0b8e9",
    },
    key: { sub, flags },
    check: (src) =>
      expectText(src, `${sub}/include/mimalloc.h`, `#define MI_MALLOC_VERSION ${code}`),
    async build(c: BuildContext) {
      const dir = join(c.src, sub);
      const srcs = await mimallocSources(dir);
      const args = ["cc", ...flags, "-Iinclude", ...srcs, "-shared", "-lpthread", "-o", c.out];
      await step(c.zig, args, { cwd: dir, env: c.env }, `mimalloc ${version}`);
    },
  };
}

/** snmalloc's CMake "snmallocshim" (malloc.cc + new.cc as one shared object), Release. */
function snmalloc(glibc: string): PeerRecipe {
  const flags = [
    ...targetFlags(glibc),
    "-std=c++20",
    "-O3",
    "-DNDEBUG",
    "-fPIC",
    "-fno-rtti",
    "-fvisibility=hidden",
    "-fvisibility-inlines-hidden",
    '-DSNMALLOC_EXPORT=__attribute__((visibility("default")))',
    "-fomit-frame-pointer",
    "-mcx16",
    "-mprfchw",
    "-ftls-model=initial-exec",
    "-ffunction-sections",
    "-DSNMALLOC_USE_CXX11_THREAD_ATEXIT_DIRECT",
    "-DSNMALLOC_CHECK_LOADS=false",
    "-DSNMALLOC_PAGEID=false",
    "-DSNMALLOC_USE_WAIT_ON_ADDRESS=1",
    "-DSNMALLOC_PLATFORM_HAS_GETENTROPY",
    "-DSNMALLOC_PTHREAD_ATFORK_WORKS",
    "-DSNMALLOC_HAS_LINUX_RANDOM_H",
    "-DSNMALLOC_HAS_LINUX_FUTEX_H",
  ];
  const srcs = ["src/snmalloc/override/malloc.cc", "src/snmalloc/override/new.cc"];
  return {
    name: "snmalloc",
    version: "0.7.6",
    crate: {
      crate: "snmalloc-sys",
      version: "0.7.6",
      sha256: "f09c93c55f9a2b8dab75738a83c771231c5f408af65b8657433fe5bc93cc76cb",
    },
    key: { flags, srcs },
    async build(c: BuildContext) {
      // zig c++ links its libc++ statically, as upstream's -static-libstdc++
      const args = ["c++", ...flags, "-Isrc", ...srcs, "-shared", "-Wl,--no-undefined"];
      await step(c.zig, [...args, "-o", c.out], {
        cwd: join(c.src, "upstream"),
        env: c.env,
      }, "snmalloc");
    },
  };
}

/** rpmalloc's "rpmallocwrap" shared library (ENABLE_PRELOAD, ENABLE_OVERRIDE), release config
 * of its ninja generator (clang.py). */
function rpmalloc(glibc: string): PeerRecipe {
  const flags = [
    ...targetFlags(glibc),
    "-std=c11",
    "-O3",
    "-funroll-loops",
    "-DNDEBUG",
    "-fPIC",
    "-DRPMALLOC_COMPILE=1",
    "-DBUILD_RELEASE=1",
    "-DBUILD_DYNAMIC_LINK=1",
    "-D_GNU_SOURCE=1",
    "-DENABLE_PRELOAD=1",
    "-DENABLE_OVERRIDE=1",
    "-funit-at-a-time",
    "-fstrict-aliasing",
    "-fvisibility=hidden",
    "-fno-stack-protector",
    "-fomit-frame-pointer",
    "-ffast-math",
    // upstream builds with -Weverything -Werror for its own compiler; zig's clang is newer
    "-w",
  ];
  return {
    name: "rpmalloc",
    version: "1.4.3+b097fd0",
    crate: {
      crate: "rpmalloc-sys",
      version: "0.2.3+b097fd0",
      sha256: "8d4b7d5e225a53887ee57fcec492eaf114b8e290f7072d035adc6ddd6810b67b",
    },
    key: { flags },
    // the crate's commit comes after the CHANGELOG's last release
    check: (src) => expectText(src, "rpmalloc/CHANGELOG", /^1\.4\.3\s/),
    async build(c: BuildContext) {
      const args = ["cc", ...flags, "rpmalloc/rpmalloc.c", "-shared", "-lpthread", "-o", c.out];
      await step(c.zig, args, { cwd: join(c.src, "rpmalloc"), env: c.env }, "rpmalloc");
    },
  };
}

/** jemalloc 5.3.1 as its own build makes it: configure (the script tikv-jemalloc-sys ships, as
 * jemalloc's git tree has none) with CC = zig cc, then make of the shared library. Upstream
 * defaults (stats on, no prefix); C++ operators off (the programs are C). */
function jemalloc(glibc: string): PeerRecipe {
  const crateVersion = "0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8";
  const jeVersion = crateVersion.split("+")[1];
  const configure = [`--with-version=${jeVersion}`, "--disable-cxx", "--enable-doc=no"];
  return {
    name: "jemalloc",
    version: "5.3.1",
    crate: {
      crate: "tikv-jemalloc-sys",
      version: crateVersion,
      sha256: "1a2825c78386b4ae0314074867860ba9577875de945f05992c38815cbec327f0",
    },
    key: { configure, target: targetFlags(glibc) },
    check: (src) => expectText(src, "jemalloc/ChangeLog", "* 5.3.1"),
    async build(c: BuildContext) {
      await ensurePackages([{ deb: "make", why: "builds jemalloc", probe: "make" }]);
      const tree = join(c.work, "jemalloc");
      await step("cp", ["-R", join(c.src, "jemalloc"), tree], {}, "copy jemalloc");
      await step("cp", [join(c.src, "configure", "configure"), tree], {}, "copy configure");
      const env = {
        ...c.env,
        CC: [c.zig, "cc", ...targetFlags(glibc)].join(" "),
        AR: `${c.zig} ar`,
      };
      await step("sh", ["./configure", ...configure], { cwd: tree, env }, "jemalloc configure");
      const so = "lib/libjemalloc.so.2";
      await step("make", [`-j${c.cores}`, so], { cwd: tree, env }, "jemalloc make");
      await Deno.copyFile(join(tree, so), c.out);
    },
  };
}

/** The source peers' recipes for this machine's glibc. */
export function sourceRecipes(glibc: string): PeerRecipe[] {
  return [
    mimalloc(3, "3.3.2", glibc),
    mimalloc(2, "2.3.2", glibc),
    jemalloc(glibc),
    snmalloc(glibc),
    rpmalloc(glibc),
  ];
}

/** A recipe's pin and flags as the report shows them. */
function describe(r: PeerRecipe): { source: string; build: string } {
  const c = r.crate;
  return {
    source: `crate ${c.crate} ${c.version} (sha256 ${c.sha256})`,
    build: `zig; ${JSON.stringify(r.key)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// tcmalloc from Debian

const TCMALLOC = {
  deb: "libtcmalloc-minimal4",
  file: "libtcmalloc_minimal.so.4",
  dirs: ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"],
};

/** The installed version of a Debian package, or null. */
export async function debVersion(deb: string): Promise<string | null> {
  const r = await runCommand("dpkg-query", ["-W", "-f", "${Version}", deb]).catch(() => null);
  return r && r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

async function findTcmalloc(): Promise<string | null> {
  for (const dir of TCMALLOC.dirs) {
    const p = join(dir, TCMALLOC.file);
    if (await Deno.stat(p).then(() => true, () => false)) return p;
  }
  return null;
}

async function resolveTcmalloc(): Promise<ResolvedPeer> {
  let lib = await findTcmalloc();
  let why = "";
  if (lib === null && Deno.uid() === 0 && (await which("apt-get")) !== null) {
    try {
      await ensurePackages([{
        deb: TCMALLOC.deb,
        why: "peer allocator tcmalloc",
        probe: join(TCMALLOC.dirs[0], TCMALLOC.file),
      }]);
    } catch (e) {
      why = `: ${e instanceof Error ? e.message : String(e)}`;
    }
    lib = await findTcmalloc();
  }
  const version = lib ? await debVersion(TCMALLOC.deb) : null;
  const line = installLine([TCMALLOC.deb]);
  return {
    name: "tcmalloc",
    lib,
    version,
    source: `Debian package ${TCMALLOC.deb}${version ? ` ${version}` : ""}`,
    build: null,
    note: lib ? null : `${TCMALLOC.file} not found; install it with: ${line}${why}`,
  };
}

// ---------------------------------------------------------------------------------------------
// resolution

export interface ResolveOptions {
  /** The source recipes (default: sourceRecipes() for this machine). */
  recipes?: readonly PeerRecipe[];
  /** The cache (default .cache/peers). */
  cacheDir?: string;
  log?: (msg: string) => void;
}

/** Resolves the peers in `names`, one after the other: two zig processes filling a cold cache
 * for the same target at once can deadlock on its file locks (seen with mimalloc 2 and 3 on a
 * fresh clone), and each build keeps both cores busy anyway. Never throws for a peer that cannot
 * be had: it comes back with lib null and the reason in `note`. */
export async function resolvePeers(
  names: readonly string[],
  o: ResolveOptions = {},
): Promise<Map<string, ResolvedPeer>> {
  const all = o.recipes ?? sourceRecipes(await glibcVersion());
  const log = o.log ?? ((m: string) => console.error(m));
  const out = new Map<string, ResolvedPeer>();
  for (const name of names) {
    if (name === "tcmalloc") {
      out.set(name, await resolveTcmalloc());
      continue;
    }
    const r = all.find((x) => x.name === name);
    if (!r) throw new Error(`no recipe for peer ${name}`);
    const d = describe(r);
    try {
      log(`[peers] ${name} ${r.version}: ${r.crate.crate} ${r.crate.version}`);
      const built = await buildPeer(r, o.cacheDir);
      const how = built.cached ? "cached" : `built in ${built.seconds} s`;
      log(`[peers] ${name} ready: ${built.lib} (${how})`);
      out.set(name, { name, lib: built.lib, version: r.version, ...d, note: null });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log(`[peers] ${name} UNAVAILABLE: ${why}`);
      out.set(name, { name, lib: null, version: r.version, ...d, note: why });
    }
  }
  return out;
}

/** Under CI=true a peer that could not be had fails the run: the message saying so, or null. */
export function unavailableVerdict(
  allocators: readonly { name: string; available: boolean }[],
  ci: boolean,
): string | null {
  const missing = allocators.filter((a) => !a.available).map((a) => a.name);
  if (!ci || missing.length === 0) return null;
  return `CI=true: ${missing.length} peer(s) unavailable, which fails the run: ${
    missing.join(", ")
  }`;
}
