/** glibc's introspection calls and C23's sized frees in a program that knows nothing of hakmem
 * (tests/preload/fixtures/introspect.c), preloaded: mallinfo2 and mallinfo answer with hakmem's
 * figures (each field as the README maps it, from hak_stats_json taken at the same instant) and
 * move with the program's allocations; malloc_info writes glibc's XML shape with the same
 * figures; malloc_stats prints hakmem's statistics on stderr; free_sized and free_aligned_sized
 * free every tier, and every build aborts with one line on a size larger than the block or an
 * alignment the pointer lacks. */
import assert from "node:assert/strict";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run, type RunResult } from "../native/proc.ts";
import { baseEnv, fixtureTest, stderrStats } from "./harness.ts";
import { type Mallinfo, MALLINFO_FIELDS, mallinfoOf, parseMallocInfo } from "./malloc_info.ts";

const FIXTURE = new URL("./fixtures/introspect.c", import.meta.url).pathname;
const INT_MAX = 2 ** 31 - 1;
/** Counters that move without allocator activity (the process's page faults). */
const VOLATILE = new Set(["minor_faults", "major_faults", "llc_misses"]);

/** The fixture's sizes (introspect.c): 200 × 100 B, 40 × 20000 B, 6 × 3 MiB. */
const TINY = { n: 200, size: 100 };
const MID = { n: 40, size: 20000 };
const LARGE = { n: 6, size: 3 << 20 };

interface HakJson {
  tiers: Record<string, Record<string, number>>;
  bytes_mapped: number;
  [counter: string]: unknown;
}

interface Snapshot {
  phase: string;
  mallinfo2: Mallinfo;
  mallinfo: Mallinfo;
  hak: HakJson | null;
}

function assertExit0(r: RunResult, what: string): void {
  assert.ok(!r.timedOut && r.signal === null && r.code === 0, `${what}\n${describeRun(r)}`);
}

type Run = (args: string[], preload: boolean) => Promise<RunResult>;

function entryTest(name: string, flavour: Flavour, fn: (run: Run) => Promise<void>): void {
  fixtureTest(
    `entry points (${flavour}): ${name}`,
    flavour,
    FIXTURE,
    (c) =>
      fn((args, preload) =>
        run([c.exe, ...args], { env: baseEnv(preload ? { LD_PRELOAD: c.so } : {}) })
      ),
  );
}

/** Every field of hakmem's mallinfo2 is the README's mapping of the statistics of that instant;
 * mallinfo is the same, saturated at INT_MAX. */
function assertMapping(s: Snapshot): void {
  assert.ok(s.hak, `${s.phase}: hak_stats_json not found: hakmem is not preloaded`);
  const want = mallinfoOf(s.hak.tiers, s.hak as unknown as Record<string, number>);
  for (const [k, v] of Object.entries(want)) {
    assert.equal(s.mallinfo2[k as keyof Mallinfo], v, `${s.phase}: mallinfo2.${k}`);
  }
  const m = s.mallinfo2;
  assert.ok(m.keepcost <= m.fordblks, `${s.phase}: keepcost ${m.keepcost} > fordblks`);
  assert.equal(m.arena + m.hblkhd, s.hak.bytes_mapped, `${s.phase}: arena + hblkhd = mapped`);
  for (const f of MALLINFO_FIELDS) {
    assert.equal(s.mallinfo[f], Math.min(m[f], INT_MAX), `${s.phase}: mallinfo.${f}`);
  }
}

for (const flavour of ["release", "debug"] as const) {
  entryTest(
    "mallinfo2 and mallinfo give hakmem's figures, moving with allocations",
    flavour,
    async (run) => {
      const r = await run(["mallinfo"], true);
      assertExit0(r, "mallinfo");
      const snaps = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) =>
        JSON.parse(l) as Snapshot
      );
      assert.deepEqual(snaps.map((s) => s.phase), ["before", "live", "freed"], r.stdout);
      snaps.forEach(assertMapping);
      const [before, live, freed] = snaps.map((s) => s.mallinfo2);
      assert.ok(live.uordblks - before.uordblks >= TINY.n * TINY.size + MID.n * MID.size);
      assert.equal(live.hblks - before.hblks, LARGE.n, "large blocks in use");
      assert.ok(live.hblkhd - before.hblkhd >= LARGE.n * LARGE.size, "large bytes in use");
      assert.ok(live.arena >= live.uordblks);
      assert.equal(freed.uordblks, before.uordblks, "small bytes back to where they were");
      assert.equal(freed.hblks, before.hblks);
      assert.equal(freed.hblkhd, before.hblkhd);
      assert.ok(freed.usmblks >= live.arena + live.hblkhd, "the peak remembers");

      // glibc's own answer without hakmem: not hakmem's statistics
      const plain = await run(["mallinfo"], false);
      assertExit0(plain, "mallinfo without hakmem");
      assert.ok(plain.stdout.includes('"hak":null'), plain.stdout);
    },
  );
}

entryTest("malloc_info writes glibc's XML shape with hakmem's figures", "release", async (run) => {
  const r = await run(["info"], true);
  assertExit0(r, "info");
  const start = r.stdout.indexOf("<malloc");
  const end = r.stdout.indexOf("</malloc>") + "</malloc>".length;
  assert.ok(start >= 0 && end > start, r.stdout);
  const info = parseMallocInfo(r.stdout.slice(start, end));
  const hak = JSON.parse(/^hak (.*)$/m.exec(r.stdout)![1]) as HakJson;
  const m = mallinfoOf(hak.tiers, hak as unknown as Record<string, number>);
  assert.equal(info.version, "1");
  assert.deepEqual(info.heaps.map((h) => h.nr), ["0"]);
  assert.deepEqual(info.totals.mmap, { count: m.hblks, size: m.hblkhd });
  assert.deepEqual(info.totals.rest, { count: m.ordblks, size: m.fordblks });
  assert.deepEqual(info.heaps[0].totals.rest, info.totals.rest);
  assert.deepEqual(info.system, { current: hak.bytes_mapped, max: m.usmblks });
  assert.equal(info.aspace.total, hak.bytes_mapped);
  assert.equal(info.hakmem.attrs.mode, "balanced");
  for (const tier of ["tiny", "mid", "large"]) {
    assert.deepEqual(info.hakmem.tiers[tier], hak.tiers[tier], `<tier name="${tier}">`);
  }
  for (const [k, v] of Object.entries(info.hakmem.counters)) {
    if (!VOLATILE.has(k)) assert.equal(v, hak[k], k);
  }
  const allocs = Object.values(info.hakmem.tiers).reduce((n, t) => n + t.allocs, 0);
  assert.ok(allocs > 0, "hakmem served the program (its stdout buffer at least)");
  // glibc's answers to a bad call: EINVAL returned
  assert.match(r.stdout, /^rc-options=22$/m);
  assert.match(r.stdout, /^rc-null=22$/m);
});

entryTest("malloc_stats prints hakmem's statistics on stderr", "release", async (run) => {
  const r = await run(["stats"], true);
  assertExit0(r, "stats");
  const blocks = stderrStats(r.stderr);
  assert.equal(blocks.length, 1, describeRun(r));
  assert.ok(blocks[0].tiny > 0, describeRun(r));
  assert.ok(r.stderr.includes("config: {"), describeRun(r));
});

for (const flavour of ["release", "debug"] as const) {
  entryTest("free_sized and free_aligned_sized free every tier", flavour, async (run) => {
    const r = await run(["sized"], true);
    assertExit0(r, "sized");
    const hak = JSON.parse(/^hak (.*)$/m.exec(r.stdout)![1]) as HakJson;
    // 10 blocks per tier through free_sized, 3 aligned ones (4 KiB alignment puts the smallest
    // in the mid tier) through free_aligned_sized
    const t = hak.tiers;
    for (const tier of ["tiny", "mid", "large"]) assert.ok(t[tier].frees >= 10, tier);
    assert.ok(t.tiny.frees + t.mid.frees + t.large.frees >= 33, JSON.stringify(t));
    assert.equal(hak.tiers.large.allocs, hak.tiers.large.frees, "every large block freed");
  });
}

for (const flavour of ["release", "debug"] as const) {
  entryTest("a wrong size or alignment aborts naming it", flavour, async (run) => {
    const cases = [
      [
        "sized-wrong",
        /^hakmem: free_sized: size 5000 is larger than the block \(\d+ usable bytes\)/,
      ],
      ["aligned-wrong", /^hakmem: free_aligned_sized: the pointer is not aligned to 4096/],
    ] as const;
    for (const [how, message] of cases) {
      const r = await run([how], true);
      assert.equal(r.signal, "SIGABRT", describeRun(r));
      const ptr = /^ptr=0x([0-9a-f]+)$/m.exec(r.stdout);
      assert.ok(ptr, describeRun(r));
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("hakmem: "));
      assert.equal(lines.length, 1, describeRun(r));
      assert.match(lines[0], message);
      assert.ok(lines[0].includes(`0x${ptr[1]}`), `the line names the pointer: ${lines[0]}`);
    }
  });
}
