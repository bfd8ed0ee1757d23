/** The crash note: a program without its own handler that dies of SIGSEGV or SIGABRT leaves one
 * "hakmem: crash:" line and still dies of that signal; HAKMEM_CRASH_NOTE=0 turns the note off.
 * Also malloc_trim(), which a preloaded hakmem answers. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildExecutable } from "../../tasks/build/build.ts";
import { describeRun, run } from "../native/proc.ts";
import { baseEnv, setup } from "./harness.ts";

const FIXTURE = new URL("./fixtures/crash.c", import.meta.url).pathname;

async function crashProgram(tmp: string, target: Parameters<typeof buildExecutable>[0]["target"]) {
  return await buildExecutable({
    target,
    flavour: "release",
    sources: [FIXTURE],
    out: join(tmp, "crash"),
    link: "none",
  });
}

for (
  const [how, signal, name] of [
    // a fault names its address; a signal sent (kill, abort's tgkill) names its sender instead
    ["segv", "SIGSEGV", /signal 11 \(SIGSEGV\) at address \(nil\), pid (\d+)$/],
    ["abort", "SIGABRT", /signal 6 \(SIGABRT\) sent by pid (\d+), pid (\d+)$/],
    ["kill", "SIGSEGV", /signal 11 \(SIGSEGV\) sent by pid (\d+), pid (\d+)$/],
  ] as const
) {
  Deno.test(`crash note: ${how} leaves one line and the process still dies of ${signal}`, async (t) => {
    const s = await setup(t, "release");
    if (s === null) return;
    const exe = await crashProgram(s.tmp, s.target);
    const on = await run([exe, how], { env: baseEnv({ LD_PRELOAD: s.so }) });
    assert.equal(on.signal, signal, describeRun(on));
    const notes = on.stderr.split("\n").filter((l) => l.startsWith("hakmem: crash:"));
    assert.equal(notes.length, 1, describeRun(on));
    const m = notes[0].match(name);
    assert.ok(m, notes[0]);
    if (how !== "segv") assert.equal(m[1], m[2], "the process sent it to itself");

    const off = await run([exe, how], {
      env: baseEnv({ LD_PRELOAD: s.so, HAKMEM_CRASH_NOTE: "0" }),
    });
    assert.equal(off.signal, signal, describeRun(off));
    assert.ok(!off.stderr.includes("hakmem: crash:"), describeRun(off));
    await Deno.remove(s.tmp, { recursive: true });
  });
}

Deno.test("malloc_trim: a preloaded hakmem answers it and gives cached memory back", async (t) => {
  const s = await setup(t, "release");
  if (s === null) return;
  const exe = await crashProgram(s.tmp, s.target);
  const stats = join(s.tmp, "stats.json");
  const r = await run([exe, "trim"], {
    env: baseEnv({ LD_PRELOAD: s.so, HAKMEM_STATS_FILE: stats }),
  });
  assert.equal(r.code, 0, describeRun(r));
  // 64 freed blocks of 64 KiB .. 4 MiB wait in BigCache and segments until the trim.
  assert.equal(r.stdout.trim(), "malloc_trim=1", describeRun(r));
  const st = JSON.parse(await Deno.readTextFile(stats));
  assert.equal(st.tiers.large.bytes_reserved, 0, "large blocks still cached after malloc_trim");
  assert.ok(st.syscalls.munmap > 0);
  await Deno.remove(s.tmp, { recursive: true });
});
