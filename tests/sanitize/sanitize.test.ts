// The native multi-threaded tests and the fuzzer's interpreter with hakmem's own sources compiled
// into the test binary under the sanitizers (Debian's clang-19: zig cc 0.15.2 ships no sanitizer
// runtime), -DHAK_NO_OVERRIDE=1 so the sanitizer keeps malloc, and the test code's malloc/free/...
// renamed to hak_* by tests/sanitize/hak_names.h (-include). hakmem is never preloaded into a
// sanitized process.
//
//  - ASan+UBSan (UBSan non-recoverable): mt_churn, remote_free, thread_churn, fork_mt, and the
//    seeded fuzzer (cases in forked children).
//  - TSan: the same four programs (fork_mt with die_after_fork=0: its children start threads),
//    and the seeded fuzzer (cases in forked children; its bursts run four workers at once).
//    No suppressions: a race report fails the test.
//
// HAKMEM_TEST_SEED replays a seed; HAKMEM_SANITIZE_SCALE multiplies the amount of work.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import {
  buildClangProgram,
  clangMissing,
  sanitizerEnv,
  type Sanitizers,
} from "../../tasks/build/clang.ts";
import { FUZZ_DIR, FUZZ_OUT } from "../../tasks/test/fuzz.ts";
import { describeRun, run, type RunResult, testSeed } from "../native/proc.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const NATIVE = join(HERE, "..", "native");
const NAMES_H = join(HERE, "hak_names.h");
const PROGRAMS = ["mt_churn", "remote_free", "thread_churn", "fork_mt"] as const;
const TIMEOUT_MS = 300_000;

function scale(base: number): number {
  const s = Number(Deno.env.get("HAKMEM_SANITIZE_SCALE") ?? "1");
  return base * (Number.isFinite(s) && s > 0 ? s : 1);
}

const REPORT =
  /ERROR: (?:Address|Leak|UndefinedBehavior)Sanitizer|runtime error:|WARNING: ThreadSanitizer/;

/** Throws with the whole output unless the run exited 0 in time, printed `ok`, and no sanitizer
 * reported anything. */
function check(r: RunResult, label: string, ok: string): void {
  const bad = r.timedOut || r.signal !== null || r.code !== 0 || !r.stdout.includes(ok) ||
    REPORT.test(r.stderr);
  if (bad) throw new Error(`${label} failed\n${describeRun(r, 20000)}`);
  console.log(`${label}: ${r.seconds.toFixed(1)} s`);
}

const KINDS: { name: string; san: Sanitizers; scale: number }[] = [
  { name: "ASan+UBSan", san: "address,undefined", scale: 1 },
  { name: "TSan", san: "thread", scale: 0.25 },
];

for (const kind of KINDS) {
  for (const prog of PROGRAMS) {
    Deno.test(`sanitize ${kind.name} ${prog}`, async (t) => {
      const missing = await clangMissing();
      if (missing) return skipOrFail(t, missing);
      const exe = await buildClangProgram({
        name: prog,
        sanitize: kind.san,
        sources: [join(NATIVE, `${prog}.c`)],
        include: [NAMES_H],
        extraFlags: ["-std=c11"],
      });
      const seed = testSeed();
      const r = await run([exe, seed, String(scale(kind.scale))], {
        timeoutMs: TIMEOUT_MS,
        scrub: true,
        env: sanitizerEnv(),
      });
      check(
        r,
        `${prog} under ${kind.name} (seed ${seed}; replay with HAKMEM_TEST_SEED)`,
        `${prog}: OK`,
      );
    });
  }

  Deno.test(`sanitize ${kind.name} fuzzer interpreter (seeded, 10 s)`, async (t) => {
    const missing = await clangMissing();
    if (missing) return skipOrFail(t, missing);
    const exe = await buildClangProgram({
      name: "fuzz_seeded",
      sanitize: kind.san,
      sources: [join(FUZZ_DIR, "seeded.c"), join(FUZZ_DIR, "interp.c")],
    });
    const seed = testSeed();
    await Deno.mkdir(FUZZ_OUT, { recursive: true });
    const args = ["--seed", seed, "--seconds", String(scale(10)), "--out", FUZZ_OUT];
    args.push("--shrink-seconds", "60", "--replay-prefix", exe);
    const r = await run([exe, ...args], {
      timeoutMs: TIMEOUT_MS,
      scrub: true,
      env: sanitizerEnv(),
    });
    const summary = r.stdout.split("\n").find((l) => l.startsWith("fuzz: OK")) ?? "";
    check(r, `fuzzer interpreter under ${kind.name} (seed ${seed}): ${summary}`, "fuzz: OK");
  });
}
