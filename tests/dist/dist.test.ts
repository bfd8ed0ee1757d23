// Release tarballs and the launcher: `deno task dist` runs once (through the CLI, as a deployer
// runs it) and its output is checked from the outside: the tarballs' bytes (plain ustar, sorted,
// owner 0, mtime 0, fixed modes), their manifests against the unpacked files and the libraries'
// symbol versions (cross-checked with readelf), pkg-config on an unpacked tree that was moved, C
// programs built with its flags (x86_64 natively, aarch64 under qemu), reproducibility, and the
// launcher: every mode, exit status, signals, LD_PRELOAD, symlinks, usage errors, architectures
// without a build, and the aarch64 tarball's launcher running an aarch64 program under qemu.
//
// The launcher reads the architecture from `uname -m`; to play another machine the tests put a
// folder with a two-line `uname` script first on PATH (fakeUname), so the launcher runs exactly
// as shipped.

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildExecutable, sha256 } from "../../tasks/build/build.ts";
import { builtOptionsTable } from "../../tasks/build/options.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { packTarget, TARBALL_FILES } from "../../tasks/dist/dist.ts";
import {
  compareVersions,
  maxGlibcVersion,
  readElf,
  requiredGlibcVersions,
} from "../../tasks/build/elf.ts";
import {
  buildDir,
  GLIBC_FLOOR,
  ROOT,
  runnerPrefix,
  targetInfo,
  type TargetName,
  TARGETS,
} from "../../tasks/lib/targets.ts";
import { runChecked } from "../../tasks/lib/run.ts";
import { ZIG_VERSION, zigEnv, zigPath } from "../../tasks/lib/toolchain.ts";
import { assertSuccess, describeRun, run, type RunResult } from "../native/proc.ts";
import { baseEnv } from "../preload/harness.ts";
import { gzipHeader, tarEntries } from "./tar.ts";

/** HAKMEM_MODE's values: the options table of the host's release library (built first). */
function modes(): string[] {
  const table = builtOptionsTable();
  assert.ok(table, "the x86_64 release library is built and its options table readable");
  return table.modes;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const DIST = join(ROOT, "dist");
const QEMU_A64 = runnerPrefix("aarch64-linux-gnu");
const HOST_ARCH = Deno.build.arch;

interface DistManifest {
  tarballs?: { file: string; target: TargetName; version: string; size: number; sha256: string }[];
}

interface TarballManifest {
  version: string;
  target: TargetName;
  arch: string;
  flavour: string;
  glibc: { floor: string; maxRequired: string | null; required: string[] };
  zigVersion: string;
  files: { path: string; mode: string; size: number; sha256: string }[];
}

interface Dist {
  version: string;
  manifest: DistManifest;
  /** Scratch folder of this file, removed at exit. */
  tmp: string;
  /** Unpacked top folder of each target's tarball (real path). */
  tree: Record<string, string>;
}

let distOnce: Promise<Dist> | undefined;

/** Runs `deno task dist` once for the whole file and unpacks every tarball. */
function dist(): Promise<Dist> {
  distOnce ??= (async () => {
    const r = await run([Deno.execPath(), "task", "dist"], {
      cwd: ROOT,
      env: baseEnv(),
      timeoutMs: 900_000,
    });
    assertSuccess(r, "deno task dist");
    const manifest = JSON.parse(await Deno.readTextFile(join(DIST, "manifest.json")));
    const tarballs = manifest.tarballs ?? [];
    assert.equal(tarballs.length, TARGETS.length, "dist/manifest.json lists a tarball per target");
    const version = tarballs[0].version;
    const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "hakmem-dist-test-" }));
    addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
    const tree: Record<string, string> = {};
    for (const tb of tarballs) {
      const dir = join(tmp, "unpacked", tb.target);
      await Deno.mkdir(dir, { recursive: true });
      await runChecked("tar", ["-xzf", join(DIST, tb.file), "-C", dir]);
      tree[tb.target] = join(dir, `hakmem-${version}-${tb.target}`);
    }
    return { version, manifest, tmp, tree };
  })();
  return distOnce;
}

/** The target of this machine's architecture, and one of another architecture. */
const HOST_TARGET = TARGETS.find((t) => t.arch === HOST_ARCH)?.name ?? null;
const OTHER_TARGET = TARGETS.find((t) => t.arch !== HOST_ARCH)!.name;

/** A folder holding a `uname` that prints `machine`, to put first on PATH. */
async function fakeUname(d: Dist, machine: string): Promise<string> {
  const dir = join(d.tmp, `uname-${machine}`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "uname"), `#!/bin/sh\necho ${machine}\n`, { mode: 0o755 });
  return dir;
}

/** Runs argv with the caller's HAKMEM_* and LD_PRELOAD removed, plus `env`. */
function launch(argv: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(argv, { env: baseEnv(env), timeoutMs: 120_000 });
}

/** The probe (tests/dist/probe.c) built for `target`, linked with glibc only. */
function probe(target: TargetName): Promise<string> {
  return buildExecutable({
    target,
    flavour: "release",
    sources: [join(HERE, "probe.c")],
    out: join(buildDir(target, "release"), "bin", "dist", "probe"),
    link: "none",
    extraFlags: ["-Wall", "-Wextra", "-Werror", "-ldl"],
  });
}

/** The probe's line for a run preloading `lib` in `mode`. */
function probeLine(lib: string, version: string, mode: string, preload = lib): string {
  return `probe: malloc from ${lib}; hakmem ${version} release, mode ${mode}; LD_PRELOAD=${preload}`;
}

function assertLine(r: RunResult, line: string, what: string): void {
  if (!r.stdout.split("\n").includes(line)) {
    throw new Error(`${what}: expected the line\n  ${line}\n${describeRun(r)}`);
  }
}

function assertStatsMode(r: RunResult, mode: string, what: string): void {
  if (
    !new RegExp(`^hakmem stats \\(pid \\d+, mode ${mode}, release build\\)$`, "m").test(r.stderr)
  ) {
    throw new Error(`${what}: no "hakmem stats (…, mode ${mode}, …)" line\n${describeRun(r)}`);
  }
}

/** Why qemu cannot run aarch64 programs here, or null. */
async function qemuMissing(): Promise<string | null> {
  if (QEMU_A64.length === 0) return null;
  if (!(await probeOk(QEMU_A64[0]))) return `${QEMU_A64[0]} missing (qemu-user-static)`;
  const sysroot = QEMU_A64[QEMU_A64.indexOf("-L") + 1];
  if (!(await probeOk(sysroot))) return `${sysroot} missing (libc6-arm64-cross)`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// the tarballs

Deno.test("dist: a tarball per target, listed with size and sha256 in dist/manifest.json and SHA256SUMS", async () => {
  const d = await dist();
  assert.match(d.version, /^\d+\.\d+\.\d+$/);
  const sums = [];
  for (const t of TARGETS) {
    const tb = d.manifest.tarballs!.find((x) => x.target === t.name);
    assert.ok(tb, `dist/manifest.json lists no tarball of ${t.name}`);
    assert.equal(tb.file, `hakmem-${d.version}-${t.name}.tar.gz`);
    assert.equal(tb.version, d.version);
    const bytes = await Deno.readFile(join(DIST, tb.file));
    assert.equal(tb.size, bytes.length, `${tb.file}: size`);
    assert.equal(tb.sha256, sha256(bytes), `${tb.file}: sha256`);
    sums.push(`${tb.sha256}  ${tb.file}`);
  }
  const listed = (await Deno.readTextFile(join(DIST, "SHA256SUMS"))).trim().split("\n");
  assert.deepEqual(listed.sort(), sums.sort());
  const check = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: DIST });
  assertSuccess(check, "sha256sum -c dist/SHA256SUMS");
  // dist/bin/hakmem is the tarballs' launcher
  const launcher = await Deno.readFile(join(DIST, "bin", "hakmem"));
  assert.equal((await Deno.stat(join(DIST, "bin", "hakmem"))).mode! & 0o777, 0o755);
  for (const t of TARGETS) {
    assert.equal(
      sha256(await Deno.readFile(join(d.tree[t.name], "bin", "hakmem"))),
      sha256(launcher),
    );
  }
});

Deno.test("dist: tarballs are plain ustar, sorted, owner 0:0 without names, mtime 0, fixed modes", async () => {
  const d = await dist();
  for (const t of TARGETS) {
    const file = `hakmem-${d.version}-${t.name}.tar.gz`;
    const gz = await Deno.readFile(join(DIST, file));
    const gzh = gzipHeader(gz);
    assert.equal(gzh.flags, 0, `${file}: gzip header carries a name or other extras`);
    assert.equal(gzh.mtime, 0, `${file}: gzip header carries a time`);
    const entries = tarEntries(gz);
    const top = `hakmem-${d.version}-${t.name}/`;
    assert.deepEqual(entries.map((e) => e.name), [
      top,
      `${top}README`,
      `${top}bin/`,
      `${top}bin/hakmem`,
      `${top}include/`,
      `${top}include/hakmem.h`,
      `${top}lib/`,
      `${top}lib/libhakmem.a`,
      `${top}lib/libhakmem.so`,
      `${top}lib/pkgconfig/`,
      `${top}lib/pkgconfig/hakmem.pc`,
      `${top}manifest.json`,
    ]);
    for (const e of entries) {
      const dir = e.name.endsWith("/");
      assert.equal(e.type, dir ? "5" : "0", `${e.name}: entry type (no extended headers)`);
      assert.equal(e.magic, "ustar\x0000", `${e.name}: POSIX ustar magic`);
      assert.deepEqual([e.uid, e.gid, e.uname, e.gname, e.mtime], [0, 0, "", "", 0], e.name);
      const exec = dir || e.name.endsWith("bin/hakmem");
      assert.equal(e.mode, exec ? 0o755 : 0o644, `${e.name}: mode ${e.mode.toString(8)}`);
    }
  }
});

Deno.test("dist: each tarball's manifest: target, glibc floor from the library's symbol versions, checksums of every file", async () => {
  const d = await dist();
  for (const t of TARGETS) {
    const root = d.tree[t.name];
    const m: TarballManifest = JSON.parse(await Deno.readTextFile(join(root, "manifest.json")));
    assert.deepEqual(
      [m.version, m.target, m.arch, m.flavour, m.zigVersion],
      [d.version, t.name, t.arch, "release", ZIG_VERSION],
    );
    // every file but the manifest itself, with its size, sha256 and mode
    const listed = TARBALL_FILES.filter((f) => f !== "manifest.json");
    assert.deepEqual(m.files.map((f) => f.path).sort(), [...listed].sort());
    for (const f of m.files) {
      const p = join(root, f.path);
      const bytes = await Deno.readFile(p);
      assert.equal(f.size, bytes.length, `${t.name} ${f.path}: size`);
      assert.equal(f.sha256, sha256(bytes), `${t.name} ${f.path}: sha256`);
      assert.equal(f.mode, ((await Deno.stat(p)).mode! & 0o777).toString(8).padStart(4, "0"));
    }
    // the glibc floor holds for the packed library; readelf sees the same version needs
    const so = join(root, "lib", "libhakmem.so");
    assert.equal((await readElf(so)).machine, t.arch === "aarch64" ? 183 : 62);
    const required = await requiredGlibcVersions(so);
    assert.deepEqual(m.glibc, {
      floor: GLIBC_FLOOR,
      maxRequired: maxGlibcVersion(required),
      required,
    });
    assert.ok(
      compareVersions(m.glibc.maxRequired ?? "0", GLIBC_FLOOR) <= 0,
      m.glibc.maxRequired ?? "",
    );
    if (await probeOk("readelf")) {
      const out = await runChecked("readelf", ["--version-info", "--wide", so]);
      const seen = [...new Set([...out.matchAll(/Name: (GLIBC_[0-9.]+)\b/g)].map((x) => x[1]))];
      assert.deepEqual(seen.sort(), required.filter((v) => /^GLIBC_[0-9.]+$/.test(v)).sort());
    }
    const readme = await Deno.readTextFile(join(root, "README"));
    for (const f of TARBALL_FILES) assert.ok(readme.includes(f), `README does not mention ${f}`);
  }
});

Deno.test("dist: packing a target again gives the same bytes", async () => {
  const d = await dist();
  const out = join(d.tmp, "repack");
  await Deno.mkdir(out, { recursive: true });
  for (const t of TARGETS) {
    const again = await packTarget(t.name, out);
    const first = d.manifest.tarballs!.find((x) => x.target === t.name)!;
    assert.equal(again.sha256, first.sha256, `${t.name}: a second pack differs`);
  }
});

Deno.test("dist: pkg-config on an unpacked tree moved elsewhere; programs built with its flags run", async (t) => {
  const d = await dist();
  if (!(await probeOk("pkg-config"))) {
    return skipOrFail(t, "pkg-config missing (Debian pkg-config)");
  }
  const qemu = await qemuMissing();
  const zig = await zigPath();
  for (const target of TARGETS) {
    if (target.arch !== HOST_ARCH && qemu) {
      skipOrFail(`${t.name} (${target.name})`, qemu);
      continue;
    }
    // a tree that was moved after unpacking: every path comes from the .pc file's own place
    const moved = join(d.tmp, "moved", target.name);
    await Deno.mkdir(dirname(moved), { recursive: true });
    await runChecked("cp", ["-a", d.tree[target.name], moved]);
    const env = { PKG_CONFIG_PATH: join(moved, "lib", "pkgconfig") };
    const pc = (args: string[]) => runChecked("pkg-config", [...args, "hakmem"], { env });
    assert.equal((await pc(["--modversion"])).trim(), d.version);
    const flags = (await pc(["--cflags", "--libs"])).trim().split(/\s+/);
    const inc = flags.find((f) => f.startsWith("-I"))!.slice(2);
    const libDir = flags.find((f) => f.startsWith("-L"))!.slice(2);
    assert.equal(await Deno.realPath(inc), join(moved, "include"));
    assert.equal(await Deno.realPath(libDir), join(moved, "lib"));
    assert.ok(flags.includes("-lhakmem"), flags.join(" "));
    assert.ok((await pc(["--static", "--libs"])).split(/\s+/).includes("-lpthread"));

    const info = targetInfo(target.name);
    const cc = [zig, "cc", "-target", info.zigTarget, `-mcpu=${info.mcpu}`, "-O2", "-Wall"];
    const src = join(HERE, "linked.c");
    const lib = join(moved, "lib");
    const builds: [string, string[]][] = [
      // shared: -lhakmem from pkg-config (libhakmem.so comes before libc: its malloc wins)
      ["linked-shared", [...flags, "-ldl", `-Wl,-rpath,${lib}`]],
      // static: the archive linked whole, as the README says
      ["linked-static", [
        `-I${inc}`,
        "-Wl,--whole-archive",
        join(lib, "libhakmem.a"),
        "-Wl,--no-whole-archive",
        "-lpthread",
        "-ldl",
      ]],
    ];
    for (const [name, extra] of builds) {
      const exe = join(d.tmp, `${name}-${target.name}`);
      await runChecked(cc[0], [...cc.slice(1), "-Werror", src, ...extra, "-o", exe], {
        env: zigEnv(),
      });
      const r = await launch([...runnerPrefix(target.name), exe]);
      assertSuccess(r, `${name} (${target.name})`);
      const m = /^linked: header (\S+), library (\S+) release, malloc from (.*)$/m.exec(r.stdout);
      assert.ok(m, describeRun(r));
      assert.deepEqual([m[1], m[2]], [d.version, d.version], "header macros and hak_version()");
      if (name === "linked-shared") assert.equal(m[3], join(lib, "libhakmem.so"));
      else assert.ok(!m[3].includes("libc.so"), `static build took malloc from ${m[3]}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// the launcher

Deno.test("launcher: --mode runs the program with hakmem preloaded in each mode, --stats shows it", async (t) => {
  if (!HOST_TARGET) return skipOrFail(t, `no target for host architecture ${HOST_ARCH}`);
  const d = await dist();
  const root = d.tree[HOST_TARGET];
  const lib = join(root, "lib", "libhakmem.so");
  const exe = await probe(HOST_TARGET);
  // the launcher's list is the options table's; the library must name each mode back in its
  // statistics
  for (const mode of modes()) {
    const r = await launch([join(root, "bin", "hakmem"), "--mode", mode, "--stats", "--", exe]);
    assertSuccess(r, `hakmem --mode ${mode}`);
    assertLine(r, probeLine(lib, d.version, mode), `--mode ${mode}`);
    assertStatsMode(r, mode, `--mode ${mode}`);
  }
  // without options: the library's default mode, and no statistics
  const plain = await launch([join(root, "bin", "hakmem"), exe]);
  assertSuccess(plain, "hakmem probe");
  assertLine(plain, probeLine(lib, d.version, "balanced"), "no options");
  assert.ok(!plain.stderr.includes("hakmem stats"), describeRun(plain));
});

Deno.test("launcher: exit status and signals pass through, LD_PRELOAD is prepended, --stats-file, symlinks, dist/bin", async (t) => {
  if (!HOST_TARGET) return skipOrFail(t, `no target for host architecture ${HOST_ARCH}`);
  const d = await dist();
  const root = d.tree[HOST_TARGET];
  const launcher = join(root, "bin", "hakmem");
  const lib = join(root, "lib", "libhakmem.so");
  const exe = await probe(HOST_TARGET);

  const seven = await launch([launcher, "--", exe, "7"]);
  assert.equal(seven.code, 7, describeRun(seven));
  // exec'd: SIGTERM ends the program itself, no shell turns it into exit 143
  const term = await launch([launcher, exe, "sigterm"]);
  assert.equal(term.signal, "SIGTERM", describeRun(term));

  const prior = await launch([launcher, exe], { LD_PRELOAD: "libm.so.6" });
  assertSuccess(prior, "hakmem with LD_PRELOAD set");
  assertLine(prior, probeLine(lib, d.version, "balanced", `${lib} libm.so.6`), "LD_PRELOAD");
  assert.ok(!prior.stderr.includes("cannot be preloaded"), describeRun(prior));

  const statsFile = join(d.tmp, "stats.json");
  const sf = await launch([launcher, "--mode=fast", `--stats-file=${statsFile}`, exe]);
  assertSuccess(sf, "hakmem --stats-file");
  const stats = JSON.parse(await Deno.readTextFile(statsFile));
  assert.equal(stats.mode, "fast");
  assert.ok(stats.tiers.large.allocs > 0, JSON.stringify(stats.tiers));

  // through a chain of symbolic links, by path and through PATH
  const links = join(d.tmp, "links");
  await Deno.mkdir(links, { recursive: true });
  await Deno.symlink(launcher, join(links, "hakmem-abs"));
  await Deno.symlink("hakmem-abs", join(links, "hk"));
  const viaLink = await launch([join(links, "hk"), exe]);
  assertLine(viaLink, probeLine(lib, d.version, "balanced"), "through symlinks");
  const viaPath = await launch(["hk", exe], { PATH: `${links}:${Deno.env.get("PATH")}` });
  assertLine(viaPath, probeLine(lib, d.version, "balanced"), "through PATH");

  // dist/bin/hakmem picks dist/<target of this architecture>/release/
  const distLib = await Deno.realPath(join(DIST, HOST_TARGET, "release", "libhakmem.so"));
  const fromDist = await launch([join(DIST, "bin", "hakmem"), "--mode", "minimal", exe]);
  assertLine(fromDist, probeLine(distLib, d.version, "minimal"), "dist/bin/hakmem");
});

Deno.test("launcher: usage errors are one line with exit 2; --help, --version", async () => {
  const d = await dist();
  const launcher = join(DIST, "bin", "hakmem");
  const marker = join(d.tmp, "must-not-exist");
  const ran = ["sh", "-c", `touch ${marker}`];
  const cases: [string[], string][] = [
    [
      ["--mode", "turbo", ...ran],
      `hakmem: --mode "turbo" is not a mode (accepted: ${modes().join(" ")})`,
    ],
    [["--mode"], `hakmem: --mode needs a value (accepted: ${modes().join(" ")})`],
    [["--stats-file="], "hakmem: --stats-file needs a file path"],
    [
      ["--verbose", ...ran],
      "hakmem: unknown option --verbose (accepted: --mode M, --stats, --stats-file F, --help, " +
      "--version, --)",
    ],
  ];
  for (const [args, line] of cases) {
    const r = await launch([launcher, ...args]);
    assert.equal(r.code, 2, describeRun(r));
    assert.equal(r.stderr, `${line}\n`, describeRun(r));
  }
  const none = await launch([launcher, "--stats", "--"]);
  assert.equal(none.code, 2, describeRun(none));
  assert.match(none.stderr, /^hakmem: no command given\nusage: hakmem \[--mode M\]/);
  assert.ok(!(await probeOk(marker)), "a command ran despite a usage error");

  const help = await launch([launcher, "--help"]);
  assertSuccess(help, "hakmem --help");
  assert.match(
    help.stdout,
    /^usage: hakmem \[--mode M\] \[--stats\] \[--stats-file F\] \[--\] command/,
  );
  assert.ok(help.stdout.includes(modes().join(" ")), help.stdout);
  const version = await launch([launcher, "--version"]);
  assert.equal(version.stdout, `hakmem ${d.version}\n`);
});

Deno.test("launcher: an architecture without a build is named, with the ones built (exit 127)", async (t) => {
  const d = await dist();
  const builtArchs = [...new Set(TARGETS.map((x) => x.arch))].join(", ");
  const distReal = await Deno.realPath(DIST);
  const riscv = await fakeUname(d, "riscv64");
  const r = await launch([join(DIST, "bin", "hakmem"), "true"], {
    PATH: `${riscv}:${Deno.env.get("PATH")}`,
  });
  assert.equal(r.code, 127, describeRun(r));
  assert.equal(
    r.stderr,
    `hakmem: no build for architecture riscv64 in ${distReal} (built: ${builtArchs})\n`,
  );
  // a tarball of another architecture: on this machine as it is
  const other = d.tree[OTHER_TARGET];
  const wrong = await launch([join(other, "bin", "hakmem"), "true"]);
  assert.equal(wrong.code, 127, describeRun(wrong));
  const otherArch = targetInfo(OTHER_TARGET).arch;
  assert.equal(
    wrong.stderr,
    `hakmem: no build for architecture ${HOST_ARCH} in ${other} (built: ${otherArch})\n`,
  );
  // a folder whose path the dynamic loader would split
  if (!HOST_TARGET) return skipOrFail(t, `no target for host architecture ${HOST_ARCH}`);
  const spaced = join(d.tmp, "with space");
  await Deno.mkdir(spaced, { recursive: true });
  await runChecked("cp", ["-a", d.tree[HOST_TARGET], spaced]);
  const top = join(spaced, `hakmem-${d.version}-${HOST_TARGET}`);
  const sp = await launch([join(top, "bin", "hakmem"), "true"]);
  assert.equal(sp.code, 127, describeRun(sp));
  assert.match(sp.stderr, /^hakmem: cannot preload .*with space.*: LD_PRELOAD splits paths/);
});

Deno.test("launcher: the aarch64 tarball's launcher runs an aarch64 program under qemu", async (t) => {
  const missing = await qemuMissing();
  if (missing) return skipOrFail(t, missing);
  const d = await dist();
  const target: TargetName = "aarch64-linux-gnu";
  const root = d.tree[target];
  const exe = await probe(target);
  // The launcher execs qemu (a static host program, which ignores LD_PRELOAD); qemu hands the
  // environment to the aarch64 program, whose loader preloads the aarch64 library.
  const env = { PATH: `${await fakeUname(d, "aarch64")}:${Deno.env.get("PATH")}` };
  const argv = [...QEMU_A64, exe, "5"];
  const r = await launch(
    [join(root, "bin", "hakmem"), "--mode", "learning", "--stats", ...argv],
    env,
  );
  assert.equal(r.code, 5, describeRun(r));
  const lib = join(root, "lib", "libhakmem.so");
  assertLine(r, probeLine(lib, d.version, "learning"), "aarch64 tarball launcher");
  assertStatsMode(r, "learning", "aarch64 tarball launcher");
  // dist/bin/hakmem on an aarch64 machine picks dist/aarch64-linux-gnu/release/
  const distLib = await Deno.realPath(join(DIST, target, "release", "libhakmem.so"));
  const fromDist = await launch([join(DIST, "bin", "hakmem"), "--mode", "fast", ...argv], env);
  assert.equal(fromDist.code, 5, describeRun(fromDist));
  assertLine(fromDist, probeLine(distLib, d.version, "fast"), "dist/bin/hakmem as aarch64");
});

Deno.test("launcher: shellcheck finds nothing in the generated script", async (t) => {
  if (!(await probeOk("shellcheck"))) {
    return skipOrFail(t, "shellcheck missing (Debian shellcheck)");
  }
  await dist();
  const r = await run([
    "shellcheck",
    "--shell=sh",
    "--severity=style",
    join(DIST, "bin", "hakmem"),
  ]);
  assertSuccess(r, "shellcheck dist/bin/hakmem");
});
