// How a source-built peer allocator gets from the Rust package registry to a preloadable .so:
//
//   .cache/peers/crates/<crate>-<version>.crate   the archive, kept once its sha256 matched the pin
//   .cache/peers/src/<crate>-<version>/           the archive unpacked (tar)
//   .cache/peers/<peer>-<version>-<build>-<key>/  lib<peer>.so and build.json; <build> is
//                                                 "upstream" (the peer's own release build, with
//                                                 the compiler it picks) or "zig"; <key> hashes
//                                                 everything the build depends on (sources' pin,
//                                                 options, the compiler's version), so a change
//                                                 rebuilds
//
// The recipes themselves (build systems, options) live in tasks/peers/peers.ts; the helpers that
// drive the peers' own build systems (CMake, the compile command they ran, the system compiler's
// version) are at the end of this file. Every failure is an
// Error whose message says what to do; the caller falls back or marks the peer unavailable.

import { basename, join } from "node:path";
import { sha256 } from "../build/build.ts";
import { exists, readTextIfPresent, removeIfPresent } from "../lib/files.ts";
import { ROOT } from "../lib/targets.ts";
import { run } from "../lib/run.ts";
import { ensurePackages, type PackageNeed } from "../lib/deps.ts";
import { which, zigEnv, zigPath, zigVersion } from "../lib/toolchain.ts";
import { jsonOrUndefined, parseAs, parseJson, z } from "../lib/schema.ts";

export const PEERS_CACHE = join(ROOT, ".cache", "peers");
const CRATES_URL = "https://static.crates.io/crates";
/** A download or a build step taking longer than this is a failure. */
const FETCH_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 900_000;

/** A crate of the Rust package registry, pinned. */
export interface CratePin {
  crate: string;
  version: string;
  sha256: string;
}

/** Where a pinned crate is downloaded from. */
export function crateUrl(p: CratePin): string {
  return `${CRATES_URL}/${p.crate}/${p.crate}-${encodeURIComponent(p.version)}.crate`;
}

/** Throws unless `bytes` hash to the pinned sha256. */
export function verifyCrate(p: CratePin, bytes: Uint8Array, from: string): void {
  const got = sha256(bytes);
  if (got !== p.sha256) {
    throw new Error(
      `${p.crate} ${p.version} from ${from}: sha256 ${got}, expected ${p.sha256} ` +
        "(pinned in tasks/peers/peers.ts); the archive was not used",
    );
  }
}

function tmpName(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tmpName(path);
  await (typeof data === "string" ? Deno.writeTextFile(tmp, data) : Deno.writeFile(tmp, data));
  await Deno.rename(tmp, path);
}

/** The .crate archive of `p`, downloaded when it is not cached yet, its sha256 checked. */
export async function fetchCrate(p: CratePin, cacheDir = PEERS_CACHE): Promise<string> {
  const dir = join(cacheDir, "crates");
  const file = join(dir, `${p.crate}-${p.version}.crate`);
  if (await exists(file)) {
    verifyCrate(p, await Deno.readFile(file), file);
    return file;
  }
  await Deno.mkdir(dir, { recursive: true });
  const url = crateUrl(p);
  let bytes: Uint8Array;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new Error(`cannot download ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  verifyCrate(p, bytes, url);
  await writeFileAtomic(file, bytes);
  return file;
}

/** Unpacks in progress, by destination and pin: two peers of one crate (mimalloc 2 and 3) share
 * one. */
const unpacking = new Map<string, Promise<string>>();

/** The unpacked sources of `p` (fetched and checked first); returns the crate's top folder. */
export function crateSources(p: CratePin, cacheDir = PEERS_CACHE): Promise<string> {
  const dest = join(cacheDir, "src", `${p.crate}-${p.version}`);
  const key = `${dest} ${p.sha256}`;
  let job = unpacking.get(key);
  if (!job) {
    job = unpack(p, dest, cacheDir).finally(() => unpacking.delete(key));
    unpacking.set(key, job);
  }
  return job;
}

async function unpack(p: CratePin, dest: string, cacheDir: string): Promise<string> {
  const archive = await fetchCrate(p, cacheDir);
  const done = join(dest, ".unpacked");
  if ((await readTextIfPresent(done)) === p.sha256) return dest;
  const tmp = tmpName(dest);
  await Deno.mkdir(tmp, { recursive: true });
  // a .crate is a gzipped tar holding one folder <crate>-<version>/
  await step("tar", ["-xzf", archive, "-C", tmp, "--strip-components=1"], {}, "unpack");
  await Deno.writeTextFile(join(tmp, ".unpacked"), p.sha256);
  await removeIfPresent(dest);
  await Deno.rename(tmp, dest);
  return dest;
}

/** Runs one build step; throws with the tail of its output when it fails. */
export async function step(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: Record<string, string> },
  what: string,
): Promise<string> {
  const r = await run(cmd, args, { ...o, timeoutMs: STEP_TIMEOUT_MS });
  if (r.code !== 0) {
    const out = (r.stderr + r.stdout).trim().split("\n").slice(-15).join("\n");
    const how = r.timedOut ? "timed out" : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    throw new Error(`${what} failed (${how}): ${cmd} ${args.join(" ")}\n${out}`);
  }
  return r.stdout;
}

/** The two ways a source peer is built: its upstream's own release build (its build system, the
 * compiler that picks on Linux), or the workbench's zig build (as libhakmem is built). */
export const PEER_BUILDS = ["upstream", "zig"] as const;
export type PeerBuild = (typeof PEER_BUILDS)[number];

/** What a recipe gets: the unpacked crate, the folder to build in and zig. */
export interface BuildContext {
  src: string;
  /** An empty folder of the build, inside the cache entry. */
  work: string;
  /** Where the recipe leaves the library. */
  out: string;
  zig: string;
  /** zig's cache variables (and nothing else). */
  env: Record<string, string>;
  cores: number;
}

/** A build of a source peer: its pin, what its cache key covers, and how to build. */
export interface PeerRecipe {
  name: string;
  version: string;
  crate: CratePin;
  /** Which of the two builds this is (default "zig"). */
  kind?: PeerBuild;
  /** Everything besides the pin and the compiler that decides the output (options, folder). */
  key: unknown;
  /** The compiler's name and version ("gcc (Debian 12.2.0-14) 12.2.0"); part of the cache key.
   * Default: zig's. */
  compiler?(): Promise<string>;
  /** Debian packages the build runs (cmake, make, gcc…), installed first when missing. */
  packages?: PackageNeed[];
  /** Throws when the unpacked sources do not carry `version` (a pin that lies). */
  check?(src: string): Promise<void>;
  /** Builds c.out; returns the compiler command line the build ran for its main source (read
   * back from the build system, so the record shows what ran), or null when unknown. */
  build(ctx: BuildContext): Promise<string | null | void>;
}

/** What build.json records next to a built library. */
export interface BuiltPeer {
  name: string;
  version: string;
  crate: CratePin;
  kind: PeerBuild;
  /** The compiler (name and version). */
  compiler: string;
  /** The compile command the build ran (compiler, flags, defines), or null. */
  flags: string | null;
  key: unknown;
  lib: string;
  seconds: number;
  /** True when the library came from the cache (not written to build.json). */
  cached?: boolean;
}

/** The cache folder of `r` under `cacheDir` (the key hashes pin, recipe key and the compiler). */
export function peerDir(r: PeerRecipe, compiler: string, cacheDir = PEERS_CACHE): string {
  const key = sha256(JSON.stringify({ crate: r.crate, key: r.key, compiler })).slice(0, 12);
  return join(cacheDir, `${r.name}-${r.version}-${r.kind ?? "zig"}-${key}`);
}

/** The first line of `cmd --version` (zig: `zig cc --version`, whose clang it names). */
export async function compilerVersion(cmd: string, args: string[] = []): Promise<string> {
  const r = await run(cmd, [...args, "--version"], { env: zigEnv(), timeoutMs: 60_000 });
  const line = (r.stdout || r.stderr).split("\n")[0].trim();
  if (r.code !== 0 || line === "") {
    throw new Error(`${cmd} ${[...args, "--version"].join(" ")} failed (exit ${r.code})`);
  }
  if (!cmd.endsWith("zig")) return line;
  // "clang version 20.1.2 (https://…)": zig's own version, then the clang it carries
  return `zig ${await zigVersion()} cc (${line.replace(/\s*\(.*$/, "")})`;
}

/** The library of `r`, built (once per key) from its pinned crate. */
export async function buildPeer(r: PeerRecipe, cacheDir = PEERS_CACHE): Promise<BuiltPeer> {
  if (r.packages) await ensurePackages(r.packages);
  const compiler = r.compiler ? await r.compiler() : await compilerVersion(await zigPath(), ["cc"]);
  const dir = peerDir(r, compiler, cacheDir);
  const lib = join(dir, `lib${r.name}.so`);
  const meta = join(dir, "build.json");
  // absent: not built yet; not JSON: an interrupted build; either way, build again
  const text = await readTextIfPresent(meta);
  const before = text === null ? undefined : jsonOrUndefined(text) as BuiltPeer | undefined;
  if (before?.lib === lib && (await exists(lib))) return { ...before, cached: true };
  const src = await crateSources(r.crate, cacheDir);
  await r.check?.(src);
  const started = performance.now();
  const work = join(dir, "work");
  await removeIfPresent(dir);
  await Deno.mkdir(work, { recursive: true });
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  const flags = await r.build({ src, work, out: lib, zig: await zigPath(), env: zigEnv(), cores });
  if (!(await exists(lib))) throw new Error(`the build of ${r.name} left no ${lib}`);
  await removeIfPresent(work);
  const built: BuiltPeer = {
    name: r.name,
    version: r.version,
    crate: r.crate,
    kind: r.kind ?? "zig",
    compiler,
    flags: flags ?? null,
    key: r.key,
    lib,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  await writeFileAtomic(meta, JSON.stringify(built, null, 1) + "\n");
  return built;
}

/** Throws unless `file` (relative to `src`) matches `text` (a substring or a pattern). */
export async function expectText(src: string, file: string, text: string | RegExp): Promise<void> {
  const body = await Deno.readTextFile(join(src, file)).catch((e) => {
    throw new Error(`${file} missing in ${src}: ${e instanceof Error ? e.message : e}`);
  });
  if (typeof text === "string" ? !body.includes(text) : !text.test(body)) {
    throw new Error(`${file} in ${src} does not carry ${text}: the pinned version is wrong`);
  }
}

// ---------------------------------------------------------------------------------------------
// the peers' own build systems

/** `cmd --version`'s first line, naming the program `cmd` resolves to ("cc" is an alternative
 * for gcc on Debian): "x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0". */
export async function systemCompiler(cmd: string): Promise<string> {
  const path = await which(cmd);
  if (path === null) throw new Error(`${cmd} is not on PATH`);
  const real = await Deno.realPath(path);
  const line = await compilerVersion(path);
  return line.replace(/^\S+/, basename(real));
}

/** CMake's compile_commands.json, the fields read of it. */
const CompileCommands = z.array(z.object({ file: z.string(), command: z.string() }));

/** The compile command CMake ran for the source whose path ends with `source` (else for its first
 * source), from its compile_commands.json, without the output and input paths. */
async function cmakeCommand(build: string, source: string): Promise<string | null> {
  const path = join(build, "compile_commands.json");
  const text = await readTextIfPresent(path); // absent: a build that is not CMake's
  if (text === null) return null;
  const db = parseAs(CompileCommands, parseJson(text, path), path);
  const e = db.find((x) => x.file.endsWith(source)) ?? db[0];
  return e ? compileLine(e.command) : null;
}

/** A compile command without its -o, -c, -MF/-MT/-MD arguments and include paths: the compiler
 * and the flags that decide the code. */
export function compileLine(cmd: string): string {
  const words = cmd.trim().split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (["-o", "-c", "-MF", "-MT"].includes(w)) {
      i++;
      continue;
    }
    if (w === "-MMD" || w === "-MD" || w.startsWith("-I") || w.endsWith(".o")) continue;
    if (/\.(c|cc|cpp)$/.test(w)) continue;
    out.push(w.includes("/") && !w.startsWith("-") ? basename(w) : w);
  }
  return out.join(" ");
}

export interface CMakeBuild {
  /** The folder of CMakeLists.txt, relative to the crate. */
  sub: string;
  /** -D options besides CMAKE_BUILD_TYPE=Release (which builds only skip other artefacts). */
  options: string[];
  target: string;
  /** The source whose compile command is recorded. */
  main: string;
}

/** Configures `b` with CMake (Release), builds its target and copies the library to c.out;
 * returns the compile command of the main source. */
export async function cmake(c: BuildContext, b: CMakeBuild, env: Record<string, string>) {
  const build = join(c.work, "build");
  const args = [
    "-S",
    join(c.src, b.sub),
    "-B",
    build,
    "-DCMAKE_BUILD_TYPE=Release",
    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
    ...b.options,
  ];
  const o = { cwd: c.work, env: { ...c.env, ...env } };
  await step("cmake", args, o, `${b.target} cmake configure`);
  const buildArgs = ["--build", build, "--target", b.target, "-j", String(c.cores)];
  await step("cmake", buildArgs, o, `${b.target} cmake build`);
  await Deno.copyFile(join(build, `lib${b.target}.so`), c.out);
  return await cmakeCommand(build, b.main);
}
