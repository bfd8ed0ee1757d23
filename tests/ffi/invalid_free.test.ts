/** Invalid frees abort the process with a one-line "hakmem: " message naming
 * the pointer (each case in its own subprocess). */
import assert from "node:assert/strict";
import { run } from "../../tasks/lib/run.ts";
import { type Flavour, FLAVOURS, notBuilt, repoRoot } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/invalid_free.ts", import.meta.url).pathname;

/** The sized frees' cases and the problem their line names. */
const SIZED: Record<string, RegExp> = {
  "sized-too-big": /^hakmem: free_sized: size \d+ is larger than the block \(\d+ usable bytes\)/,
  "sized-too-big-large": /^hakmem: free_sized: size \d+ is larger than the block/,
  "aligned-not-pow2": /^hakmem: free_aligned_sized: alignment 24 is not a power of two/,
  "aligned-misaligned": /^hakmem: free_aligned_sized: the pointer is not aligned to 4096/,
};

/** Cases every flavour must catch (untrue sized frees too: C++'s sized deletes go the same way);
 * double frees are checked here in debug only (hostile.test.ts checks them in both). */
const ALWAYS = [
  "interior-tiny",
  "interior-mid",
  "interior-large",
  "foreign-libc",
  "foreign-js",
  ...Object.keys(SIZED),
];
const DEBUG_ONLY = ["double-tiny", "double-mid", "double-large"];

function runCase(flavour: Flavour, which: string) {
  return run(Deno.execPath(), ["run", "-A", "--quiet", FIXTURE, flavour, which], {
    scrub: true,
    env: { HAKMEM_ROOT: repoRoot() },
  });
}

for (const flavour of FLAVOURS) {
  const cases = flavour === "debug" ? [...ALWAYS, ...DEBUG_ONLY] : ALWAYS;
  Deno.test({
    name: `invalid_free[${flavour}] aborts with a message naming the pointer`,
    ignore: notBuilt(flavour),
    async fn() {
      const results = await Promise.all(cases.map((c) => runCase(flavour, c)));
      const problems: string[] = [];
      cases.forEach((c, i) => {
        const r = results[i];
        const m = /ptr=0x([0-9a-f]+)/.exec(r.stdout);
        if (!m) {
          problems.push(`${c}: fixture did not reach the free:\n${r.stderr}`);
          return;
        }
        const digits = m[1];
        const lines = r.stderr.split("\n").filter((l) => l.startsWith("hakmem: "));
        const named = lines.some((l) => l.toLowerCase().includes(digits));
        if (r.signal !== "SIGABRT") {
          problems.push(
            `${c}: expected SIGABRT, got signal ${r.signal} code ${r.code}` +
              ` (stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`,
          );
        } else if (!named) {
          problems.push(`${c}: no "hakmem: " line naming 0x${digits}: ${JSON.stringify(r.stderr)}`);
        } else if (c in SIZED && !lines.some((l) => SIZED[c].test(l))) {
          problems.push(`${c}: no line saying ${SIZED[c]}: ${JSON.stringify(r.stderr)}`);
        }
      });
      assert.deepEqual(problems, []);
    },
  });
}
