// The memory-corruption categories where a hardened allocator stops the process
// (tests/reliability/corrupt.c, our own programs after the categories of an established hardened
// allocator's public test suite). Every case runs in its own process under glibc's malloc and
// with hakmem preloaded — release, release with HAKMEM_HARDEN=1, the debug build — and a stop by
// any signal after the misuse counts as a detection. hakmem's outcome is asserted per category
// and configuration (an abort with the one line that names the problem, or a fault, or a miss);
// glibc's is printed beside it for RELIABILITY.md. The C++ categories (sized and aligned deletes
// with a wrong size, a delete of the wrong type) are corrupt_cxx.cc's, built with the system's g++:
// hakmem's operator delete checks the size it states.

import assert from "node:assert/strict";
import pLimit from "p-limit";
import { join } from "node:path";
import { buildGxxProgram } from "../../tasks/build/cc.ts";
import { buildDir, ROOT } from "../../tasks/lib/targets.ts";
import { describeRun, type RunResult } from "../native/proc.ts";
import { buildPlain, type Config, CONFIGS, hakmemLines, hostTarget, runUnder } from "./plain.ts";

type Outcome = "abort" | "fault" | "miss";

interface Category {
  id: string;
  release: Outcome;
  hardened: Outcome;
  /** The line of an abort (release; hardened too unless `hline`). */
  line?: RegExp;
  hline?: RegExp;
}

const DOUBLE = /^hakmem: double free( \(guarded block\))?: pointer 0x/;
const INTERIOR = /^hakmem: free of an interior or invalid pointer( \(guarded block\))?: pointer/;
// a mapping of the program's may lie in the rest of a chunk hakmem maps part of
const FOREIGN =
  /^hakmem: free of (a pointer hakmem did not allocate|an interior or invalid pointer)/;
const USABLE_BAD = /^hakmem: usable size of an interior or invalid pointer: pointer/;
const CANARY = /^hakmem: heap overflow: the canary after a block was overwritten \(class \d+/;
const WRITTEN = /^hakmem: a block was written after its free \(class \d+/;

export const CATEGORIES: readonly Category[] = [
  { id: "double_free_small", release: "abort", hardened: "abort", line: DOUBLE },
  { id: "double_free_small_delayed", release: "abort", hardened: "abort", line: DOUBLE },
  { id: "double_free_large", release: "abort", hardened: "abort", line: DOUBLE },
  { id: "double_free_large_delayed", release: "abort", hardened: "abort", line: DOUBLE },
  { id: "unaligned_free_small", release: "abort", hardened: "abort", line: INTERIOR },
  { id: "unaligned_free_large", release: "abort", hardened: "abort", line: INTERIOR },
  { id: "invalid_free_protected", release: "abort", hardened: "abort", line: FOREIGN },
  { id: "invalid_free_unprotected", release: "abort", hardened: "abort", line: FOREIGN },
  { id: "invalid_free_small_region", release: "abort", hardened: "abort", line: INTERIOR },
  { id: "invalid_free_small_region_far", release: "abort", hardened: "abort", line: FOREIGN },
  { id: "uninitialized_free", release: "abort", hardened: "abort", line: FOREIGN },
  {
    id: "uninitialized_realloc",
    release: "abort",
    hardened: "abort",
    line: /^hakmem: realloc of a pointer hakmem did not allocate/,
  },
  {
    id: "uninitialized_malloc_usable_size",
    release: "abort",
    hardened: "abort",
    line: /^hakmem: usable size of a pointer hakmem did not allocate/,
  },
  {
    id: "unaligned_malloc_usable_size_small",
    release: "abort",
    hardened: "abort",
    line: USABLE_BAD,
  },
  { id: "invalid_malloc_usable_size_small", release: "abort", hardened: "abort", line: USABLE_BAD },
  {
    id: "freed_malloc_usable_size_small",
    release: "abort",
    hardened: "abort",
    line: /^hakmem: usable size of a freed block: pointer/,
  },
  { id: "overflow_small_1_byte", release: "miss", hardened: "abort", hline: CANARY },
  { id: "overflow_small_8_byte", release: "miss", hardened: "abort", hline: CANARY },
  { id: "overflow_large_1_byte", release: "miss", hardened: "fault" },
  { id: "overflow_large_8_byte", release: "miss", hardened: "fault" },
  { id: "read_after_free_large", release: "miss", hardened: "fault" },
  { id: "write_after_free_large", release: "miss", hardened: "fault" },
  { id: "write_after_free_large_reuse", release: "miss", hardened: "fault" },
  { id: "write_after_free_small", release: "miss", hardened: "abort", hline: WRITTEN },
  { id: "write_after_free_small_reuse", release: "miss", hardened: "abort", hline: WRITTEN },
  { id: "read_zero_size", release: "fault", hardened: "fault" },
  { id: "write_zero_size", release: "fault", hardened: "fault" },
];

const SIZED_DELETE =
  /^hakmem: operator delete( \(sized, aligned\))?: size \d+ is larger than the block \(\d+ usable bytes\): pointer 0x/;

/** The categories of C++'s operators (corrupt_cxx.cc): every build stops them. */
export const CXX_CATEGORIES: readonly Category[] = [
  "delete_type_size_mismatch",
  "sized_delete_wrong_size_small",
  "sized_delete_wrong_size_large",
  "aligned_sized_delete_wrong_size_small",
  "aligned_sized_delete_wrong_size_large",
].map((id) => ({ id, release: "abort", hardened: "abort", line: SIZED_DELETE }));

const TOTAL = CATEGORIES.length + CXX_CATEGORIES.length; // 32
const RELEASE_TARGET = 23; // of 32
const HARDENED_TARGET = 31;

/** corrupt_cxx.cc built with the system's g++. */
function buildCxx(): Promise<string> {
  const dir = join(buildDir(hostTarget(), "release"), "bin", "reliability");
  const src = join(ROOT, "tests", "reliability", "corrupt_cxx.cc");
  return buildGxxProgram([src], join(dir, "corrupt_cxx-plain"));
}

/** What a run shows: a stop by a signal after the misuse, or none. */
function stopped(r: RunResult): boolean {
  return r.signal !== null && r.stdout.includes("misuse");
}

function problem(c: Category, config: Config, r: RunResult): string | null {
  const want = config === "release" ? c.release : c.hardened;
  if (!r.stdout.includes("misuse")) return `did not reach the misuse\n${describeRun(r)}`;
  if (want === "miss") {
    return r.signal === null && r.code === 2 && r.stdout.includes("NOT CAUGHT")
      ? null
      : `expected no detection\n${describeRun(r)}`;
  }
  if (want === "fault") {
    return r.signal === "SIGSEGV" || r.signal === "SIGBUS"
      ? null
      : `expected a fault (SIGSEGV)\n${describeRun(r)}`;
  }
  if (r.signal !== "SIGABRT") return `expected SIGABRT\n${describeRun(r)}`;
  const lines = hakmemLines(r);
  const line = config === "release" ? c.line : c.hline ?? c.line;
  if (lines.length !== 1 || (line && !line.test(lines[0]))) {
    return `expected one line matching ${line}\n${describeRun(r)}`;
  }
  return null;
}

Deno.test("corrupt: hakmem stops the process where its table says; glibc beside it", async () => {
  const exe = await buildPlain("corrupt");
  const cxx = await buildCxx();
  const programs: [string, readonly Category[]][] = [[exe, CATEGORIES], [cxx, CXX_CATEGORIES]];
  for (const [program, categories] of programs) {
    const list = await runUnder(program, ["list"], "glibc");
    assert.deepEqual(list.stdout.split("\n").filter((l) => l !== ""), categories.map((c) => c.id));
  }
  const limit = pLimit(4);
  const runs = await Promise.all(
    programs.flatMap(([program, categories]) =>
      categories.flatMap((c) =>
        CONFIGS.map((config) =>
          limit(async () => ({ c, config, r: await runUnder(program, [c.id], config) }))
        )
      )
    ),
  );
  const problems: string[] = [];
  const detected: Record<Config, number> = { glibc: 0, release: 0, hardened: 0, debug: 0 };
  const rows: string[] = [];
  for (const c of [...CATEGORIES, ...CXX_CATEGORIES]) {
    const cells = CONFIGS.map((config) => {
      const { r } = runs.find((x) => x.c === c && x.config === config)!;
      if (stopped(r)) detected[config]++;
      if (config !== "glibc") {
        const p = problem(c, config, r);
        if (p) problems.push(`${c.id} (${config}): ${p}`);
      }
      return stopped(r) ? (r.signal ?? "") : "-";
    });
    rows.push(`${c.id.padEnd(38)} ${cells.map((s) => s.padEnd(9)).join(" ")}`);
  }
  console.log(`${"category".padEnd(38)} ${CONFIGS.map((s) => s.padEnd(9)).join(" ")}`);
  console.log(rows.join("\n"));
  console.log(
    `stopped, of ${TOTAL}: ` + CONFIGS.map((k) => `${k} ${detected[k]}`).join(", "),
  );
  assert.deepEqual(problems, []);
  assert.ok(detected.release >= RELEASE_TARGET, `release ${detected.release}`);
  assert.ok(detected.hardened >= HARDENED_TARGET, `hardened ${detected.hardened}`);
  assert.ok(detected.debug >= HARDENED_TARGET, `debug ${detected.debug}`);
});
