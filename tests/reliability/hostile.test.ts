// Hostile input: every case of tests/reliability/hostile.c runs in its own child process, on the
// release and the debug flavour, and must end with the documented outcome:
//  - misuse (double free of every tier — also after unrelated allocations, from another
//    thread and while the block's slab is not current —, interior pointers of every tier, stack/global/wild pointers, realloc of a freed
//    block, malloc_usable_size of a freed block): SIGABRT after exactly one stderr line "hakmem: <problem>: pointer 0x…" that names
//    the problem and the pointer. Never SIGSEGV, never a silent return.
//  - API cases (alignments that are not powers of two, sizes near SIZE_MAX): NULL with the
//    right errno for every call, and the program prints OK.

import assert from "node:assert/strict";
import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";

const FLAVOURS: readonly Flavour[] = ["release", "debug"];

/** Words the one stderr line must contain, per case. A large block freed twice may already be
 * unmapped, in which case hakmem cannot tell it from a foreign pointer. */
const EXPECT: Record<string, RegExp> = {
  "double-free-tiny": /double free/,
  "double-free-mid": /double free/,
  "double-free-large": /double free|did not allocate/,
  "interior-tiny": /interior/,
  "interior-mid": /interior/,
  "interior-large": /interior/,
  "interior-large-page": /interior/,
  // a line before a coloured span or large block: its colour, or the room past the header
  "before-span": /interior/,
  "before-large": /interior/,
  "realloc-freed-tiny": /realloc of a freed block/,
  "realloc-freed-mid": /realloc of a freed block/,
  "realloc-freed-large": /realloc of a freed block|did not allocate/,
  "usable-size-freed-tiny": /usable size of a freed block/,
  "usable-size-freed-mid": /usable size of a freed block/,
  "usable-size-freed-large": /usable size of a freed block|did not allocate/,
  "free-stack": /did not allocate/,
  "free-global": /did not allocate/,
  "free-wild-low": /did not allocate/,
  "free-wild-high": /did not allocate/,
  // a span (a block past the mid tier, below the large one) freed by its owner is parked
  "double-free-span": /double free/,
  "interior-span": /interior/,
  "realloc-freed-span": /realloc of a freed block/,
  "usable-size-freed-span": /usable size of a freed block/,
};
for (const tier of ["tiny", "mid", "span", "large"]) {
  for (const v of ["after", "remote", "owner"]) {
    EXPECT[`double-free-${v}-${tier}`] = EXPECT[`double-free-${tier}`];
  }
}
// freed while another slab of the class is current (a mid block waits on the class's hot stack)
for (const tier of ["tiny", "mid"]) EXPECT[`double-free-hot-${tier}`] = /double free/;
const API_CASES = ["bad-alignment", "huge-size"];

/** Checks one misuse case's run; returns a problem description or null. */
function misuseProblem(name: string, r: Awaited<ReturnType<typeof run>>): string | null {
  const m = /ptr=0x([0-9a-f]+)/.exec(r.stdout);
  if (!m) return `did not reach the misuse\n${describeRun(r)}`;
  if (r.signal !== "SIGABRT") return `expected SIGABRT\n${describeRun(r)}`;
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  if (lines.length !== 1) return `expected exactly one stderr line\n${describeRun(r)}`;
  const line = lines[0];
  if (!line.startsWith("hakmem: ")) return `stderr line does not start "hakmem: "\n${line}`;
  if (!EXPECT[name].test(line)) return `stderr line does not match ${EXPECT[name]}: ${line}`;
  if (!line.toLowerCase().includes(`0x${m[1]}`)) return `stderr line does not name 0x${m[1]}`;
  return null;
}

for (const flavour of FLAVOURS) {
  Deno.test(`hostile input ${flavour}: misuse aborts with one named line`, async (t) => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("hostile", target, flavour);
    const list = await run([...commandOf(target, exe), "list"]);
    const cases = list.stdout.split("\n").filter((c) => c !== "" && !API_CASES.includes(c));
    assert.deepEqual([...cases].sort(), Object.keys(EXPECT).sort(), "case list of hostile.c");
    for (const name of cases) {
      await t.step(name, async () => {
        const r = await run([...commandOf(target, exe), name], {
          scrub: true,
          timeoutMs: 30_000,
        });
        const problem = misuseProblem(name, r);
        if (problem) throw new Error(`${name} (${flavour}): ${problem}`);
      });
    }
  });

  for (const name of API_CASES) {
    Deno.test(`hostile input ${flavour}: ${name} gives NULL with errno`, async () => {
      const target = hostTarget();
      const exe = await buildReliabilityProgram("hostile", target, flavour);
      const r = await run([...commandOf(target, exe), name], {
        scrub: true,
        timeoutMs: 30_000,
      });
      if (r.signal !== null || r.code !== 0 || !r.stdout.includes("OK")) {
        throw new Error(`${name} (${flavour}) failed\n${describeRun(r)}`);
      }
      if (r.stderr.trim() !== "") throw new Error(`${name}: unexpected stderr\n${r.stderr}`);
    });
  }
}
