// Running test programs (tasks/lib/run.ts, with a default time limit) and reading how they ended.
// Shared by the native, preload, reliability, sanitizer and dist tests.

import { runArgv, type RunOptions, type RunResult } from "../../tasks/lib/run.ts";

export type { RunOptions, RunResult };
/** The library of a target and flavour, built when missing (tasks/build/build.ts). */
export { ensureLibrary } from "../../tasks/build/build.ts";

/** A test program's default time limit. */
export const TEST_TIMEOUT_MS = 120_000;

/** Runs argv[0] with argv[1..], capturing stdout and stderr, killed after TEST_TIMEOUT_MS unless
 * `opts.timeoutMs` says otherwise. Never throws for how the program ended. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runArgv(argv, { timeoutMs: TEST_TIMEOUT_MS, ...opts });
}

/** A readable account of a run: command, status, and both outputs (tails when long). */
export function describeRun(r: RunResult, maxChars = 6000): string {
  const tail = (s: string) =>
    s.length > maxChars ? `...(${s.length - maxChars} chars cut)\n${s.slice(-maxChars)}` : s;
  const status = r.timedOut
    ? `killed after the time limit (${r.seconds.toFixed(1)} s)`
    : r.signal
    ? `killed by ${r.signal}`
    : `exit code ${r.code}`;
  return `$ ${r.argv.join(" ")}\n${status} after ${r.seconds.toFixed(2)} s\n--- stdout ---\n${
    tail(r.stdout)
  }\n--- stderr ---\n${tail(r.stderr)}`;
}

/** Throws with the full account unless the run exited 0 in time. */
export function assertSuccess(r: RunResult, what: string): void {
  if (r.timedOut || r.signal !== null || r.code !== 0) {
    throw new Error(`${what} failed\n${describeRun(r)}`);
  }
}

/** The seed of the native, sanitizer and fuzz tests' programs: fixed, so that every run does the
 * same work; HAKMEM_TEST_SEED picks another (to replay a failure or explore). Printed. */
export const DEFAULT_TEST_SEED = "0x5eed5eed5eed5eed";

export function testSeed(): string {
  const seed = Deno.env.get("HAKMEM_TEST_SEED") || DEFAULT_TEST_SEED;
  console.log(`seed ${seed} (HAKMEM_TEST_SEED=<seed> replays or picks another)`);
  return seed;
}
