/** The core built by the system's compilers as a packager builds it (`deno task build --cc`,
 * tasks/build/cc.ts): every file compiles without a warning under -Wall -Wextra -Werror, and the
 * libraries work. The system gcc and Debian's clang build the host library — release with a
 * packager's flags (stack protector, _FORTIFY_SOURCE, CET, LTO), debug with the project's — and
 * the contract tests run against each through HAKMEM_TEST_DIST (tests/ffi/helpers.ts,
 * tests/native/proc.ts); the aarch64 cross gcc builds its library, which runs a multi-threaded
 * program under qemu. Other gcc and clang versions installed here (gcc-11, clang-14, …) must
 * build the release library too; CI has only the ones these tests install. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildWithCc, type EnvFlags } from "../../tasks/build/cc.ts";
import { libraryFiles } from "../../tasks/build/build.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { ensurePackages, type PackageNeed } from "../../tasks/lib/deps.ts";
import { FLAVOURS, ROOT, runnerPrefix } from "../../tasks/lib/targets.ts";
import { which } from "../../tasks/lib/toolchain.ts";
import { describeRun, run, testSeed } from "../native/proc.ts";

const CLANG = "clang-19";

/** What a Debian package build passes (dpkg-buildflags, hardening=+all, with LTO). */
const PACKAGER: Record<"gcc" | "clang", EnvFlags> = {
  gcc: {
    cppflags: ["-D_FORTIFY_SOURCE=2"],
    cflags: [
      "-O2",
      "-fstack-protector-strong",
      "-fcf-protection",
      "-flto=auto",
      "-ffat-lto-objects",
    ],
    ldflags: ["-Wl,-z,relro", "-Wl,-z,now"],
  },
  clang: {
    cppflags: ["-D_FORTIFY_SOURCE=2"],
    cflags: ["-O2", "-fstack-protector-strong", "-fcf-protection", "-flto=thin"],
    ldflags: ["-Wl,-z,relro", "-Wl,-z,now"],
  },
};
const NO_FLAGS: EnvFlags = { cppflags: [], cflags: [], ldflags: [] };

/** The contract tests run against every compiler's library: the API's semantics, hostile frees,
 * statistics, a random walk checking every block, the exported symbols, the standard entry points
 * and the C++ operators under LD_PRELOAD, the crash note. */
const CONTRACT = [
  "tests/ffi/api.test.ts",
  "tests/ffi/invalid_free.test.ts",
  "tests/ffi/random_walk.test.ts",
  "tests/ffi/stats.test.ts",
  "tests/ffi/symbols.test.ts",
  "tests/preload/crash_note.test.ts",
  "tests/preload/cxx.test.ts",
  "tests/preload/entry_points.test.ts",
];

const PACKAGES: Record<string, PackageNeed[]> = {
  [CLANG]: [{ deb: CLANG, why: "builds the library with clang", probe: CLANG }],
  "aarch64-linux-gnu-gcc": [
    {
      deb: "gcc-aarch64-linux-gnu",
      why: "builds the aarch64 library with gcc",
      probe: "aarch64-linux-gnu-gcc",
    },
    {
      deb: "libc6-dev-arm64-cross",
      why: "aarch64 glibc headers for the cross gcc",
      probe: "/usr/aarch64-linux-gnu/include/stdio.h",
    },
  ],
};

/** Installs what `cc` needs (as root with apt); null, or why it cannot be had. */
async function missing(cc: string): Promise<string | null> {
  try {
    await ensurePackages(PACKAGES[cc] ?? []);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return (await which(cc)) === null ? `${cc} is not on PATH` : null;
}

/** The contract tests' `deno test`: a few minutes on a busy machine; a hang fails after this. */
const CONTRACT_TIMEOUT_MS = 20 * 60_000;

/** Runs the contract tests in a `deno test` of their own against the libraries under `dist`. */
async function contract(dist: string): Promise<void> {
  const r = await run([Deno.execPath(), "test", "-A", ...CONTRACT], {
    cwd: ROOT,
    env: { HAKMEM_ROOT: ROOT, HAKMEM_TEST_DIST: dist, NO_COLOR: "1" },
    timeoutMs: CONTRACT_TIMEOUT_MS,
  });
  const out = r.stdout + r.stderr;
  const summary = out.split("\n").filter((l) => /^(ok|FAILED) \|/.test(l)).pop();
  assert.equal(r.code, 0, `contract tests against ${dist}:\n${describeRun(r)}`);
  console.log(`contract tests against ${dist}: ${summary}`);
}

for (const [cc, kind] of [["gcc", "gcc"], [CLANG, "clang"]] as const) {
  Deno.test(`compilers: ${cc} builds the host library warning-free (release with a packager's flags), and the contract tests pass on it`, async (t) => {
    const why = await missing(cc);
    if (why) return skipOrFail(t, why);
    const name = `test-${cc}`;
    const b = await buildWithCc({ cc, name, flavours: ["release"], env: PACKAGER[kind] });
    await buildWithCc({ cc, name, flavours: ["debug"], env: NO_FLAGS });
    await contract(b.distRoot);
  });
}

Deno.test("compilers: the aarch64 cross gcc builds its library warning-free; a multi-threaded program linked with its libhakmem.a runs under qemu", async (t) => {
  const cc = "aarch64-linux-gnu-gcc";
  const why = await missing(cc) ??
    ((await which(runnerPrefix("aarch64-linux-gnu")[0])) ? null : "qemu-aarch64-static missing");
  if (why) return skipOrFail(t, why);
  const b = await buildWithCc({ cc, name: `test-${cc}`, env: NO_FLAGS });
  assert.equal(b.compiler.target, "aarch64-linux-gnu");
  const tmp = await Deno.makeTempDir({ prefix: "hakmem-cc-" });
  try {
    for (const flavour of FLAVOURS) {
      const lib = libraryFiles("aarch64-linux-gnu", flavour, b.distRoot);
      const exe = join(tmp, `remote_free_${flavour}`);
      const src = join(ROOT, "tests", "native", "remote_free.c");
      const cc1 = await run(
        [
          cc,
          "-std=c11",
          "-O2",
          "-Wall",
          "-Wextra",
          "-Werror",
          `-I${lib.dir}/include`,
          src,
          lib.a,
          "-lpthread",
          "-ldl",
          "-o",
          exe,
        ],
        { timeoutMs: 120_000 },
      );
      assert.equal(cc1.code, 0, describeRun(cc1));
      const r = await run([...runnerPrefix("aarch64-linux-gnu"), exe, testSeed(), "0.25"], {
        timeoutMs: 120_000,
      });
      assert.ok(
        r.code === 0 && r.stdout.includes("remote_free: OK"),
        `remote_free linked with ${lib.a}, under qemu:\n${describeRun(r)}`,
      );
      console.log(`remote_free aarch64 ${flavour} (${cc}): ${r.seconds.toFixed(2)} s`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Other versions of gcc and clang installed on this machine (not the ones above). */
async function otherCompilers(): Promise<string[]> {
  const real = async (name: string) => {
    const p = await which(name);
    return p === null ? null : await Deno.realPath(p);
  };
  const taken = new Set([await real("gcc"), await real(CLANG)]);
  const found: string[] = [];
  for (const v of [11, 12, 13, 14, 15]) found.push(`gcc-${v}`);
  for (const v of [14, 15, 16, 17, 18, 19, 20]) found.push(`clang-${v}`);
  const out: string[] = [];
  for (const n of found) {
    const p = await real(n);
    if (p !== null && !taken.has(p)) out.push(n);
  }
  return out;
}

Deno.test("compilers: every other gcc and clang installed here builds the release library warning-free", async () => {
  const others = await otherCompilers();
  console.log(`other compilers here: ${others.join(", ") || "none"}`);
  for (const cc of others) {
    await buildWithCc({ cc, name: `test-${cc}`, flavours: ["release"], env: NO_FLAGS });
  }
});
