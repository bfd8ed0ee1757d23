// `deno task test`: prerequisites, a full build, then the Deno test suite under tests/.
//
// By default every test file runs in its own `deno test` process, one after the other: the FFI
// tests load libhakmem into the test process itself, so an allocator abort or crash (which is what
// some tests provoke on purpose, and what a bug looks like) would otherwise end the whole run and
// hide the results of every file after it. A crashed file counts as one failure. The totals end
// with the plain line "tests: N passed, N failed".

import { join, relative } from "node:path";
import { buildAll } from "../build/build.ts";
import { IS_CI } from "../lib/ci.ts";
import { ensurePackages, type PackageNeed } from "../lib/deps.ts";
import { run, shellStatus } from "../lib/run.ts";
import { ROOT } from "../lib/targets.ts";

/** Debian packages the tests use. */
export const TEST_PACKAGES: PackageNeed[] = [
  { deb: "qemu-user-static", why: "runs the aarch64 builds", probe: "qemu-aarch64-static" },
  {
    deb: "libc6-arm64-cross",
    why: "aarch64 glibc for qemu (-L /usr/aarch64-linux-gnu)",
    probe: "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
  },
  { deb: "python3", why: "preload tests run a Python interpreter", probe: "python3" },
  { deb: "git", why: "preload tests run git", probe: "git" },
  { deb: "binutils", why: "tests cross-check with readelf/objdump", probe: "readelf" },
  { deb: "sqlite3", why: "preload tests run sqlite3", probe: "sqlite3" },
  { deb: "redis-server", why: "preload tests run redis-server", probe: "redis-server" },
  { deb: "redis-tools", why: "preload tests drive redis with redis-cli", probe: "redis-cli" },
  {
    deb: "redis-tools",
    why: "preload tests load redis with redis-benchmark",
    probe: "redis-benchmark",
  },
  { deb: "gcc", why: "preload tests compile C with gcc", probe: "gcc" },
  { deb: "libc6-dev", why: "headers for the gcc preload test", probe: "/usr/include/stdio.h" },
  { deb: "g++", why: "C++ test programs (operators new/delete) and C++ benches", probe: "g++" },
  {
    deb: "g++-aarch64-linux-gnu",
    why: "the aarch64 C++ test program",
    probe: "aarch64-linux-gnu-g++",
  },
  {
    deb: "libc6-dev-arm64-cross",
    why: "aarch64 glibc headers for the cross compilers",
    probe: "/usr/aarch64-linux-gnu/include/stdio.h",
  },
  { deb: "pkg-config", why: "dist tests read the tarballs' hakmem.pc", probe: "pkg-config" },
  { deb: "shellcheck", why: "dist tests lint the launcher script", probe: "shellcheck" },
];

export interface TestOptions {
  skipBuild?: boolean;
  filter?: string;
  /** One `deno test` process for all files (with --parallel: deno test --parallel). */
  singleProcess?: boolean;
  parallel?: boolean;
  /** Test files or directories; default tests/. */
  paths?: string[];
}

interface Summary {
  passed: number;
  failed: number;
  ignored: number;
}

// deno test's closing line, e.g. "ok | 12 passed (3 steps) | 0 failed | 1 ignored (4s)".
const SUMMARY =
  /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function parseSummary(line: string): Summary | null {
  const m = SUMMARY.exec(line.replace(ANSI, "").trim());
  return m ? { passed: +m[1], failed: +m[2], ignored: m[3] ? +m[3] : 0 } : null;
}

/** Runs `deno <args>` relaying its output; returns the exit status and its last summary. */
async function denoTest(
  args: string[],
): Promise<{ code: number; signal: string | null; summary: Summary | null }> {
  let summary: Summary | null = null;
  const r = await run(Deno.execPath(), args, {
    env: { HAKMEM_ROOT: ROOT },
    echo: true,
    onLine: (line) => (summary = parseSummary(line) ?? summary),
  });
  return { code: shellStatus(r), signal: r.signal, summary };
}

const TEST_FILE = /(?:^|[._])test\.(?:ts|tsx|mts|js|mjs|jsx)$/;

/** Test modules under `paths` (files are taken as given), in a stable order. */
async function findTestFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules") await walk(p);
      else if (e.isFile && TEST_FILE.test(e.name)) out.push(p);
    }
  };
  for (const p of paths) {
    const abs = join(ROOT, p);
    const st = await Deno.stat(abs);
    if (st.isDirectory) await walk(abs);
    else out.push(abs);
  }
  return out.map((p) => relative(ROOT, p));
}

/** Runs the test suite; returns the exit code for the process. */
export async function runTests(opts: TestOptions = {}): Promise<number> {
  try {
    await ensurePackages(TEST_PACKAGES);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (IS_CI) throw new Error(`test prerequisites (CI=true, so this fails the run):\n${msg}`);
    console.error(`[test] warning: ${msg}\n[test] the tests that need them will be skipped`);
  }
  if (!opts.skipBuild) await buildAll();

  const base = ["test", "-A"];
  if (opts.filter !== undefined) base.push("--filter", opts.filter);
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : ["tests/"];

  if (opts.singleProcess) {
    const args = [...base, ...(opts.parallel ? ["--parallel"] : []), ...paths];
    console.error(`[test] deno ${args.join(" ")}`);
    const r = await denoTest(args);
    if (r.summary) {
      const s = r.summary;
      console.log(
        `tests: ${s.passed} passed, ${s.failed} failed${s.ignored ? `, ${s.ignored} skipped` : ""}`,
      );
    }
    return r.code;
  }

  const files = await findTestFiles(paths);
  if (files.length === 0) {
    console.error(`[test] no test files under ${paths.join(" ")}`);
    return 1;
  }
  const total: Summary = { passed: 0, failed: 0, ignored: 0 };
  const rows: string[] = [];
  let code = 0;
  for (const file of files) {
    console.error(`[test] deno ${[...base, file].join(" ")}`);
    const r = await denoTest([...base, file]);
    let row: string;
    if (r.summary) {
      total.passed += r.summary.passed;
      total.failed += r.summary.failed;
      total.ignored += r.summary.ignored;
      row = `${r.summary.passed} passed, ${r.summary.failed} failed` +
        (r.summary.ignored ? `, ${r.summary.ignored} skipped` : "");
      if (r.code !== 0 && r.summary.failed === 0) {
        total.failed++;
        row += ` (exit ${r.code})`;
      }
    } else {
      // No summary: the file did not load (type error) or the process died (abort, crash).
      total.failed++;
      row = r.signal ? `CRASHED (${r.signal})` : `ERROR (exit ${r.code}, no summary)`;
    }
    if (r.code !== 0) code = 1;
    rows.push(`  ${file}: ${row}`);
  }
  console.log(`\n[test] results per file:\n${rows.join("\n")}`);
  console.log(
    `tests: ${total.passed} passed, ${total.failed} failed` +
      (total.ignored ? `, ${total.ignored} skipped` : ""),
  );
  return code;
}
