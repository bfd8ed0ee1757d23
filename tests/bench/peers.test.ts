/** The source-built peers (tasks/peers/peers.ts, tasks/peers/build.ts): mimalloc 3 from its pinned
 * crate (fetched once into .cache/peers, its sha256 checked), built as its users get it — its own
 * CMake Release build with Debian's gcc — really is mimalloc 3.6.0 when preloaded, and its zig
 * build too; the parity check runs both and records the ratio; every recipe builds its upstream's
 * way (build system, compiler, no zig target) besides the zig way; which build runs and why
 * (chooseBuild), the fallback when the upstream build fails; a crate whose checksum does not match
 * is refused; a peer whose build fails comes back unavailable with the compiler's words; under
 * CI=true an unavailable peer, or one whose upstream build failed, fails the run. The failure
 * cases use a crate made here, in a temporary cache, so they need no network. */
import assert from "node:assert/strict";
import { OFF_BENCH_HOST } from "../../tasks/lib/ci.ts";
import { join } from "node:path";
import { buildAllBench } from "../../tasks/bench/bench.ts";
import { exportedSymbols } from "../../tasks/build/elf.ts";
import { sha256 } from "../../tasks/build/build.ts";
import {
  BASELINE,
  chooseBuild,
  glibcVersion,
  type PeerBuildInfo,
  resolvePeers,
  sourceRecipes,
  targetFlags,
  unavailableVerdict,
} from "../../tasks/peers/peers.ts";
import { measureParity, PARITY_WORKLOADS, parityRecord } from "../../tasks/bench/parity.ts";
import type { PeerParity } from "../../tasks/bench/stats.ts";
import {
  buildPeer,
  compileLine,
  crateUrl,
  fetchCrate,
  type PeerRecipe,
  step,
  verifyCrate,
} from "../../tasks/peers/build.ts";
import { run } from "../../tasks/lib/run.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

Deno.test({
  name: "peer build: mimalloc 3 by its own CMake Release with gcc, and by zig; parity of the two",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const logs: string[] = [];
    const peers = await resolvePeers([BASELINE], { log: (m) => logs.push(m), both: true });
    const p = peers.get(BASELINE)!;
    assert.equal(p.note, null, `mimalloc3 unavailable: ${p.note}\n${logs.join("\n")}`);
    assert.equal(p.version, "3.6.0");
    assert.match(p.source!, /^crate libmimalloc-sys2 0\.1\.65 \(sha256 [0-9a-f]{64}\)$/);
    const up = p.builds.find((b) => b.kind === "upstream")!;
    const zig = p.builds.find((b) => b.kind === "zig")!;
    assert.ok(up.lib && zig.lib && up.lib !== zig.lib, `${up.note}\n${zig.note}`);
    // gcc as Debian's cc, at CMake Release's flags, without the workbench's target
    assert.match(up.compiler!, /gcc.*\d+\.\d+/);
    assert.match(up.flags!, /^cc .*-O3 -DNDEBUG/);
    assert.match(up.flags!, /-DMI_MALLOC_OVERRIDE/);
    assert.doesNotMatch(up.flags!, /MI_SECURE|-target|-mcpu/, "upstream's defaults, its compiler");
    assert.match(zig.compiler!, /^zig 0\.15\.2 cc \(clang version \d+/);
    assert.match(zig.flags!, /^zig cc -target x86_64-linux-gnu\.\d+\.\d+ -mcpu=x86_64 .*-O3/);
    // the upstream build runs unless a parity record on this machine says otherwise
    assert.ok(p.choice && !p.choice.fallback && p.choice.why.length > 0);
    assert.equal(p.lib, p.builds.find((b) => b.kind === p.choice!.kind)!.lib);
    assert.match(p.build!, new RegExp(`^${p.choice!.kind} build; `));
    for (const lib of [up.lib, zig.lib]) {
      const symbols = await exportedSymbols(lib);
      for (const f of ["malloc", "free", "realloc", "calloc", "posix_memalign"]) {
        assert.ok(symbols.includes(f), `${lib} exports ${f}`);
      }
    }
    // preloaded into a bench program, each build says who it is
    const bins = await buildAllBench(["pairs", "larson", "xthread"]);
    for (const lib of [up.lib, zig.lib]) {
      const r = await run(bins.get("pairs")!, ["--scale", "0.0001"], {
        env: { LD_PRELOAD: lib, MIMALLOC_VERBOSE: "1" },
        clearEnv: true,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /v3\.6\.0, release/, r.stderr);
    }
    // the parity check: both builds on every parity workload, one round, a ratio each
    const samples = await measureParity(p, {
      hakrun: bins.get("hakrun")!,
      bins,
      seed: 1,
      rounds: 1,
      scale: 0.01,
    });
    assert.equal(samples.length, PARITY_WORKLOADS.length * 2);
    assert.ok(samples.every((s) => s.value !== null && s.value > 0), JSON.stringify(samples));
    const rec = parityRecord(p, samples, 1, new Date().toISOString());
    assert.equal(rec.upstream.lib, up.lib);
    assert.ok(rec.workloads.every((w) => w.ratio !== null && w.ratio > 0));
    assert.ok(rec.geomean !== null && rec.faster !== null);
    // a second resolution comes from the cache
    const again = await resolvePeers([BASELINE], { log: (m) => logs.push(m) });
    assert.equal(again.get(BASELINE)!.builds[0].lib, up.lib);
    assert.ok(logs.some((l) => /mimalloc3 upstream ready: .*\(cached\)$/.test(l)), logs.join("\n"));
  },
});

Deno.test("peer recipes: each peer's upstream build (its build system and compiler) and zig's", () => {
  const recipes = sourceRecipes("2.36");
  for (const name of ["mimalloc3", "mimalloc2", "jemalloc", "snmalloc", "rpmalloc"]) {
    const up = recipes.find((r) => r.name === name && r.kind === "upstream");
    const zig = recipes.find((r) => r.name === name && r.kind === "zig");
    assert.ok(up && zig, `${name}: both builds`);
    assert.equal(up.version, zig.version, name);
    assert.deepEqual(up.crate, zig.crate, `${name}: the same pinned sources`);
    assert.ok(up.compiler, `${name}: the upstream build names its own compiler`);
    assert.equal(zig.compiler, undefined, `${name}: the zig build's compiler is zig`);
    const upKey = JSON.stringify(up.key);
    assert.doesNotMatch(upKey, /-target|-mcpu/, `${name}: no zig target upstream: ${upKey}`);
    assert.match(JSON.stringify(zig.key), /-mcpu=x86_64/, `${name}: zig's baseline CPU`);
    const debs = (up.packages ?? []).map((p) => p.deb);
    assert.ok(debs.length > 0, `${name}: the build's packages are installed on a fresh machine`);
  }
  const deb = (n: string) => recipes.find((r) => r.name === n && r.kind === "upstream")!.packages!;
  for (const n of ["mimalloc3", "mimalloc2", "snmalloc"]) {
    assert.deepEqual(
      deb(n).map((p) => p.deb).slice(0, 4),
      ["cmake", "make", "gcc", "g++"],
      `${n}: CMake`,
    );
    const key = JSON.stringify(recipes.find((r) => r.name === n && r.kind === "upstream")!.key);
    assert.doesNotMatch(key, /CMAKE_BUILD_TYPE=Debug|MI_SECURE=ON/, n);
  }
  assert.ok(
    deb("jemalloc").some((p) => p.deb === "make") &&
      !deb("jemalloc").some((p) => p.deb === "cmake"),
  );
  assert.deepEqual(deb("rpmalloc").map((p) => p.deb), ["clang", "ninja-build", "python3"]);
  assert.equal(recipes.find((r) => r.name === "mimalloc3")!.version, "3.6.0");
  assert.equal(recipes.find((r) => r.name === "mimalloc2")!.version, "2.5.2");
  // a compile command as recorded: output, input, dependency files and include paths gone
  assert.equal(
    compileLine(
      "/usr/bin/cc -DX=1 -I/a/include -O3 -MD -MT x.o -MF x.o.d -o CMakeFiles/x.o -c /s/src/static.c",
    ),
    "cc -DX=1 -O3",
  );
});

const build = (kind: "upstream" | "zig", lib: string | null, note: string | null = null) =>
  ({
    kind,
    lib,
    compiler: lib ? `${kind}-cc 1.0` : null,
    flags: lib ? "-O3" : null,
    note,
  }) as PeerBuildInfo;

function record(geomean: number | null, up = "/u.so", zig = "/z.so"): PeerParity {
  return {
    peer: "p",
    measured: "2026-12-04T00:00:00.000Z",
    rounds: 3,
    upstream: { lib: up, compiler: null, flags: null },
    zig: { lib: zig, compiler: null, flags: null },
    workloads: [{ id: "pair_32", metric: "ns_per_op", upstream: 1, zig: 1, ratio: geomean }],
    geomean,
    faster: geomean === null ? null : geomean >= 1 ? "upstream" : "zig",
  };
}

Deno.test("peer builds: the faster build by its parity record, upstream by default, fallback", () => {
  const both = [build("upstream", "/u.so"), build("zig", "/z.so")];
  // no record: the upstream build, as users get it, and why
  const none = chooseBuild(both, null)!;
  assert.deepEqual([none.kind, none.fallback], ["upstream", false]);
  assert.match(none.why, /as users get it; its parity with the zig build was not measured/);
  // a record of these two builds: the faster one, never the slower
  const zigFaster = chooseBuild(both, record(0.93))!;
  assert.equal(zigFaster.kind, "zig");
  assert.match(zigFaster.why, /upstream build ran at 0\.93× the zig build's speed/);
  assert.equal(chooseBuild(both, record(1.08))!.kind, "upstream");
  assert.equal(chooseBuild(both, record(1))!.kind, "upstream", "a tie keeps the users' build");
  // a record of other builds (a compiler changed, a new version) decides nothing
  assert.equal(chooseBuild(both, record(0.5, "/old-u.so"))!.kind, "upstream");
  assert.equal(chooseBuild(both, record(null))!.kind, "upstream");
  // the upstream build failed: zig stands in, with the reason
  const fb = chooseBuild(
    [build("upstream", null, "cmake configure failed (exit 1)\n…"), both[1]],
    null,
  )!;
  assert.deepEqual([fb.kind, fb.fallback], ["zig", true]);
  assert.match(
    fb.why,
    /^the upstream build failed \(cmake configure failed \(exit 1\)\): the zig build stands in$/,
  );
  assert.equal(chooseBuild([build("upstream", null, "x"), build("zig", null, "y")], null), null);
  // the zig build failed: nothing to choose between
  assert.equal(chooseBuild([both[0], build("zig", null, "z")], record(0.5))!.kind, "upstream");
});

Deno.test("parity record: ratios per workload from interleaved samples, the faster build", () => {
  const peer = {
    name: "p",
    lib: "/u.so",
    version: "1",
    source: null,
    build: null,
    note: null,
    builds: [build("upstream", "/u.so"), build("zig", "/z.so")],
    choice: null,
  };
  // upstream: ns/op 10 vs zig 12 (faster); ops/s 100 vs 80 (faster); 90 vs 100 (slower)
  const v: Record<string, [number, number]> = {
    pair_32: [10, 12],
    larson: [100, 80],
    xthread: [90, 100],
  };
  const samples = [0, 1].flatMap((round) =>
    Object.entries(v).flatMap(([workload, [u, z]]) => [
      { workload, build: "upstream" as const, round, value: u * (1 + round / 100) },
      { workload, build: "zig" as const, round, value: z * (1 + round / 100) },
    ])
  );
  const rec = parityRecord(peer, samples, 2, "2026-12-04T00:00:00.000Z");
  const ratio = (id: string) => rec.workloads.find((w) => w.id === id)!.ratio!;
  assert.ok(Math.abs(ratio("pair_32") - 1.2) < 1e-9, `pair_32 ${ratio("pair_32")}`);
  assert.ok(Math.abs(ratio("larson") - 1.25) < 1e-9);
  assert.ok(Math.abs(ratio("xthread") - 0.9) < 1e-9);
  assert.ok(Math.abs(rec.geomean! - Math.cbrt(1.2 * 1.25 * 0.9)) < 1e-9);
  assert.equal(rec.faster, "upstream");
  assert.equal(rec.workloads.find((w) => w.id === "larson")!.upstream, 100.5, "median");
  // a workload without a pair leaves no geomean and no verdict
  const broken = parityRecord(
    peer,
    samples.map((s) => (s.workload === "larson" && s.build === "zig" ? { ...s, value: null } : s)),
    2,
    "x",
  );
  assert.equal(broken.geomean, null);
  assert.equal(broken.faster, null);
});

Deno.test("peer crates: the download address and the checksum check", () => {
  const pin = { crate: "rpmalloc-sys", version: "0.2.3+b097fd0", sha256: sha256("x") };
  assert.equal(
    crateUrl(pin),
    "https://static.crates.io/crates/rpmalloc-sys/rpmalloc-sys-0.2.3%2Bb097fd0.crate",
  );
  verifyCrate(pin, new TextEncoder().encode("x"), "here");
  assert.throws(
    () => verifyCrate(pin, new TextEncoder().encode("y"), "there"),
    /rpmalloc-sys 0\.2\.3\+b097fd0 from there: sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(pinned in tasks\/peers\/peers\.ts\); the archive was not used/,
  );
});

/** A .crate (gzipped tar of `<name>-<version>/`) holding `files`, in `dir`; its pin. */
async function makeCrate(dir: string, name: string, files: Record<string, string>) {
  const version = "0.1.0";
  const top = join(dir, "make", `${name}-${version}`);
  await Deno.mkdir(top, { recursive: true });
  for (const [f, text] of Object.entries(files)) await Deno.writeTextFile(join(top, f), text);
  const crates = join(dir, "cache", "crates");
  await Deno.mkdir(crates, { recursive: true });
  const file = join(crates, `${name}-${version}.crate`);
  await step("tar", ["-czf", file, "-C", join(dir, "make"), `${name}-${version}`], {}, "tar");
  return { crate: name, version, sha256: sha256(await Deno.readFile(file)) };
}

/** A recipe compiling the crate's lib.c into the peer's .so with zig (the peers' target, whose
 * libc stubs zig has cached already). */
function recipe(name: string, crate: PeerRecipe["crate"], target: string[]): PeerRecipe {
  return {
    name,
    version: "0.1.0",
    crate,
    key: { test: true },
    async build(c) {
      await step(c.zig, ["cc", ...target, "-shared", "-fPIC", "lib.c", "-o", c.out], {
        cwd: c.src,
        env: c.env,
      }, `${name} build`);
    },
  };
}

Deno.test({
  name: "peer build: a bad checksum is refused, a failed build is unavailable with the reason",
  ignore: OFF_BENCH_HOST,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hakmem-peers-" });
    try {
      const cacheDir = join(dir, "cache");
      const target = targetFlags(await glibcVersion());
      const good = await makeCrate(dir, "goodpeer", {
        "lib.c": "int goodpeer_answer(void) { return 42; }\n",
      });
      const broken = await makeCrate(dir, "brokenpeer", { "lib.c": "int broken( { return 0; }\n" });
      // the archive in the cache no longer matches its pin: refused, never unpacked
      const wrong = { ...good, sha256: "0".repeat(64) };
      await assert.rejects(
        () => fetchCrate(wrong, cacheDir),
        /sha256 [0-9a-f]{64}, expected 0{64}/,
      );
      const built = await buildPeer(recipe("goodpeer", good, target), cacheDir);
      assert.match(built.lib, /goodpeer-0\.1\.0-zig-[0-9a-f]{12}\/libgoodpeer\.so$/);
      assert.ok((await exportedSymbols(built.lib)).includes("goodpeer_answer"));
      const peers = await resolvePeers(["goodpeer", "brokenpeer", "wrongpeer"], {
        recipes: [
          recipe("goodpeer", good, target),
          recipe("brokenpeer", broken, target),
          recipe("wrongpeer", wrong, target),
        ],
        cacheDir,
        log: () => {},
      });
      assert.equal(peers.get("goodpeer")!.lib, built.lib, "the build is cached");
      const b = peers.get("brokenpeer")!;
      assert.equal(b.lib, null);
      assert.match(b.note!, /brokenpeer build failed \(exit 1\)/);
      assert.match(b.note!, /error:/, "the compiler's words are in the reason");
      const w = peers.get("wrongpeer")!;
      assert.equal(w.lib, null);
      assert.match(w.note!, /sha256 [0-9a-f]{64}, expected 0{64}/);
    } finally {
      await removeIfPresent(dir);
    }
  },
});

Deno.test("peers: under CI=true an unavailable peer or a fallback build fails the run", () => {
  const allocs = [{ name: "glibc", available: true }, { name: "jemalloc", available: false }];
  assert.equal(unavailableVerdict(allocs, false), null);
  assert.equal(
    unavailableVerdict(allocs, true),
    "CI=true: 1 peer(s) unavailable: jemalloc, which fails the run",
  );
  assert.equal(unavailableVerdict(allocs.slice(0, 1), true), null);
  const fallback = [
    { name: "snmalloc", available: true, build_choice: { fallback: true } },
    { name: "mimalloc3", available: true, build_choice: { fallback: false } },
  ];
  assert.equal(unavailableVerdict(fallback, false), null);
  assert.equal(
    unavailableVerdict(fallback, true),
    "CI=true: 1 peer(s) whose upstream build failed: snmalloc, which fails the run",
  );
});
