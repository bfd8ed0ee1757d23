// Free-list poisoning (tests/reliability/poison.c): a one-word write after free puts the
// program's own buffer into a freed block's link, then the size is allocated until the block
// comes round. At every tier — tiny (16, 48, 512, 1024 B), mid (8 KiB, 40 KB), the owner's
// remote-free queue (tiny, mid) and the freeing thread's batch — hakmem must never hand out the
// buffer and must stop the process with one line naming the written block: the release build
// when the link is decoded, the hardened configurations (HAKMEM_HARDEN=1, the debug build) already
// when the block leaves its quarantine. Another thread's frees travel as a record of addresses and
// the owner's drain checks every block of it before it links the block: a write to the last block
// freed or to the first (remote-run) is caught there (the remote queue's line). glibc is run too,
// for the record (its tcache stops the process at tiny sizes; at 8 KiB and 40 KB it never sees the
// write).
//
// first-words: the first two words of a fresh block and of one handed out again point into no
// mapping of the process, and whatever is not 0 differs from run to run (keyed with the
// process's secret).
//
// Hardening: in the hardened configurations a freed small block is held back (the next 200
// allocations of its size miss it) and filled (zeros, 0xDF in debug); in release neither.

import assert from "node:assert/strict";
import { describeRun, type RunResult } from "../native/proc.ts";
import { buildPlain, type Config, hakmemLines, runUnder } from "./plain.ts";

const BLOCK_CASES = ["tiny-16", "tiny-48", "tiny-512", "tiny-1024", "mid-8192", "mid-40000"];
const REMOTE_CASES = ["remote-tiny", "remote-mid", "remote-batch", "remote-run"];
const HAKMEM: readonly Config[] = ["release", "hardened", "debug"];
const ENV = { HAKMEM_REMOTE_DRAIN_THRESHOLD: "1" };

const SLAB_LIST = /^hakmem: free list of class \d+ \(\d+-byte blocks\) corrupt/;
const REMOTE_QUEUE = /^hakmem: remote free queue corrupt/;
const HELD = /^hakmem: a block was written after its free \(class \d+/;

/** The line each case's stop must match, by configuration. */
function expected(name: string, config: Config): RegExp {
  if (config !== "release") return new RegExp([HELD, REMOTE_QUEUE].map((r) => r.source).join("|"));
  return REMOTE_CASES.includes(name) ? REMOTE_QUEUE : SLAB_LIST;
}

function problem(name: string, config: Config, r: RunResult): string | null {
  const m = /ptr=(0x[0-9a-f]+)/.exec(r.stdout);
  if (!m) return `did not reach the write\n${describeRun(r)}`;
  if (r.stdout.includes("STEERED")) {
    return `malloc returned the program's buffer\n${describeRun(r)}`;
  }
  if (r.signal !== "SIGABRT") return `expected SIGABRT\n${describeRun(r)}`;
  const lines = hakmemLines(r);
  if (lines.length !== 1 || !expected(name, config).test(lines[0])) {
    return `expected one line matching ${expected(name, config)}\n${describeRun(r)}`;
  }
  if (!lines[0].includes(`pointer ${m[1]}`)) return `the line does not name ${m[1]}: ${lines[0]}`;
  return null;
}

for (const config of HAKMEM) {
  Deno.test(`poison ${config}: a write after free never steers malloc, at every tier`, async () => {
    const exe = await buildPlain("poison");
    const problems: string[] = [];
    for (const name of [...BLOCK_CASES, ...REMOTE_CASES]) {
      const r = await runUnder(exe, [name], config, ENV);
      const p = problem(name, config, r);
      if (p) problems.push(`${name}: ${p}`);
    }
    assert.deepEqual(problems, []);
  });

  Deno.test(`poison ${config}: a block's first words reveal no address`, async () => {
    const exe = await buildPlain("poison");
    const runs = [
      await runUnder(exe, ["first-words"], config),
      await runUnder(exe, ["first-words"], config),
    ];
    const words = runs.map((r) => {
      assert.equal(r.code, 0, describeRun(r));
      return [...r.stdout.matchAll(/^word ([0-9a-f]{16}) (address|none)$/gm)];
    });
    assert.equal(words[0].length, 4, describeRun(runs[0]));
    for (let i = 0; i < 4; i++) {
      for (const w of words) assert.equal(w[i][2], "none", `word ${i} points into a mapping`);
      if (BigInt(`0x${words[0][i][1]}`) === 0n) continue;
      assert.notEqual(words[1][i][1], words[0][i][1], `word ${i} is the same in two runs`);
    }
  });
}

for (const config of HAKMEM) {
  Deno.test(`hardening ${config}: freed small blocks held back and filled`, async () => {
    const exe = await buildPlain("poison");
    const held = await runUnder(exe, ["quarantine"], config);
    const fill = await runUnder(exe, ["fill"], config);
    const want = config === "release"
      ? [/^reused after \d+$/m, /^stale$/m]
      : [/^held$/m, config === "debug" ? /^filled df$/m : /^filled 00$/m];
    assert.match(held.stdout, want[0], describeRun(held));
    assert.match(fill.stdout, want[1], describeRun(fill));
  });
}

Deno.test("poison glibc: for the record", async () => {
  const exe = await buildPlain("poison");
  const rows = [];
  for (const name of [...BLOCK_CASES, ...REMOTE_CASES]) {
    const r = await runUnder(exe, [name], "glibc");
    const what = r.stdout.includes("STEERED")
      ? "malloc returned the buffer"
      : r.signal
      ? `stopped (${r.signal}) ${r.stderr.trim().split("\n")[0] ?? ""}`
      : "not seen";
    rows.push(`${name.padEnd(14)} ${what}`);
  }
  console.log(rows.join("\n"));
});
