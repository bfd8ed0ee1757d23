// The random-walk fuzzer under a bounded budget (what CI runs): the seeded driver for 20 s on the
// release and 10 s on the debug flavour (x86_64), the coverage-guided libFuzzer driver under
// ASan+UBSan for 30 s, plus checks of the drivers themselves: the same seed gives the same
// operations, and a planted fault is found, shrunk to a couple of ops and replayed.
//
// HAKMEM_FUZZ_SCALE multiplies the budgets (default 1). HAKMEM_TEST_SEED fixes the seed of the
// seeded runs (each prints its seed and how to replay a failure).

import assert from "node:assert/strict";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { clangMissing } from "../../tasks/build/clang.ts";
import { runLibFuzzer, runSeeded, type SeededSummary } from "../../tasks/test/fuzz.ts";
import { endText } from "../../tasks/lib/run.ts";
import type { Flavour, TargetName } from "../../tasks/lib/targets.ts";
import { testSeed } from "../native/proc.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const TARGET: TargetName = "x86_64-linux-gnu";

function budget(seconds: number): number {
  const s = Number(Deno.env.get("HAKMEM_FUZZ_SCALE") ?? "1");
  return Math.max(1, Math.round(seconds * (Number.isFinite(s) && s > 0 ? s : 1)));
}

function tail(s: string, n = 4000): string {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

async function seededBudget(flavour: Flavour, seconds: number): Promise<void> {
  const seed = testSeed();
  const r = await runSeeded({
    target: TARGET,
    flavour,
    seconds: budget(seconds),
    seed,
    echo: false,
  });
  const s = r.summary;
  if (!s?.ok) {
    throw new Error(
      `seeded fuzzing (${flavour}, seed ${seed}) failed (${endText(r)})\n` +
        `--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`,
    );
  }
  console.log(
    `fuzz seeded ${TARGET} ${flavour}: ${s.ops} ops (${s.stream_ops} from the stream) in ` +
      `${s.cases} cases, ${s.seconds?.toFixed(1)} s; allocs ${s.allocs}, cross-thread frees ` +
      `${s.cross_frees}, thread exits ${s.thread_exits}, bursts ${s.bursts}; seed ${s.seed}`,
  );
  assert(s.ops > 0 && (s.cross_frees ?? 0) > 0 && (s.thread_exits ?? 0) > 0);
}

Deno.test("fuzz: seeded driver, 20 s, release", async () => {
  await seededBudget("release", 20);
});

Deno.test("fuzz: seeded driver, 10 s, debug", async () => {
  await seededBudget("debug", 10);
});

Deno.test("fuzz: the same seed and case run the same operations", async () => {
  const one = async (): Promise<SeededSummary> => {
    const r = await runSeeded({
      target: TARGET,
      flavour: "release",
      seconds: 1,
      seed: "0x5eed",
      caseIndex: 3,
      echo: false,
    });
    assert(r.summary?.ok, `case 3 of seed 0x5eed failed:\n${tail(r.stdout + r.stderr)}`);
    return r.summary!;
  };
  const a = await one(), b = await one();
  for (
    const k of ["ops", "stream_ops", "allocs", "frees", "cross_frees", "thread_exits"] as const
  ) {
    assert.equal(a[k], b[k], `${k} differs between two runs of the same case`);
  }
});

Deno.test("fuzz: a planted fault is found, shrunk and replayed", async () => {
  // HAK_FUZZ_PLANT=1 flips a byte of every 1000..1009-byte block before it is freed, as an
  // allocator handing out overlapping blocks would.
  const r = await runSeeded({
    target: TARGET,
    flavour: "release",
    seconds: 10,
    seed: "0x1",
    env: { HAK_FUZZ_PLANT: "1" },
    shrinkSeconds: 30,
    echo: false,
  });
  const s = r.summary;
  assert.ok(s && !s.ok, `the planted fault went unnoticed:\n${tail(r.stdout + r.stderr)}`);
  assert.equal(r.code, 1);
  assert(r.stdout.includes("content mismatch"), tail(r.stdout));
  assert((s.min_ops ?? 99) <= 3, `shrunk to ${s.min_ops} ops only:\n${tail(r.stdout)}`);
  const file = /fuzz: replay: .* --replay (\S+)/.exec(r.stdout)?.[1];
  assert(file, `no replay command printed:\n${tail(r.stdout)}`);
  assert(r.stdout.includes("deno task fuzz --target x86_64-linux-gnu --flavour release"));
  const again = await runSeeded({
    target: TARGET,
    flavour: "release",
    seconds: 1,
    replay: file,
    env: { HAK_FUZZ_PLANT: "1" },
    echo: false,
  });
  assert(again.summary && !again.summary.ok, `the replay passed:\n${tail(again.stdout)}`);
  const clean = await runSeeded({
    target: TARGET,
    flavour: "release",
    seconds: 1,
    replay: file,
    echo: false,
  });
  assert(clean.summary?.ok, `without the fault the replay fails:\n${tail(clean.stdout)}`);
  console.log(`planted fault shrunk to ${s.min_ops} op(s): ${file}`);
});

Deno.test("fuzz: libFuzzer driver, 30 s, ASan+UBSan", async (t) => {
  const missing = await clangMissing();
  if (missing) return skipOrFail(t, missing);
  const corpus = await Deno.makeTempDir({ prefix: "hakmem-fuzz-corpus-" });
  try {
    const r = await runLibFuzzer({ seconds: budget(30), corpus, echo: false });
    const s = r.summary;
    if (r.code !== 0 || !s) {
      throw new Error(
        `libFuzzer failed (${endText(r)})\n--- stderr ---\n${tail(r.stderr, 12000)}`,
      );
    }
    console.log(
      `fuzz libFuzzer (ASan+UBSan, hakmem compiled in): ${s.ops} ops (${s.stream_ops} from the ` +
        `inputs) in ${s.inputs} inputs, ${r.seconds.toFixed(1)} s; allocs ${s.allocs}, ` +
        `cross-thread frees ${s.cross_frees}`,
    );
    assert(s.inputs > 0 && s.ops > 0);
  } finally {
    await removeIfPresent(corpus);
  }
});
