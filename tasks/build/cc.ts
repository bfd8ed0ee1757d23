// `deno task build --cc <compiler>`: libhakmem built the way a distribution packager builds it —
// with the system's gcc or clang (a name on PATH or a path), for the architecture that compiler
// targets, against this machine's glibc, with CPPFLAGS, CFLAGS and LDFLAGS taken from the
// environment after the project's own flags (so a packager's -O2, -fstack-protector-strong,
// -D_FORTIFY_SOURCE=2, -fcf-protection, -flto or -Wno-error win). Its own folders, so the zig build
// in dist/<target>/ stays as it is:
//   build/cc/<name>/<target>/<flavour>/obj/*.o   objects (+ .stamp, incremental like build.ts)
//   dist/cc/<name>/<target>/<flavour>/           libhakmem.so, libhakmem.a, include/hakmem.h,
//                                                build.json (compiler, flags, sizes, sha256)
// <name> is the compiler's file name (gcc, clang-19, aarch64-linux-gnu-gcc) unless given.

import { basename, dirname, join, relative } from "node:path";
import {
  COMMON_FLAGS,
  compileIncremental,
  FLAVOUR_FLAGS,
  headersHash,
  jobs,
  libraryFiles,
  LINK_LIBS,
  programInputs,
  sha256,
  SHARED_LINK_FLAGS,
  upToDate,
  verifySharedLibrary,
  writeAtomic,
} from "./build.ts";
import { CORE_INCLUDE, coreSources, objectName } from "./layers.ts";
import { ensurePackages } from "../lib/deps.ts";
import { requiredGlibcVersions } from "./elf.ts";
import { type Flavour, FLAVOURS, ROOT, targetInfo, type TargetName } from "../lib/targets.ts";
import { which } from "../lib/toolchain.ts";
import { run as runCommand, runChecked } from "../lib/run.ts";
import { exists } from "../lib/files.ts";

const PUBLIC_HEADER = join(CORE_INCLUDE, "hakmem.h");

/** The oldest compilers the core is tested with (asm goto with outputs needs gcc 11). */
export const MIN_MAJOR = { gcc: 11, clang: 14 } as const;

export interface Compiler {
  /** As given: "gcc", "clang-19", "/usr/bin/gcc-12". */
  spec: string;
  /** Absolute path. */
  path: string;
  kind: "gcc" | "clang";
  major: number;
  /** First line of `--version`. */
  version: string;
  /** The library it builds: the target of the architecture it compiles for. */
  target: TargetName;
  /** The archiver that understands its -flto objects (AR from the environment first). */
  ar: string;
}

/** The environment's build flags, split at blanks as make does. */
export interface EnvFlags {
  cppflags: string[];
  cflags: string[];
  ldflags: string[];
}

function split(v: string | undefined): string[] {
  return (v ?? "").split(/\s+/).filter((x) => x !== "");
}

/** CPPFLAGS, CFLAGS and LDFLAGS of this process's environment. */
export function envFlags(): EnvFlags {
  return {
    cppflags: split(Deno.env.get("CPPFLAGS")),
    cflags: split(Deno.env.get("CFLAGS")),
    ldflags: split(Deno.env.get("LDFLAGS")),
  };
}

async function executable(p: string): Promise<boolean> {
  try {
    const st = await Deno.stat(p);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The LLVM major version an llvm-ar reports, or null. */
async function llvmArMajor(ar: string): Promise<number | null> {
  const m = /LLVM version (\d+)/.exec((await runCommand(ar, ["--version"])).stdout);
  return m ? Number(m[1]) : null;
}

/** gcc's archiver wrapper next to it (gcc-12 → gcc-ar-12); clang's llvm-ar of its own LLVM
 * version (one of another version cannot read its -flto objects: LLVM 14's refuses LLVM 19's
 * bitcode), found next to the compiler, as llvm-ar-<major>, or where clang says; else ar. */
async function archiverOf(path: string, kind: Compiler["kind"], major: number): Promise<string> {
  const fromEnv = Deno.env.get("AR");
  if (fromEnv) return fromEnv;
  if (kind === "gcc") {
    const name = basename(path);
    const i = name.lastIndexOf("gcc");
    const sibling = join(dirname(path), `${name.slice(0, i)}gcc-ar${name.slice(i + 3)}`);
    if (i >= 0 && await executable(sibling)) return sibling;
  } else {
    const own = join(dirname(await Deno.realPath(path)), "llvm-ar");
    const versioned = await which(`llvm-ar-${major}`);
    const told = (await runCommand(path, ["-print-prog-name=llvm-ar"])).stdout.trim();
    for (const ar of [own, versioned, told]) {
      if (
        ar !== null && ar.startsWith("/") && await executable(ar) &&
        await llvmArMajor(ar) === major
      ) return ar;
    }
  }
  return "ar";
}

/** Finds and identifies a compiler; throws a message naming what is accepted. */
export async function resolveCompiler(spec: string): Promise<Compiler> {
  const path = spec.includes("/") ? spec : await which(spec);
  if (path === null || !(await executable(path))) {
    throw new Error(
      `--cc ${spec}: ${spec.includes("/") ? "no executable there" : "not found on PATH"} ` +
        `(give gcc, clang, a versioned name such as clang-19, or a path)`,
    );
  }
  const macros = await runChecked(path, ["-dM", "-E", "-x", "c", "/dev/null"]);
  const macro = (name: string) => new RegExp(`^#define ${name} (\\S+)$`, "m").exec(macros)?.[1];
  const kind = macro("__clang__") ? "clang" : macro("__GNUC__") ? "gcc" : null;
  if (kind === null) throw new Error(`--cc ${spec}: neither gcc nor clang (no __GNUC__ defined)`);
  const major = Number(macro(kind === "clang" ? "__clang_major__" : "__GNUC__"));
  if (!(major >= MIN_MAJOR[kind])) {
    throw new Error(
      `--cc ${spec}: ${kind} ${major} is older than the oldest tested ` +
        `(gcc ${MIN_MAJOR.gcc}, clang ${MIN_MAJOR.clang}: the fast paths use asm goto with outputs)`,
    );
  }
  const arch = macro("__x86_64__") ? "x86_64" : macro("__aarch64__") ? "aarch64" : null;
  if (arch === null) {
    const machine = (await runCommand(path, ["-dumpmachine"])).stdout.trim();
    throw new Error(`--cc ${spec}: compiles for ${machine}; hakmem targets x86_64 and aarch64`);
  }
  const version = (await runChecked(path, ["--version"])).split("\n")[0].trim();
  return {
    spec,
    path,
    kind,
    major,
    version,
    target: `${arch}-linux-gnu`,
    ar: await archiverOf(path, kind, major),
  };
}

/** The folder name of a compiler's build: its file name, made safe. */
export function compilerLabel(c: Pick<Compiler, "path">): string {
  return basename(c.path).replace(/[^A-Za-z0-9._+-]/g, "_");
}

/** dist/cc/<name>: the root under which <target>/<flavour>/libhakmem.so lies (what the tests
 * take as HAKMEM_TEST_DIST). */
export function ccDistRoot(name: string): string {
  return join(ROOT, "dist", "cc", name);
}

/** Optimisation and checking per flavour: the zig build's, but gcc spells UBSan's trap mode
 * its own way (-fsanitize-trap arrived only in gcc 14), and its UBSan goes without the null
 * check, which takes the thread pointer's load from %fs:0 (core/src/heap/heap.h) for a NULL
 * dereference (address 0 of any address space) and traps at the first allocation. */
export function ccFlavourFlags(kind: Compiler["kind"], flavour: Flavour): string[] {
  if (kind === "clang") return [...FLAVOUR_FLAGS[flavour]];
  return FLAVOUR_FLAGS[flavour].flatMap((f) =>
    f === "-fsanitize-trap=undefined"
      ? ["-fno-sanitize=null", "-fsanitize-undefined-trap-on-error"]
      : [f]
  );
}

/** Every flag of one object: the project's, the target's defines, the flavour's, then the
 * environment's. */
export function ccCompileFlags(c: Compiler, flavour: Flavour, env: EnvFlags): string[] {
  return [
    ...COMMON_FLAGS,
    ...targetInfo(c.target).defines,
    ...ccFlavourFlags(c.kind, flavour),
    ...env.cppflags,
    ...env.cflags,
  ];
}

/** The link of libhakmem.so: as the zig build links it, with CFLAGS (an -flto build optimises
 * at the link) and LDFLAGS; objects and libraries come after. */
export function ccLinkFlags(c: Compiler, flavour: Flavour, env: EnvFlags): string[] {
  return [
    ...ccFlavourFlags(c.kind, flavour).filter((f) => !f.startsWith("-D")),
    ...SHARED_LINK_FLAGS,
    ...env.cflags,
    ...env.ldflags,
  ];
}

export interface CcBuildOptions {
  /** The compiler as the user named it. */
  cc: string;
  flavours?: readonly Flavour[];
  /** Folder name under build/cc and dist/cc (default: the compiler's file name). */
  name?: string;
  /** Default: the process's environment. */
  env?: EnvFlags;
  log?: (line: string) => void;
}

export interface CcBuild {
  compiler: Compiler;
  name: string;
  /** dist/cc/<name> */
  distRoot: string;
  /** Per flavour: the shared library. */
  so: Record<string, string>;
}

async function runOrThrow(cmd: string, args: string[]): Promise<string> {
  return await jobs(async () => {
    const r = await runCommand(cmd, args);
    const out = (r.stderr + r.stdout).trim();
    if (r.code !== 0) {
      throw new Error(`${cmd} ${args.join(" ")}\nexit ${r.code}${out ? `:\n${out}` : ""}`);
    }
    return out;
  });
}

async function fileInfo(p: string) {
  const bytes = await Deno.readFile(p);
  return { file: relative(ROOT, p), size: bytes.length, sha256: sha256(bytes) };
}

async function buildFlavour(
  c: Compiler,
  name: string,
  flavour: Flavour,
  env: EnvFlags,
  log: (l: string) => void,
): Promise<string> {
  const tag = `[cc ${name}/${flavour}]`;
  const flags = ccCompileFlags(c, flavour, env);
  const objDir = join(ROOT, "build", "cc", name, c.target, flavour, "obj");
  await Deno.mkdir(objDir, { recursive: true });
  const hdrs = await headersHash();
  const version = `${c.path} ${c.version}`;
  const built = await Promise.all((await coreSources()).map(async (src) => {
    const obj = join(objDir, objectName(src));
    const stamp = await compileIncremental(src, obj, { version, flags, hdrs }, async () => {
      log(`${tag} cc ${relative(ROOT, src)}`);
      const out = await runOrThrow(c.path, [...flags, "-c", relative(ROOT, src), "-o", obj]);
      if (out) console.error(out);
    });
    return { obj, stamp };
  }));
  const objects = built.map((b) => b.obj);
  const { so, a, header } = libraryFiles(c.target, flavour, ccDistRoot(name));
  const link = ccLinkFlags(c, flavour, env);
  const linkStamp = sha256(JSON.stringify({
    version,
    link,
    ar: c.ar,
    objects: built.map((b) => [basename(b.obj), b.stamp]),
    header: sha256(await Deno.readFile(PUBLIC_HEADER)),
  }));
  const stampFile = join(dirname(objDir), "link.stamp");
  if (
    await upToDate(so, linkStamp, stampFile) && await exists(a) && await exists(header) &&
    await exists(join(dirname(so), "build.json"))
  ) {
    log(`${tag} up to date: ${relative(ROOT, so)}`);
    return so;
  }
  await Deno.remove(stampFile).catch(() => {});
  await Deno.mkdir(dirname(header), { recursive: true });
  // Unlink before writing: a process that has the old .so mapped keeps its copy intact.
  await Deno.remove(a).catch(() => {});
  await runOrThrow(c.ar, ["rcs", a, ...objects]);
  await Deno.remove(so).catch(() => {});
  log(`${tag} link ${relative(ROOT, so)}`);
  const out = await runOrThrow(c.path, [...link, "-o", so, ...objects, ...LINK_LIBS]);
  if (out) console.error(out);
  await writeAtomic(header, await Deno.readFile(PUBLIC_HEADER));
  const maxGlibc = await verifySharedLibrary(targetInfo(c.target), so, false);
  await writeAtomic(
    join(dirname(so), "build.json"),
    JSON.stringify(
      {
        compiler: { spec: c.spec, path: c.path, kind: c.kind, version: c.version, ar: c.ar },
        target: c.target,
        flavour,
        env: { CPPFLAGS: env.cppflags, CFLAGS: env.cflags, LDFLAGS: env.ldflags },
        compile: flags,
        link,
        shared: { ...(await fileInfo(so)), glibc: await requiredGlibcVersions(so) },
        static: await fileInfo(a),
      },
      null,
      2,
    ) + "\n",
  );
  await Deno.writeTextFile(stampFile, linkStamp);
  log(`${tag} ok: ${relative(ROOT, so)} (${c.version}; needs glibc ${maxGlibc ?? "-"})`);
  return so;
}

/** Builds the library of the compiler's target with it, every flavour asked for (default all). */
export async function buildWithCc(o: CcBuildOptions): Promise<CcBuild> {
  const compiler = await resolveCompiler(o.cc);
  const name = o.name ?? compilerLabel(compiler);
  const env = o.env ?? envFlags();
  const log = o.log ?? ((l: string) => console.error(l));
  const so: Record<string, string> = {};
  for (const f of o.flavours ?? FLAVOURS) so[f] = await buildFlavour(compiler, name, f, env, log);
  return { compiler, name, distRoot: ccDistRoot(name), so };
}

/** The system's C++ compiler, the Debian package that brings it. */
export const GXX = { deb: "g++", why: "builds the C++ programs (tests, bench)", probe: "g++" };

/**
 * Builds a C++ program with the system's g++ (installed when missing), C++17 -O2 -Werror, as the
 * C++ programs users preload an allocator into are built: libstdc++ shared, so a preloaded
 * library's operators new and delete replace its. `libs` come after the sources. Does nothing
 * when `out` is up to date with the compiler, the flags, the sources and the headers next to them.
 */
export async function buildGxxProgram(
  sources: readonly string[],
  out: string,
  flags: readonly string[] = [],
  libs: readonly string[] = [],
): Promise<string> {
  await ensurePackages([GXX]);
  const args = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", ...flags, ...sources, ...libs];
  const version = (await runChecked("g++", ["--version"])).split("\n")[0];
  const parts = [version, JSON.stringify(args)];
  for (const p of await programInputs(sources)) parts.push(p, sha256(await Deno.readFile(p)));
  const stamp = sha256(parts.join("\n"));
  if (await upToDate(out, stamp)) return out;
  await Deno.mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${Deno.pid}`;
  const r = await runCommand("g++", [...args, "-o", tmp]);
  if (r.code !== 0) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`g++ ${[...args, "-o", out].join(" ")} failed:\n${r.stderr}`);
  }
  await Deno.rename(tmp, out);
  await writeAtomic(`${out}.stamp`, stamp);
  return out;
}
