// C++'s replaceable operators new and delete from hakmem's library (core/src/api/cxx.c), as C++
// programs call them: tests/preload/fixtures/cxx_forms.cc built with the system's g++ (libstdc++,
// shared) and with zig c++ (libc++, linked into the program), each mode in its own process with
// a time limit, so a new-handler loop that never ends fails instead of hanging.
//
//   g++, LD_PRELOAD (release, HAKMEM_HARDEN=1, debug): the operators are hakmem's; every form on
//     every tier, the types the compiler emits, std::bad_alloc with and without a new-handler
//     (thrown through libstdc++, which hakmem finds at run time), nothrow, over-aligned types,
//     and a sized delete with a wrong size stops the process with one line.
//   g++ and zig c++ linked with libhakmem.a: the static library's operators replace the
//     runtime's; with libc++ inside the program, std::bad_alloc is thrown through the runtime's
//     symbols that hakmem references weakly.
//   zig c++, LD_PRELOAD: the program's own libc++ operators stay (a preload cannot replace what
//     an executable defines), running on hakmem's malloc.
//   aarch64: the cross g++'s program linked with the aarch64 libhakmem.a, under qemu.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildExecutable, type LibraryFiles, LINK_LIBS } from "../../tasks/build/build.ts";
import { buildGxxProgram } from "../../tasks/build/cc.ts";
import { exportedSymbols, neededLibraries } from "../../tasks/build/elf.ts";
import { buildDir, distDir, FLAVOURS, runnerPrefix, TARGETS } from "../../tasks/lib/targets.ts";
import { ensurePackages } from "../../tasks/lib/deps.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { describeRun, ensureLibrary, run, type RunResult } from "../native/proc.ts";
import { run as runCommand } from "../../tasks/lib/run.ts";
import { baseEnv, setup } from "./harness.ts";

const FIXTURE = "tests/preload/fixtures/cxx_forms.cc";
const RUN_MS = 30_000;
const CXX_MODES = ["forms", "types", "bad-alloc", "handler", "handler-retry", "nothrow"];
const BAD_SIZE =
  /^hakmem: operator delete: size 5000 is larger than the block \(\d+ usable bytes\): pointer 0x[0-9a-f]+ /;

/** Every replaceable form, by its Itanium name (size_t is `m` on x86_64 and aarch64 alike). */
const CXX_SYMBOLS = [
  "_Znwm",
  "_Znam",
  "_ZnwmRKSt9nothrow_t",
  "_ZnamRKSt9nothrow_t",
  "_ZnwmSt11align_val_t",
  "_ZnamSt11align_val_t",
  "_ZnwmSt11align_val_tRKSt9nothrow_t",
  "_ZnamSt11align_val_tRKSt9nothrow_t",
  "_ZdlPv",
  "_ZdaPv",
  "_ZdlPvm",
  "_ZdaPvm",
  "_ZdlPvRKSt9nothrow_t",
  "_ZdaPvRKSt9nothrow_t",
  "_ZdlPvSt11align_val_t",
  "_ZdaPvSt11align_val_t",
  "_ZdlPvmSt11align_val_t",
  "_ZdaPvmSt11align_val_t",
  "_ZdlPvSt11align_val_tRKSt9nothrow_t",
  "_ZdaPvSt11align_val_tRKSt9nothrow_t",
];

Deno.test("cxx: every built library exports the 20 operator forms and needs no C++ runtime", async () => {
  let checked = 0;
  for (const t of TARGETS) {
    for (const flavour of FLAVOURS) {
      const so = join(distDir(t.name, flavour), "libhakmem.so");
      let exported: string[];
      try {
        exported = await exportedSymbols(so);
      } catch {
        continue; // not built here (deno task build builds the host's; dist every target)
      }
      checked++;
      assert.deepEqual(
        exported.filter((n) => n.startsWith("_Z")).sort(),
        [...CXX_SYMBOLS].sort(),
        `${so}: C++ symbols`,
      );
      const needed = await neededLibraries(so);
      assert.ok(!needed.some((n) => /c\+\+|stdc/.test(n)), `${so} needs ${needed.join(" ")}`);
    }
  }
  assert.ok(checked > 0, "no library built");
});

/** The fixture built with the system's g++; `staticA`: linked with that libhakmem.a whole. */
function buildGxx(out: string, staticA?: string, flags: string[] = []): Promise<string> {
  const libs = staticA === undefined
    ? ["-ldl"]
    : ["-Wl,--whole-archive", staticA, "-Wl,--no-whole-archive", ...LINK_LIBS];
  return buildGxxProgram([FIXTURE], out, flags, libs);
}

/** The fixture linked with `files.a` whole: by g++, or for an archive of another compiler's build
 * (HAKMEM_TEST_DIST, its build.json) by that compiler's C++ driver, with its -flto flags when the
 * archive holds LTO objects only (clang's -flto=thin). Returns [driver, program]. */
async function linkStatic(files: LibraryFiles, out: string): Promise<[string, string]> {
  let info: { compiler?: { kind?: string; path?: string }; env?: { CFLAGS?: string[] } } = {};
  try {
    info = JSON.parse(await Deno.readTextFile(join(files.dir, "build.json")));
  } catch {
    // the zig build: no build.json
  }
  // an archive of LTO objects only (no -ffat-lto-objects) links only with the LTO flags
  const cflags = info.env?.CFLAGS ?? [];
  const lto = cflags.includes("-ffat-lto-objects")
    ? []
    : cflags.filter((f) => f.startsWith("-flto"));
  const clang = info.compiler?.kind === "clang" && info.compiler.path !== undefined;
  if (!clang) return ["g++", await buildGxx(out, files.a, lto)];
  const driver = info.compiler!.path!.replace(/clang(-[\d.]+)?$/, "clang++$1");
  const libs = ["-Wl,--whole-archive", files.a, "-Wl,--no-whole-archive", ...LINK_LIBS];
  const args = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", ...lto, FIXTURE, ...libs];
  const r = await runCommand(driver, [...args, "-o", out]);
  assert.equal(r.code, 0, `${driver} ${args.join(" ")}:\n${r.stderr}`);
  return [driver, out];
}

function runMode(exe: string, mode: string, env: Record<string, string> = {}): Promise<RunResult> {
  return run([exe, mode], { env: baseEnv(env), timeoutMs: RUN_MS });
}

function assertOk(r: RunResult, mode: string, what: string): void {
  assert.ok(
    r.code === 0 && !r.timedOut && r.stdout.includes(`${mode}: OK`),
    `${what} ${mode}:\n${describeRun(r)}`,
  );
}

/** A sized delete stating 5000 bytes of a 100-byte block: SIGABRT after one line. */
function assertBadSizeStops(r: RunResult, what: string): void {
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("hakmem:"));
  assert.ok(
    r.signal === "SIGABRT" && !r.stdout.includes("survived") && lines.length === 1 &&
      BAD_SIZE.test(lines[0]),
    `${what}: expected one line matching ${BAD_SIZE} and SIGABRT\n${describeRun(r)}`,
  );
}

for (const flavour of FLAVOURS) {
  Deno.test(`cxx (${flavour}): g++'s program under LD_PRELOAD gets hakmem's operators, every form, standard failures`, async (t) => {
    const s = await setup(t, flavour);
    if (!s) return;
    try {
      const exe = await buildGxx(join(s.tmp, "cxx_forms"));
      const configs: [string, Record<string, string>][] = [["", { LD_PRELOAD: s.so }]];
      if (flavour === "release") {
        configs.push([" hardened", { LD_PRELOAD: s.so, HAKMEM_HARDEN: "1" }]);
      }
      for (const [how, env] of configs) {
        const what = `g++ ${flavour}${how}`;
        const where = await runMode(exe, "where", env);
        assertOk(where, "where", what);
        assert.match(where.stdout, new RegExp(`^new: ${s.so}$`, "m"), where.stdout);
        assert.match(where.stdout, new RegExp(`^delete: ${s.so}$`, "m"), where.stdout);
        for (const mode of CXX_MODES) assertOk(await runMode(exe, mode, env), mode, what);
        assertBadSizeStops(await runMode(exe, "bad-size", env), what);
      }
      // the same program without hakmem: the fixture's own checks hold under libstdc++
      for (const mode of CXX_MODES) assertOk(await runMode(exe, mode), mode, "g++ without hakmem");
    } finally {
      await Deno.remove(s.tmp, { recursive: true });
    }
  });

  Deno.test(`cxx (${flavour}): programs linked with libhakmem.a (g++, zig c++) get its operators`, async (t) => {
    const s = await setup(t, flavour);
    if (!s) return;
    try {
      const files = await ensureLibrary(s.target, flavour);
      const programs: [string, string][] = [await linkStatic(files, join(s.tmp, "static"))];
      // zig c++ links the zig build's archive (a library of another compiler: HAKMEM_TEST_DIST)
      if (Deno.env.get("HAKMEM_TEST_DIST") === undefined) {
        programs.push([
          "zig c++",
          await buildExecutable({
            target: s.target,
            flavour,
            sources: [FIXTURE],
            out: join(buildDir(s.target, flavour), "bin", "preload", "cxx_forms_static"),
            extraFlags: ["-Werror"],
          }),
        ]);
      }
      for (const [cxx, exe] of programs) {
        const what = `${cxx} static ${flavour}`;
        const where = await runMode(exe, "where");
        assertOk(where, "where", what);
        assert.match(where.stdout, new RegExp(`^new: ${exe}$`, "m"), where.stdout);
        const modes = cxx === "zig c++"
          ? [...CXX_MODES.slice(0, -1), "nothrow-returning"]
          : CXX_MODES;
        for (const mode of modes) assertOk(await runMode(exe, mode), mode, what);
        assertBadSizeStops(await runMode(exe, "bad-size"), what);
      }
    } finally {
      await Deno.remove(s.tmp, { recursive: true });
    }
  });
}

Deno.test("cxx (release): zig c++'s program under LD_PRELOAD keeps its libc++ operators, on hakmem's malloc", async (t) => {
  const s = await setup(t, "release");
  if (!s) return;
  try {
    const exe = await buildExecutable({
      target: s.target,
      flavour: "release",
      sources: [FIXTURE],
      out: join(buildDir(s.target, "release"), "bin", "preload", "cxx_forms"),
      link: "none",
      extraFlags: ["-Werror", "-ldl"],
    });
    const env = { LD_PRELOAD: s.so, HAKMEM_STATS: "1" };
    const where = await runMode(exe, "where", env);
    assertOk(where, "where", "zig c++ preloaded");
    assert.match(where.stdout, new RegExp(`^new: ${exe}$`, "m"), where.stdout);
    for (const mode of CXX_MODES) {
      const r = await runMode(exe, mode, env);
      assertOk(r, mode, "zig c++ preloaded");
      assert.match(r.stderr, /^hakmem stats \(pid \d+,/m, `hakmem served ${mode}`);
    }
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});

const A64 = "aarch64-linux-gnu";
const A64_PACKAGES = [
  {
    deb: "g++-aarch64-linux-gnu",
    why: "builds the aarch64 C++ test program",
    probe: "aarch64-linux-gnu-g++",
  },
  {
    deb: "libc6-dev-arm64-cross",
    why: "aarch64 glibc headers for the cross g++",
    probe: "/usr/aarch64-linux-gnu/include/stdio.h",
  },
  { deb: "qemu-user-static", why: "runs aarch64 programs", probe: "qemu-aarch64-static" },
];

Deno.test({
  name: "cxx (aarch64): the cross g++'s program linked with libhakmem.a runs every form under qemu",
  // the zig build's aarch64 library (HAKMEM_TEST_DIST: another compiler's host library only)
  ignore: Deno.env.get("HAKMEM_TEST_DIST") !== undefined,
  async fn(t) {
    try {
      await ensurePackages(A64_PACKAGES);
    } catch (e) {
      return skipOrFail(t, e instanceof Error ? e.message : String(e));
    }
    const tmp = await Deno.makeTempDir({ prefix: "hakmem-cxx-a64-" });
    try {
      for (const flavour of FLAVOURS) {
        const files = await ensureLibrary(A64, flavour);
        const exe = join(tmp, `cxx_forms_${flavour}`);
        const libs = ["-Wl,--whole-archive", files.a, "-Wl,--no-whole-archive", ...LINK_LIBS];
        const args = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", FIXTURE, ...libs];
        const cc = await runCommand("aarch64-linux-gnu-g++", [...args, "-o", exe]);
        assert.equal(cc.code, 0, cc.stderr);
        const qemu = (mode: string) =>
          run([...runnerPrefix(A64), exe, mode], { env: baseEnv(), timeoutMs: 60_000 });
        const what = `aarch64 ${flavour}`;
        // handler-retry: an address-space limit does not bound qemu's guest mappings
        for (const mode of ["where", ...CXX_MODES.filter((m) => m !== "handler-retry")]) {
          assertOk(await qemu(mode), mode, what);
        }
        assertBadSizeStops(await qemu("bad-size"), what);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
