// CI policy for prerequisites: under CI=true nothing may be silently skipped.

/** True when running under CI (.ci/run exports CI=true). */
export const IS_CI: boolean = Deno.env.get("CI") === "true";

/** Whether this machine runs the bench: x86_64 Linux (its programs, runner and peers are built
 * for it). */
export const BENCH_HOST: boolean = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

/** `ignore` of a test that needs the bench's host: ignored elsewhere, but never under CI=true,
 * where nothing is skipped (the test runs and fails there). */
export const OFF_BENCH_HOST: boolean = !BENCH_HOST && !IS_CI;

/**
 * Reports a missing prerequisite of a test. Under CI=true it throws, so the test fails; elsewhere
 * it prints a note and returns, and the caller returns from the test:
 *
 *   if (!(await probeOk("qemu-aarch64-static"))) return skipOrFail(t, "qemu-aarch64-static missing");
 */
export function skipOrFail(t: Deno.TestContext | string, why: string): void {
  const name = typeof t === "string" ? t : t.name;
  if (IS_CI) {
    throw new Error(`${name}: prerequisite missing under CI: ${why}`);
  }
  console.warn(`SKIPPED ${name}: ${why} (this would fail under CI=true)`);
}
