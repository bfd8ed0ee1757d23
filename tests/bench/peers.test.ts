/** The source-built peers (tasks/peers.ts, tasks/peers_build.ts): mimalloc 3 from its pinned crate
 * (fetched once into .cache/peers, its sha256 checked, built with zig) really is mimalloc 3.3.2
 * when preloaded; a crate whose checksum does not match is refused; a peer whose build fails
 * comes back unavailable with the compiler's words; under CI=true an unavailable peer fails the
 * run. The failure cases use a crate made here, in a temporary cache, so they need no network. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildAllBench } from "../../tasks/bench.ts";
import { exportedSymbols } from "../../tasks/elf.ts";
import { sha256 } from "../../tasks/build.ts";
import {
  BASELINE,
  glibcVersion,
  resolvePeers,
  targetFlags,
  unavailableVerdict,
} from "../../tasks/peers.ts";
import {
  buildPeer,
  crateUrl,
  fetchCrate,
  type PeerRecipe,
  step,
  verifyCrate,
} from "../../tasks/peers_build.ts";
import { run } from "../../tasks/run.ts";

const isX86Linux = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

Deno.test({
  name: "peer build: mimalloc 3 from its pinned crate is mimalloc 3.3.2 when preloaded",
  ignore: !isX86Linux,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const logs: string[] = [];
    const peers = await resolvePeers([BASELINE], { log: (m) => logs.push(m) });
    const p = peers.get(BASELINE)!;
    assert.equal(p.note, null, `mimalloc3 unavailable: ${p.note}\n${logs.join("\n")}`);
    assert.equal(p.version, "3.3.2");
    assert.match(p.source!, /^crate libmimalloc-sys 0\.1\.49 \(sha256 [0-9a-f]{64}\)$/);
    assert.match(p.build!, /-O3/);
    assert.match(p.build!, /-DNDEBUG/);
    assert.doesNotMatch(p.build!, /MI_SECURE/, "secure mode stays off, as in upstream Release");
    const symbols = await exportedSymbols(p.lib!);
    for (const f of ["malloc", "free", "realloc", "calloc", "posix_memalign"]) {
      assert.ok(symbols.includes(f), `${p.lib} exports ${f}`);
    }
    // preloaded into a bench program, mimalloc says who it is
    const bins = await buildAllBench(["pairs"]);
    const r = await run(bins.get("pairs")!, ["--scale", "0.0001"], {
      env: { LD_PRELOAD: p.lib!, MIMALLOC_VERBOSE: "1" },
      clearEnv: true,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /v3\.3\.2, release/, r.stderr);
    // a second resolution comes from the cache
    const again = await resolvePeers([BASELINE], { log: (m) => logs.push(m) });
    assert.equal(again.get(BASELINE)!.lib, p.lib);
    assert.match(logs[logs.length - 1], /\(cached\)$/);
  },
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
    /rpmalloc-sys 0\.2\.3\+b097fd0 from there: sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(pinned in tasks\/peers\.ts\); the archive was not used/,
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
  ignore: !isX86Linux,
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
      assert.match(built.lib, /goodpeer-0\.1\.0-[0-9a-f]{12}\/libgoodpeer\.so$/);
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
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("peers: under CI=true an unavailable peer fails the run, elsewhere it is a note", () => {
  const allocs = [{ name: "glibc", available: true }, { name: "jemalloc", available: false }];
  assert.equal(unavailableVerdict(allocs, false), null);
  assert.equal(
    unavailableVerdict(allocs, true),
    "CI=true: 1 peer(s) unavailable, which fails the run: jemalloc",
  );
  assert.equal(unavailableVerdict(allocs.slice(0, 1), true), null);
});
