// LD_PRELOAD tests: real programs (python3, git, a multi-threaded C program that knows nothing of
// hakmem) run once without and once with LD_PRELOAD=dist/<host target>/<flavour>/libhakmem.so.
// Each test asserts: both runs exit 0, their output is identical, and hakmem really served the
// preloaded run: HAKMEM_STATS_FILE (a per-run path, written by the process at exit) holds JSON with
// tiers.tiny.allocs > 0, and where the program can tell, libhakmem.so is in its /proc/self/maps.
//
// A process that forks or execs children (git gc runs several) has every hakmem process write the
// same stats file at its exit: the last writer wins. Each of them is a hakmem process, so
// allocs > 0 holds whichever wrote last. The shared helpers are in harness.ts; sqlite3, redis and
// gcc are in programs.test.ts.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildExecutable } from "../../tasks/build/build.ts";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { buildDir, type Flavour, runnerPrefix, type TargetName } from "../../tasks/lib/targets.ts";
import { assertSuccess, describeRun, run } from "../native/proc.ts";
import {
  assertMapped,
  baseEnv,
  HOST_TARGET,
  readStats,
  runBoth,
  setup,
  summary,
} from "./harness.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** The real interpreter behind python3 (not a version manager's shell shim). */
async function pythonExe(): Promise<string | null> {
  if (!(await probeOk("python3"))) return null;
  const r = await run(["python3", "-c", "import sys; print(sys.executable)"]);
  const exe = r.stdout.trim();
  return r.code === 0 && exe ? exe : null;
}

// ---------------------------------------------------------------------------------------------
// /proc/self/maps of a plain program

Deno.test("preload: libhakmem.so is mapped into a preloaded process", async (t) => {
  const s = await setup(t, "release");
  if (!s) return;
  try {
    const statsFile = join(s.tmp, "cat.json");
    const r = await run(["cat", "/proc/self/maps"], {
      env: baseEnv({ LD_PRELOAD: s.so, HAKMEM_STATS_FILE: statsFile }),
    });
    assertSuccess(r, "cat /proc/self/maps");
    if (!r.stdout.includes("libhakmem.so")) {
      throw new Error(`libhakmem.so not mapped:\n${describeRun(r)}`);
    }
    await readStats(statsFile, "cat /proc/self/maps");
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// python3

const PYTHON_CASES: { flavour: Flavour; pymalloc: boolean; scale: number }[] = [
  { flavour: "release", pymalloc: true, scale: 0.5 },
  // PYTHONMALLOC=malloc: every object allocation goes to malloc (no pymalloc arenas in between).
  { flavour: "release", pymalloc: false, scale: 0.5 },
  { flavour: "debug", pymalloc: false, scale: 0.3 },
];

for (const c of PYTHON_CASES) {
  const name = `preload: python3 allocation-heavy script (${c.flavour}, ${
    c.pymalloc ? "pymalloc" : "PYTHONMALLOC=malloc"
  })`;
  Deno.test(name, async (t) => {
    const py = await pythonExe();
    if (py === null) return skipOrFail(t, "python3 is not installed (Debian package python3)");
    const s = await setup(t, c.flavour);
    if (!s) return;
    try {
      const env: Record<string, string> = { PYTHONHASHSEED: "0", PYTHONDONTWRITEBYTECODE: "1" };
      if (!c.pymalloc) env.PYTHONMALLOC = "malloc";
      const p = await runBoth(
        [py, join(FIXTURES, "alloc_heavy.py"), String(c.scale)],
        s.so,
        s.tmp,
        name,
        { env },
      );
      assertMapped(p, name);
      if (!p.plain.stdout.includes("threads tasks=")) {
        throw new Error(`${name}: unexpected output\n${describeRun(p.plain)}`);
      }
      console.log(summary(p));
    } finally {
      await Deno.remove(s.tmp, { recursive: true });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// git on a generated repository

/** Deterministic pseudo-random text. */
function lcgText(seed: number, lines: number): string {
  let x = seed >>> 0;
  const words = ["alloc", "free", "slab", "arena", "tiny", "mid", "large", "cache", "page", "heap"];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = 3 + (i % 9);
    const ws: string[] = [];
    for (let j = 0; j < n; j++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      ws.push(words[x % words.length] + (x >>> 24).toString(16));
    }
    out.push(ws.join(" "));
  }
  return out.join("\n") + "\n";
}

async function writeTree(dir: string, files: number, round: number): Promise<void> {
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `dir${(i % 17).toString().padStart(2, "0")}`, `sub${i % 3}`);
    await Deno.mkdir(sub, { recursive: true });
    // round 0 writes everything; later rounds change every 7th file and add a few
    if (round > 0 && i % 7 !== round % 7 && i < files - 20) continue;
    await Deno.writeTextFile(join(sub, `file${i}.txt`), lcgText(i * 31 + round, 20 + (i % 40)));
  }
}

Deno.test("preload: git init/add/commit/log/gc/fsck on a generated repository", async (t) => {
  if (!(await probeOk("git"))) return skipOrFail(t, "git is not installed (Debian package git)");
  const s = await setup(t, "release");
  if (!s) return;
  try {
    const dirs = [join(s.tmp, "plain"), join(s.tmp, "hakmem")];
    const home = join(s.tmp, "home");
    await Deno.mkdir(home);
    const env: Record<string, string> = {
      HOME: home,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Hak Mem",
      GIT_AUTHOR_EMAIL: "hakmem@example.invalid",
      GIT_COMMITTER_NAME: "Hak Mem",
      GIT_COMMITTER_EMAIL: "hakmem@example.invalid",
      GIT_PAGER: "cat",
      PAGER: "cat",
    };
    const git = (...args: string[]) => [
      "git",
      "-c",
      "gc.auto=0",
      "-c",
      "gc.autoDetach=false",
      "-c",
      "pack.threads=2",
      "-c",
      "init.defaultBranch=main",
      ...args,
    ];
    let allocs = 0;
    const step = async (what: string, argv: string[], date?: string) => {
      const e = date ? { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : env;
      const p = await runBoth(argv, s.so, s.tmp, `git ${what}`, {
        env: e,
        cwdPlain: dirs[0],
        cwdPreloaded: dirs[1],
      });
      allocs += p.stats.tiers.tiny.allocs;
      return p;
    };
    for (const d of dirs) {
      await Deno.mkdir(d);
      await writeTree(d, 300, 0);
    }
    await step("init", git("init", "-q"));
    await step("add", git("add", "-A"));
    await step("commit 1", git("commit", "-q", "-m", "first"), "1700000000 +0000");
    for (let round = 1; round <= 3; round++) {
      for (const d of dirs) {
        await writeTree(d, 300 + round * 10, round);
        await removeIfPresent(join(d, "dir00", "sub0", `file${round * 51}.txt`));
      }
      await step(`add ${round}`, git("add", "-A"));
      await step(
        `commit ${round + 1}`,
        git("commit", "-q", "-m", `round ${round}`),
        `${1700000000 + round * 3600} +0000`,
      );
    }
    const head = await step("rev-parse", git("rev-parse", "HEAD"));
    await step("log --stat", git("log", "--stat", "--format=%H %an %ad %s"));
    await step("diff --stat", git("diff", "--stat", "HEAD~3", "HEAD"));
    await step("grep", git("grep", "-c", "slab"));
    await step("gc", git("gc", "--quiet"));
    await step("fsck", git("fsck", "--full", "--strict", "--no-progress"));
    await step("cat-file", git("cat-file", "--batch-all-objects", "--batch-check"));
    await step("log after gc", git("log", "--stat", "-p", "--format=%H %s"));
    const counts = await step("count-objects", git("count-objects", "-v"));
    const packed = (s: string) => s.split("\n").filter((l) => /^(count|in-pack|packs):/.test(l));
    if (!packed(counts.preloaded.stdout).some((l) => l.startsWith("packs: 1"))) {
      throw new Error(`git gc did not leave one pack:\n${counts.preloaded.stdout}`);
    }
    console.log(`git HEAD ${head.plain.stdout.trim()}; tiny allocs over all steps: ${allocs}`);
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// a multi-threaded C program that knows nothing of hakmem

const MT_CASES: { target: TargetName | null; flavour: Flavour }[] = [
  { target: HOST_TARGET, flavour: "release" },
  { target: HOST_TARGET, flavour: "debug" },
  // The aarch64 library preloaded into an aarch64 program under qemu-user (the guest's ld.so
  // honours LD_PRELOAD from the environment qemu passes on), when the host is not aarch64.
  ...(HOST_TARGET === "aarch64-linux-gnu"
    ? []
    : [{ target: "aarch64-linux-gnu" as TargetName, flavour: "release" as Flavour }]),
];

for (const c of MT_CASES) {
  const name = `preload: multi-threaded C program (${c.target ?? "host"} ${c.flavour} library)`;
  Deno.test(name, async (t) => {
    const prefix = c.target ? runnerPrefix(c.target) : [];
    if (prefix.length > 0) {
      const l = prefix.indexOf("-L");
      for (const probe of [prefix[0], ...(l >= 0 ? [prefix[l + 1]] : [])]) {
        if (!(await probeOk(probe))) {
          return skipOrFail(t, `${probe} is missing (qemu-user-static, libc6-arm64-cross)`);
        }
      }
    }
    const s = await setup(t, c.flavour, c.target);
    if (!s) return;
    try {
      const exe = await buildExecutable({
        target: s.target,
        flavour: "release",
        sources: [join(FIXTURES, "mt_prog.c")],
        out: join(buildDir(s.target, "release"), "bin", "preload", "mt_prog"),
        link: "none",
        extraFlags: ["-std=c11", "-Wall", "-Wextra", "-Werror"],
      });
      const scale = prefix.length > 0 ? ["0.25"] : [];
      const p = await runBoth([...prefix, exe, ...scale], s.so, s.tmp, name);
      assertMapped(p, name);
      if (!p.plain.stdout.includes("total checksum=")) {
        throw new Error(`${name}: unexpected output\n${describeRun(p.plain)}`);
      }
      console.log(summary(p));
    } finally {
      await Deno.remove(s.tmp, { recursive: true });
    }
  });
}
