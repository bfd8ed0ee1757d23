/** A process ends when its last thread does, in every mode: ACE's thread (learning mode,
 * HAKMEM_ACE_ENABLED=1) never keeps it alive. Each run has a time limit, so a process left alive
 * fails the test instead of hanging it (before, learning mode kept a program whose main thread
 * called pthread_exit alive forever, with only ACE's thread left, signals blocked). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildExecutable } from "../../tasks/build/build.ts";
import type { TargetName } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";
import { baseEnv, setup } from "./harness.ts";

const FIXTURE = new URL("./fixtures/lifetime.c", import.meta.url).pathname;
/** Ample for programs that end in well under a second; a hang fails within it. */
const LIMIT_MS = 20_000;
const MODES: Record<string, Record<string, string>> = {
  balanced: { HAKMEM_MODE: "balanced" },
  learning: { HAKMEM_MODE: "learning" },
  "ACE enabled": { HAKMEM_ACE_ENABLED: "1" },
};

/** The fixture, built (release) into the test's temporary folder. */
function lifetimeProgram(s: { target: TargetName; tmp: string }): Promise<string> {
  return buildExecutable({
    target: s.target,
    flavour: "release",
    sources: [FIXTURE],
    out: join(s.tmp, "lifetime"),
    link: "none",
  });
}

for (const [mode, extra] of Object.entries(MODES)) {
  Deno.test(`lifetime (${mode}): pthread_exit from main ends the process, atexit run`, async (t) => {
    const s = await setup(t, "release");
    if (s === null) return;
    const exe = await lifetimeProgram(s);
    const env = baseEnv({ LD_PRELOAD: s.so, ...extra });
    const r = await run([exe, "pthread_exit"], { env, timeoutMs: LIMIT_MS });
    assert.ok(!r.timedOut, `still alive after ${LIMIT_MS} ms: ${describeRun(r)}`);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, "atexit ran\n", describeRun(r));

    const f = await run([exe, "fork_thread"], { env, timeoutMs: LIMIT_MS });
    assert.ok(!f.timedOut, `a child forked from a thread stayed alive: ${describeRun(f)}`);
    assert.equal(f.code, 0, describeRun(f));
    assert.equal(f.stdout, "child exit 0\n", describeRun(f));
    await Deno.remove(s.tmp, { recursive: true });
  });
}

Deno.test("lifetime (learning): a single-threaded program keeps one thread, ACE ticks on its slow paths", async (t) => {
  const s = await setup(t, "release");
  if (s === null) return;
  const exe = await lifetimeProgram(s);
  // ticks every 20 ms (learning's default is 250): about 15 in the fixture's 300 ms
  const env = baseEnv({
    LD_PRELOAD: s.so,
    HAKMEM_MODE: "learning",
    HAKMEM_ACE_FAST_INTERVAL_MS: "20",
  });
  const r = await run([exe, "single"], { env, timeoutMs: LIMIT_MS });
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /^Threads:\s+1$/m, describeRun(r));
  const m = r.stdout.match(/^ace (\w+) ticks (\d+)$/m);
  assert.ok(m, describeRun(r));
  assert.equal(m[1], "inline", "no thread of its own");
  assert.ok(
    Number(m[2]) >= 5,
    `ACE ticked ${m[2]} times in 300 ms of allocation (one per 20 ms due)`,
  );
  // a multi-threaded process may not enter a new user namespace: unshare -U fails with EINVAL
  const plain = await run(["unshare", "-U", "true"], { env: baseEnv(), timeoutMs: LIMIT_MS });
  if (plain.code !== 0) {
    console.warn(`unshare -U fails here without hakmem too: ${describeRun(plain)}`);
  } else {
    const u = await run(["unshare", "-U", "true"], { env, timeoutMs: LIMIT_MS });
    assert.equal(u.code, 0, `unshare -U under learning: ${describeRun(u)}`);
  }
  await Deno.remove(s.tmp, { recursive: true });
});
