// CI policy for prerequisites: under CI=true nothing may be silently skipped.

/** True when running under CI (.ci/run exports CI=true). */
export const IS_CI: boolean = Deno.env.get("CI") === "true";

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
