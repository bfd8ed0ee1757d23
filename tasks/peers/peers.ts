// The peer allocators of the bench: today's releases, built from the upstream C/C++ sources that
// the Rust package registry ships inside their -sys crates (pinned name, version and sha256), plus
// glibc and Debian's tcmalloc-minimal. Each source peer has two builds (tasks/peers/build.ts
// caches both):
//   upstream  as its users get it: its own build system (CMake Release, configure + make, or its
//             ninja generator) with the compiler that picks on Linux (Debian's gcc/g++ through
//             cc/c++; clang for rpmalloc's generator), at upstream's default options;
//   zig       the workbench's build, as libhakmem is built: zig cc for libhakmem's baseline CPU
//             (x86_64) against this machine's glibc, through the same build system where it
//             takes CC/CXX (rpmalloc: its release flags by hand).
// The bench uses the upstream build unless `--peer-parity` measured the zig build faster
// (chooseBuild); when the upstream build fails, the zig build stands in with the reason, which
// under CI=true fails the run.
//
// A peer that cannot be fetched or built at all does not stop the run: resolvePeers() marks it
// unavailable with the reason, and the bench goes on without it.

import { join } from "node:path";
import { DEFAULT_BASELINE, type PeerParity } from "../bench/stats.ts";
import { ensurePackages, installLine, type PackageNeed } from "../lib/deps.ts";
import { fmtRatio } from "../lib/format.ts";
import {
  type BuildContext,
  buildPeer,
  cmake,
  type CMakeBuild,
  compileLine,
  type CratePin,
  expectText,
  PEER_BUILDS,
  type PeerBuild,
  type PeerRecipe,
  step,
  systemCompiler,
} from "./build.ts";
import { runIfPresent } from "../lib/run.ts";
import { which } from "../lib/toolchain.ts";

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
  /** How the build in use was made (build system, compiler, flags), for source peers. */
  build: string | null;
  /** Why it is unavailable, or null. */
  note: string | null;
  /** Each build tried (source peers; empty for Debian's). */
  builds: PeerBuildInfo[];
  /** Which build the bench uses and why (source peers), or null. */
  choice: BuildChoice | null;
}

/** One build of a source peer: its library, or why there is none. */
export interface PeerBuildInfo {
  kind: PeerBuild;
  lib: string | null;
  compiler: string | null;
  /** The compile command the build ran. */
  flags: string | null;
  note: string | null;
}

/** The build the bench uses. `fallback`: the upstream build failed, the zig build stands in. */
export interface BuildChoice {
  kind: PeerBuild;
  why: string;
  fallback: boolean;
}

const firstLine = (s: string | null | undefined) => (s ?? "").split("\n")[0];

/** Which build of a peer the bench uses: the faster of the two when `parity` (the last
 * --peer-parity record) measured exactly these builds, else the upstream build (as users get it);
 * the zig build only stands in when the upstream build failed. Null when neither built. Pure. */
export function chooseBuild(
  builds: readonly PeerBuildInfo[],
  parity: PeerParity | null,
): BuildChoice | null {
  const up = builds.find((b) => b.kind === "upstream" && b.lib !== null);
  const zig = builds.find((b) => b.kind === "zig" && b.lib !== null);
  if (!up && !zig) return null;
  if (!up) {
    const failed = builds.find((b) => b.kind === "upstream");
    return {
      kind: "zig",
      fallback: true,
      why: `the upstream build failed (${firstLine(failed?.note) || "not built"}): the zig build ` +
        "stands in",
    };
  }
  const measured = parity && zig && parity.upstream.lib === up.lib && parity.zig.lib === zig.lib &&
    parity.geomean !== null;
  if (!measured) {
    return {
      kind: "upstream",
      fallback: false,
      why: "the upstream release build, as users get it" +
        (zig ? "; its parity with the zig build was not measured for these builds" : "") +
        " (deno task bench --peer-parity)",
    };
  }
  const g = parity.geomean!;
  const ids = parity.workloads.map((w) => w.id).join(", ");
  const faster: PeerBuild = g >= 1 ? "upstream" : "zig";
  return {
    kind: faster,
    fallback: false,
    why: `the faster build in the parity check of ${parity.measured.slice(0, 10)}: the upstream ` +
      `build ran at ${fmtRatio(g)} the zig build's speed (geomean over ${ids}, ` +
      `${parity.rounds} rounds)`,
  };
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
    // absence is fine: no FFI permission, or no glibc to dlopen; ldd answers below
  }
  const r = await runIfPresent("ldd", ["--version"]);
  const m = r ? /(\d+\.\d+)\s*$/m.exec(r.stdout.split("\n")[0]) : null;
  return m ? m[1] : "2.28";
}

/** -target and -mcpu of every peer: libhakmem's baseline CPU, this machine's glibc. */
export function targetFlags(glibc: string): string[] {
  return ["-target", `x86_64-linux-gnu.${glibc.split(".").slice(0, 2).join(".")}`, "-mcpu=x86_64"];
}

// ---------------------------------------------------------------------------------------------
// the build systems

/** The Debian packages of an upstream build: its build system and the compilers it picks. */
const CMAKE_PACKAGES: PackageNeed[] = [
  { deb: "cmake", why: "builds the peers with their own CMake", probe: "cmake" },
  { deb: "make", why: "CMake's default generator on Linux", probe: "make" },
  { deb: "gcc", why: "the C compiler (cc) the peers' builds pick", probe: "gcc" },
  { deb: "g++", why: "the C++ compiler (c++) the peers' builds pick", probe: "g++" },
  { deb: "libc6-dev", why: "headers for the peers' builds", probe: "/usr/include/stdio.h" },
];
const CONFIGURE_PACKAGES: PackageNeed[] = CMAKE_PACKAGES.filter((p) => p.deb !== "cmake");
const RPMALLOC_PACKAGES: PackageNeed[] = [
  { deb: "clang", why: "the compiler rpmalloc's build generator picks on Linux", probe: "clang" },
  { deb: "ninja-build", why: "runs rpmalloc's build", probe: "ninja" },
  { deb: "python3", why: "rpmalloc's configure.py", probe: "python3" },
];

/** The zig compiler of the zig builds, for build systems that take CC/CXX: zig cc with the
 * peers' target (libhakmem's baseline CPU, this machine's glibc). */
function zigCompilers(c: BuildContext, glibc: string): Record<string, string> {
  const t = targetFlags(glibc).join(" ");
  return { CC: `${c.zig} cc ${t}`, CXX: `${c.zig} c++ ${t}`, AR: `${c.zig} ar` };
}

// ---------------------------------------------------------------------------------------------
// source peers

const MIMALLOC_CRATE: CratePin = {
  crate: "libmimalloc-sys2",
  version: "0.1.65",
  sha256: "6c68ecbf07017a81a170a98fd1486d340dd304bc1099d2ca9aceff310fc42e9d",
};

/** mimalloc's CMake Release build of its shared library, upstream's defaults (MI_OVERRIDE on,
 * MI_SECURE off); tests, static library and object file off, which only skips those. */
function mimalloc(major: 2 | 3, version: string, glibc: string, kind: PeerBuild): PeerRecipe {
  const sub = major === 3 ? "c_src/mimalloc3" : "c_src/mimalloc";
  const build: CMakeBuild = {
    sub,
    options: ["-DMI_BUILD_TESTS=OFF", "-DMI_BUILD_STATIC=OFF", "-DMI_BUILD_OBJECT=OFF"],
    target: "mimalloc",
    main: "src/static.c",
  };
  const [maj, min, patch] = version.split(".").map(Number);
  const code = maj * 10000 + min * 100 + patch;
  return {
    name: `mimalloc${major}`,
    version,
    crate: MIMALLOC_CRATE,
    kind,
    key: { build, ...(kind === "zig" ? { target: targetFlags(glibc) } : {}) },
    packages: CMAKE_PACKAGES,
    compiler: kind === "upstream" ? () => systemCompiler("cc") : undefined,
    check: (src) =>
      expectText(src, `${sub}/include/mimalloc.h`, `#define MI_MALLOC_VERSION ${code}`),
    build: (c) => cmake(c, build, kind === "zig" ? zigCompilers(c, glibc) : {}),
  };
}

/** snmalloc's CMake "snmallocshim" target (malloc.cc + new.cc as one shared object), Release,
 * upstream's defaults; its test programs off. */
function snmalloc(glibc: string, kind: PeerBuild): PeerRecipe {
  const build: CMakeBuild = {
    sub: "upstream",
    options: ["-DSNMALLOC_BUILD_TESTING=OFF"],
    target: "snmallocshim",
    main: "src/snmalloc/override/malloc.cc",
  };
  return {
    name: "snmalloc",
    version: "0.7.6",
    crate: {
      crate: "snmalloc-sys",
      version: "0.7.6",
      sha256: "f09c93c55f9a2b8dab75738a83c771231c5f408af65b8657433fe5bc93cc76cb",
    },
    kind,
    key: { build, ...(kind === "zig" ? { target: targetFlags(glibc) } : {}) },
    packages: CMAKE_PACKAGES,
    compiler: kind === "upstream" ? () => systemCompiler("c++") : undefined,
    check: (src) => expectText(src, "Cargo.toml", 'version = "0.7.6"'),
    build: (c) => cmake(c, build, kind === "zig" ? zigCompilers(c, glibc) : {}),
  };
}

const RPMALLOC_VERSION = "1.4.3+b097fd0";
const RPMALLOC_CRATE: CratePin = {
  crate: "rpmalloc-sys",
  version: "0.2.3+b097fd0",
  sha256: "8d4b7d5e225a53887ee57fcec492eaf114b8e290f7072d035adc6ddd6810b67b",
};
// the crate's commit comes after the CHANGELOG's last release
const rpmallocCheck = (src: string) => expectText(src, "rpmalloc/CHANGELOG", /^1\.4\.3\s/);

/** rpmalloc's own build: its ninja generator (configure.py, release configuration), whose
 * toolchain on Linux is clang, and its "rpmallocwrap" shared library (ENABLE_PRELOAD,
 * ENABLE_OVERRIDE). */
function rpmallocUpstream(): PeerRecipe {
  const so = "bin/linux/release/x86-64/librpmallocwrap.so";
  return {
    name: "rpmalloc",
    version: RPMALLOC_VERSION,
    crate: RPMALLOC_CRATE,
    kind: "upstream",
    key: { configure: ["-c", "release", "-a", "x86-64"], target: so },
    packages: RPMALLOC_PACKAGES,
    compiler: () => systemCompiler("clang"),
    check: rpmallocCheck,
    async build(c: BuildContext) {
      // the generator writes into its tree: build in a copy
      const tree = join(c.work, "rpmalloc");
      await step("cp", ["-R", join(c.src, "rpmalloc"), tree], {}, "copy rpmalloc");
      const conf = ["configure.py", "-c", "release", "-a", "x86-64"];
      await step("python3", conf, { cwd: tree }, "rpmalloc configure.py");
      await step("ninja", [so], { cwd: tree }, "rpmalloc ninja");
      await Deno.copyFile(join(tree, so), c.out);
      const cmds = await step("ninja", ["-t", "commands", so], { cwd: tree }, "ninja -t");
      const line = cmds.split("\n").find((l) => / -c \S*rpmalloc\.c/.test(l));
      return line ? compileLine(line) : null;
    },
  };
}

/** rpmalloc built by zig, by hand: the flags of its generator's release configuration. */
function rpmallocZig(glibc: string): PeerRecipe {
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
    version: RPMALLOC_VERSION,
    crate: RPMALLOC_CRATE,
    kind: "zig",
    key: { flags },
    check: rpmallocCheck,
    async build(c: BuildContext) {
      const args = ["cc", ...flags, "rpmalloc/rpmalloc.c", "-shared", "-lpthread", "-o", c.out];
      await step(c.zig, args, { cwd: join(c.src, "rpmalloc"), env: c.env }, "rpmalloc");
      return `zig ${args.slice(0, -4).join(" ")}`;
    },
  };
}

/** jemalloc 5.3.1 as its own build makes it: configure (the script tikv-jemalloc-sys ships, as
 * jemalloc's git tree has none), then make of the shared library. The upstream build takes
 * configure's defaults with the compiler it finds (gcc); the zig build sets CC = zig cc and
 * leaves the C++ operators out. */
function jemalloc(glibc: string, kind: PeerBuild): PeerRecipe {
  const crateVersion = "0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8";
  const jeVersion = crateVersion.split("+")[1];
  const configure = kind === "zig"
    ? [`--with-version=${jeVersion}`, "--disable-cxx", "--enable-doc=no"]
    : [`--with-version=${jeVersion}`];
  return {
    name: "jemalloc",
    version: "5.3.1",
    crate: {
      crate: "tikv-jemalloc-sys",
      version: crateVersion,
      sha256: "1a2825c78386b4ae0314074867860ba9577875de945f05992c38815cbec327f0",
    },
    kind,
    key: { configure, ...(kind === "zig" ? { target: targetFlags(glibc) } : {}) },
    packages: CONFIGURE_PACKAGES,
    compiler: kind === "upstream" ? () => systemCompiler("gcc") : undefined,
    check: (src) => expectText(src, "jemalloc/ChangeLog", "* 5.3.1"),
    async build(c: BuildContext) {
      const tree = join(c.work, "jemalloc");
      await step("cp", ["-R", join(c.src, "jemalloc"), tree], {}, "copy jemalloc");
      await step("cp", [join(c.src, "configure", "configure"), tree], {}, "copy configure");
      const env = { ...c.env, ...(kind === "zig" ? zigCompilers(c, glibc) : {}) };
      await step("sh", ["./configure", ...configure], { cwd: tree, env }, "jemalloc configure");
      const so = "lib/libjemalloc.so.2";
      await step("make", [`-j${c.cores}`, so], { cwd: tree, env }, "jemalloc make");
      await Deno.copyFile(join(tree, so), c.out);
      // what make ran: CC, CPPFLAGS and CFLAGS as configure wrote them into the Makefile
      const mk = await Deno.readTextFile(join(tree, "Makefile"));
      const v = (k: string) => new RegExp(`^${k} :=(.*)$`, "m").exec(mk)?.[1].trim() ?? "";
      const vars = ["CC", "CPPFLAGS", "CONFIGURE_CFLAGS", "SPECIFIED_CFLAGS", "EXTRA_CFLAGS"];
      return compileLine(vars.map(v).join(" "));
    },
  };
}

/** The source peers' recipes for this machine's glibc: each peer's upstream build and its zig
 * build, in PEER_NAMES order. */
export function sourceRecipes(glibc: string): PeerRecipe[] {
  return PEER_BUILDS.flatMap((kind) => [
    mimalloc(3, "3.6.0", glibc, kind),
    mimalloc(2, "2.5.2", glibc, kind),
    jemalloc(glibc, kind),
    snmalloc(glibc, kind),
    kind === "upstream" ? rpmallocUpstream() : rpmallocZig(glibc),
  ]);
}

/** A recipe's pin as the report shows it. */
function sourceOf(r: PeerRecipe): string {
  const c = r.crate;
  return `crate ${c.crate} ${c.version} (sha256 ${c.sha256})`;
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
  const r = await runIfPresent("dpkg-query", ["-W", "-f", "${Version}", deb]);
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
    builds: [],
    choice: null,
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
  /** Build both ways even when the upstream build succeeds (--peer-parity). */
  both?: boolean;
  /** The last parity records, by peer (chooseBuild). */
  parity?: Record<string, PeerParity>;
}

/** One build of `r`, or its failure as a note; never throws. */
async function tryBuild(
  r: PeerRecipe,
  o: ResolveOptions,
  log: (m: string) => void,
): Promise<PeerBuildInfo> {
  const kind = r.kind ?? "zig";
  try {
    log(`[peers] ${r.name} ${r.version} (${kind} build): ${r.crate.crate} ${r.crate.version}`);
    const b = await buildPeer(r, o.cacheDir);
    log(`[peers] ${r.name} ${kind} ready: ${b.lib} (${b.cached ? "cached" : `${b.seconds} s`})`);
    return { kind, lib: b.lib, compiler: b.compiler, flags: b.flags, note: null };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    log(`[peers] ${r.name} ${kind} build FAILED: ${why}`);
    return { kind, lib: null, compiler: null, flags: null, note: why };
  }
}

/** How a build is described in the report: build system, compiler, compile command. */
export function buildText(b: PeerBuildInfo): string {
  return `${b.kind} build; ${b.compiler ?? "compiler unknown"}; ${b.flags ?? "flags unknown"}`;
}

/** Resolves the peers in `names`, one after the other: two zig processes filling a cold cache
 * for the same target at once can deadlock on its file locks (seen with mimalloc 2 and 3 on a
 * fresh clone), and each build keeps both cores busy anyway. A source peer's upstream build comes
 * first; its zig build too with `both`, when the upstream build failed, or when the parity record
 * says it is faster. Never throws for a peer that cannot be had: it comes back with lib null and
 * the reasons in `note`. */
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
    const mine = all.filter((x) => x.name === name);
    if (mine.length === 0) throw new Error(`no recipe for peer ${name}`);
    const of = (k: PeerBuild) => mine.find((x) => (x.kind ?? "zig") === k);
    const record = o.parity?.[name] ?? null;
    const builds: PeerBuildInfo[] = [];
    const up = of("upstream");
    if (up) builds.push(await tryBuild(up, o, log));
    const zig = of("zig");
    const upOk = builds.some((b) => b.lib !== null);
    const zigWanted = o.both || !upOk || (record?.faster === "zig" && record.upstream.lib ===
        builds[0]?.lib);
    if (zig && zigWanted) builds.push(await tryBuild(zig, o, log));
    const choice = chooseBuild(builds, record);
    const used = choice ? builds.find((b) => b.kind === choice.kind)! : null;
    const r = used ? mine.find((x) => (x.kind ?? "zig") === used.kind)! : mine[0];
    if (choice) log(`[peers] ${name}: the ${choice.kind} build is used: ${choice.why}`);
    out.set(name, {
      name,
      lib: used?.lib ?? null,
      version: r.version,
      source: sourceOf(r),
      build: used ? buildText(used) : null,
      note: used ? null : builds.map((b) => `${b.kind} build: ${b.note ?? "not built"}`).join("\n"),
      builds,
      choice,
    });
  }
  return out;
}

/** Under CI=true a peer that could not be had, or whose upstream build failed so that the zig
 * build stood in, fails the run: the message saying so, or null. */
export function unavailableVerdict(
  allocators: readonly {
    name: string;
    available: boolean;
    build_choice?: { fallback: boolean } | null;
  }[],
  ci: boolean,
): string | null {
  const missing = allocators.filter((a) => !a.available).map((a) => a.name);
  const fallback = allocators.filter((a) => a.available && a.build_choice?.fallback)
    .map((a) => a.name);
  if (!ci || missing.length + fallback.length === 0) return null;
  const parts = [
    ...(missing.length ? [`${missing.length} peer(s) unavailable: ${missing.join(", ")}`] : []),
    ...(fallback.length
      ? [`${fallback.length} peer(s) whose upstream build failed: ${fallback.join(", ")}`]
      : []),
  ];
  return `CI=true: ${parts.join("; ")}, which fails the run`;
}
