/** Diagnostics of a preloaded hakmem, each in its own process (tests/preload/fixtures/diag.c and
 * real programs): a file that cannot be opened says why (the C library's own errno text), a stats
 * or trace file whose writes fail warns once, a trace set while ACE is off says so, a descriptor
 * the program closes or replaces is never written into, and HAKMEM_STATS=1 reaches the stderr the
 * program started with although the program closed its own (coreutils do) — without taking a
 * low descriptor number, leaking into programs it execs, or dying of SIGPIPE on a dead pipe. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { describeRun, run, type RunResult } from "../native/proc.ts";
import { baseEnv, type FixtureRun, fixtureTest, setup, stderrStats } from "./harness.ts";

const FIXTURE = new URL("./fixtures/diag.c", import.meta.url).pathname;

/** ACE ticks this often in the tests that wait for ticks, quiet, and with guards that a busy
 * machine cannot trip (a stopped ACE ticks no more). */
const ACE_FAST = {
  HAKMEM_MODE: "learning",
  HAKMEM_ACE_FAST_INTERVAL_MS: "10",
  HAKMEM_ACE_LOG_LEVEL: "0",
  HAKMEM_ACE_MAX_CPU_PERCENT: "100",
  HAKMEM_ACE_MAX_P99_LAT_NS: "1000000000000",
};

const libc = Deno.dlopen("libc.so.6", {
  strerror: { parameters: ["i32"], result: "pointer" },
});

/** The C library's text for an errno (this process runs in the C locale). */
function strerror(errno: number): string {
  const p = libc.symbols.strerror(errno);
  if (p === null) throw new Error(`strerror(${errno}) returned NULL`);
  return Deno.UnsafePointerView.getCString(p);
}

const ENOENT = 2;
const ENOTDIR = 20;
const EISDIR = 21;
const EINVAL = 22;
const ENOSPC = 28;

/** hakmem's lines on stderr. */
function hakLines(r: RunResult): string[] {
  return r.stderr.split("\n").filter((l) => l.startsWith("hakmem:"));
}

/** The one hakmem line of a run (anything else fails with the whole run shown). */
function oneLine(r: RunResult, what: string): string {
  const lines = hakLines(r);
  assert.equal(lines.length, 1, `${what}: one hakmem line\n${describeRun(r)}`);
  return lines[0];
}

function assertExit0(r: RunResult, what: string): void {
  assert.ok(!r.timedOut && r.signal === null && r.code === 0, `${what}\n${describeRun(r)}`);
}

type Ctx = FixtureRun;

function diagTest(name: string, fn: (c: Ctx) => Promise<void>): void {
  fixtureTest(`diagnostics: ${name}`, "release", FIXTURE, fn);
}

/** Runs the fixture preloaded with these HAKMEM_* variables. */
function diag(c: Ctx, args: string[], env: Record<string, string>): Promise<RunResult> {
  return run([c.exe, ...args], { env: baseEnv({ LD_PRELOAD: c.so, ...env }) });
}

interface WarningCase {
  /** the file's variable last */
  env: Record<string, string>;
  args: string[];
  errno: number;
  /** what the warning says is lost */
  lost?: string;
}

/** Each case gives exactly one line: "hakmem: warning: VAR=path cannot be <verb> (libc's text of
 * errno)…", and the program still exits 0. */
async function expectWarnings(c: Ctx, cases: WarningCase[], verb: string): Promise<void> {
  for (const k of cases) {
    const r = await diag(c, k.args, k.env);
    const what = JSON.stringify(k.env);
    assertExit0(r, what);
    const line = oneLine(r, what);
    const [name, path] = Object.entries(k.env).at(-1)!;
    const head = `hakmem: warning: ${name}=${path} cannot be ${verb} (${strerror(k.errno)})`;
    assert.ok(line.startsWith(head), `${line}\nexpected: ${head}`);
    if (k.lost) assert.ok(line.includes(k.lost), line);
  }
}

diagTest("a stats or trace file that cannot be opened says why, in libc's words", async (c) => {
  await Deno.writeTextFile(join(c.tmp, "file"), "");
  const cases: WarningCase[] = [
    {
      env: { HAKMEM_STATS_FILE: join(c.tmp, "no", "such", "dir.json") },
      args: ["plain"],
      errno: ENOENT,
      lost: "no statistics written",
    },
    { env: { HAKMEM_STATS_FILE: c.tmp }, args: ["plain"], errno: EISDIR },
    {
      env: { HAKMEM_STATS_FILE: join(c.tmp, "file", "s.json") },
      args: ["plain"],
      errno: ENOTDIR,
    },
    {
      env: { ...ACE_FAST, HAKMEM_ACE_TRACE: join(c.tmp, "no", "dir", "t.jsonl") },
      args: ["ace-ticks", "2"],
      errno: ENOENT,
      lost: "no trace written",
    },
  ];
  await expectWarnings(c, cases, "opened");
});

diagTest("a stats or trace file whose writes fail warns once, naming the reason", async (c) => {
  const cases: WarningCase[] = [
    { env: { HAKMEM_STATS_FILE: "/dev/full" }, args: ["plain"], errno: ENOSPC },
    // a /proc file that refuses the text
    { env: { HAKMEM_STATS_FILE: "/proc/self/clear_refs" }, args: ["plain"], errno: EINVAL },
    // every tick would write a line: still one warning
    {
      env: { ...ACE_FAST, HAKMEM_ACE_TRACE: "/dev/full" },
      args: ["ace-ticks", "5"],
      errno: ENOSPC,
    },
  ];
  await expectWarnings(c, cases, "written");
});

diagTest(
  "a trace descriptor the program closes or replaces: one warning, no write into the program's file",
  async (c) => {
    const trace = join(c.tmp, "closed.jsonl");
    const closed = await diag(c, ["trace-close", trace, "4"], {
      ...ACE_FAST,
      HAKMEM_ACE_TRACE: trace,
    });
    assertExit0(closed, "trace-close");
    assert.match(
      oneLine(closed, "trace-close"),
      /^hakmem: warning: HAKMEM_ACE_TRACE=\S+closed\.jsonl cannot be written \(descriptor \d+ was closed or replaced by the program\)/,
    );

    const trace2 = join(c.tmp, "replaced.jsonl");
    const mine = join(c.tmp, "program.txt");
    const replaced = await diag(c, ["trace-replace", trace2, mine, "4"], {
      ...ACE_FAST,
      HAKMEM_ACE_TRACE: trace2,
    });
    assertExit0(replaced, "trace-replace");
    assert.match(oneLine(replaced, "trace-replace"), /was closed or replaced by the program/);
    assert.equal(await Deno.readTextFile(mine), "program data\n", "the program's file is its own");
    // what was traced before the swap is intact
    const lines = (await Deno.readTextFile(trace2)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].kind, "start");
    assert.ok(lines.some((l) => l.kind === "tick"), "ticks traced before the swap");
  },
);

diagTest("HAKMEM_ACE_TRACE while ACE is off: one warning saying so, no file", async (c) => {
  for (
    const [env, mode] of [
      [{}, "balanced"],
      [{ HAKMEM_MODE: "learning", HAKMEM_ACE_ENABLED: "0" }, "learning"],
    ] as const
  ) {
    const trace = join(c.tmp, `${mode}.jsonl`);
    const r = await diag(c, ["plain"], { ...env, HAKMEM_ACE_TRACE: trace });
    assertExit0(r, mode);
    assert.equal(
      oneLine(r, mode),
      `hakmem: warning: HAKMEM_ACE_TRACE=${trace} is set but ACE is off ` +
        `(HAKMEM_ACE_ENABLED=0, mode ${mode}); no trace written`,
    );
    await assert.rejects(Deno.stat(trace), Deno.errors.NotFound);
  }
  // with ACE on, no such warning and a trace
  const trace = join(c.tmp, "on.jsonl");
  const on = await diag(c, ["ace-ticks", "2"], { ...ACE_FAST, HAKMEM_ACE_TRACE: trace });
  assertExit0(on, "ACE on");
  assert.deepEqual(hakLines(on).filter((l) => l.includes("warning")), [], describeRun(on));
  assert.ok((await Deno.readTextFile(trace)).includes('"kind":"tick"'));
});

Deno.test("diagnostics: hakmem's errno texts are the C library's", async (t) => {
  // core/src/os/out.c keeps its own table (strerror would take the locale lock inside malloc):
  // every entry must read as glibc's strerror, asked through Python's os.strerror.
  if (!(await probeOk("python3"))) return skipOrFail(t, "python3 is not installed");
  const source = await Deno.readTextFile(new URL("../../core/src/os/out.c", import.meta.url));
  const table = [...source.matchAll(/X\((E[A-Z0-9]+), "([^"]+)"\)/g)].map((m) => [m[1], m[2]]);
  assert.ok(table.length >= 20, `only ${table.length} entries read from out.c`);
  const names = JSON.stringify(table.map(([name]) => name));
  const r = await run([
    "python3",
    "-c",
    `import errno, json, os; print(json.dumps([os.strerror(getattr(errno, n)) for n in ${names}]))`,
  ]);
  assertExit0(r, "python3 os.strerror");
  const libcTexts = JSON.parse(r.stdout) as string[];
  assert.deepEqual(table.map(([, text]) => text), libcTexts);
});

/** One "hakmem stats" block on stderr, from this process. */
function assertStatsPrinted(r: RunResult, what: string): void {
  assertExit0(r, what);
  const blocks = stderrStats(r.stderr);
  assert.equal(blocks.length, 1, `${what}: one statistics block\n${describeRun(r)}`);
  assert.ok(blocks[0].tiny > 0, `${what}: tiny allocations counted\n${describeRun(r)}`);
}

Deno.test("diagnostics: HAKMEM_STATS=1 in coreutils, which close stderr at exit", async (t) => {
  if (!(await probeOk("ls"))) {
    return skipOrFail(t, "ls is not installed (Debian package coreutils)");
  }
  const s = await setup(t, "release");
  if (!s) return;
  try {
    for (const argv of [["ls", "/"], ["cat", "/proc/self/status"], ["sort", "/etc/passwd"]]) {
      const r = await run(argv, { env: baseEnv({ LD_PRELOAD: s.so, HAKMEM_STATS: "1" }) });
      assertStatsPrinted(r, argv.join(" "));
    }
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});

diagTest(
  "HAKMEM_STATS=1 reaches the stderr of the start when the program closes or reuses fd 2",
  async (c) => {
    const stats = { HAKMEM_STATS: "1" };
    assertStatsPrinted(await diag(c, ["close-stderr"], stats), "close-stderr");
    assertStatsPrinted(await diag(c, ["closefrom"], stats), "closefrom (the duplicate closed)");
    const file = join(c.tmp, "program.txt");
    assertStatsPrinted(await diag(c, ["reuse-stderr", file], stats), "reuse-stderr");
    assert.equal(
      await Deno.readTextFile(file),
      "program data\n",
      "fd 2's new file is the program's",
    );
  },
);

diagTest(
  "HAKMEM_STATS=1 keeps one high close-on-exec descriptor and survives a dead stderr pipe",
  async (c) => {
    const fds = (r: RunResult) => {
      assertExit0(r, "fds");
      const m = /^fds:((?: \d+)*)$/m.exec(r.stdout);
      assert.ok(m, describeRun(r));
      return m[1].trim().split(" ").map(Number);
    };
    const plain = fds(await diag(c, ["fds"], {}));
    const kept = fds(await diag(c, ["fds"], { HAKMEM_STATS: "1" }));
    const extra = kept.filter((fd) => !plain.includes(fd));
    assert.equal(extra.length, 1, `one more descriptor: ${plain} vs ${kept}`);
    assert.ok(extra[0] >= 100, `numbered high, the low numbers stay the program's: ${extra[0]}`);
    assert.deepEqual(kept.filter((fd) => fd !== extra[0]), plain);
    // a program exec'd from it (without HAKMEM_STATS) does not inherit it
    assert.deepEqual(fds(await diag(c, ["exec-fds"], { HAKMEM_STATS: "1" })), plain);
    // the statistics written into a pipe whose reader is gone: the process still exits 0
    const r = await diag(c, ["broken-stderr"], { HAKMEM_STATS: "1" });
    assertExit0(r, "broken-stderr");
    assert.equal(r.stdout.trim(), "child exit 0", describeRun(r));
  },
);
