// `deno task compare [options] -- CMD ARGS…`: the service engineer's question, "does hakmem help
// my program?". The command runs once under glibc first (untimed: it checks that the command
// works at all and warms the file caches), then under glibc, each hakmem mode asked for and every
// peer, interleaved over --repeat rounds (tasks/programs/run.ts, the bench's programs mode's
// runner). It prints the headlines (where hakmem loses first) and a table — time, peak RSS,
// user and sys CPU, each as a ratio to glibc's in the same round with its spread — and writes
// results.json (schema 2 with a `programs` record of mode "compare") and the report page with the
// RSS curves; stdout and stderr of every run are kept in runs/ there.
//
// Bad input — no command, a command that is not found, one that fails under glibc itself — is
// one line and exit 2 (a UsageError).

import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  buildAllBench,
  checkList,
  printReport,
  resolveAllocators,
  RUNS_DIR,
  timestamp,
  UsageError,
  userPath,
  writeResults,
} from "../bench/bench.ts";
import {
  ALLOCATOR_KINDS,
  type HakmemVariant,
  hakmemVariants,
  variantProblems,
} from "../bench/variants.ts";
import { type Allocator, stopCurrentRun } from "../bench/runner.ts";
import {
  DEFAULT_BASELINE,
  type MachineInfo,
  type PeerParity,
  REFERENCE_GLIBC,
  type Results,
} from "../bench/stats.ts";
import { show } from "../bench/summary.ts";
import { machineInfo } from "../bench/machine.ts";
import { isExecutable, removeIfPresent } from "../lib/files.ts";
import { modesHelp, type OptionsTable, optionsTable } from "../build/options.ts";
import { PEER_NAMES } from "../peers/peers.ts";
import { peersForBench } from "../bench/parity.ts";
import { programProblems } from "./programs.ts";
import { type ProgramJob, runProgram, runPrograms } from "./run.ts";
import { PROGRAMS_VERSION, type ProgramSample, type ProgramsRecord } from "../bench/schema.ts";
import { programsSummaryText } from "./summary.ts";

export const COMPARE_DEFAULT_REPEAT = 3;
export const COMPARE_DEFAULT_TIMEOUT_S = 600;
/** Where the runs' stdout and stderr go inside the output directory. */
const FILES_DIR = "runs";
/** Seeds the allocators' order in each round (no --seed: the command itself is not seeded). */
const ORDER_SEED = 42;

export interface CompareOptions {
  command: string[];
  modes?: string[];
  /** hakmem and peers to run besides glibc (default: hakmem and every peer). */
  allocators?: string[];
  repeat?: number;
  out?: string;
  checkOutput?: boolean;
  timeout?: number;
}

/** The absolute path of `cmd` as the shell would find it from `cwd` (a name: on PATH), or
 * null. */
export async function findCommand(cmd: string, cwd: string): Promise<string | null> {
  if (cmd === "") return null;
  if (cmd.includes("/")) {
    const p = resolve(cwd, cmd);
    return (await isExecutable(p)) ? p : null;
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const p = resolve(cwd, dir || ".", cmd);
    if (await isExecutable(p)) return p;
  }
  return null;
}

/** A command line as a shell would read it back. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

/** The command of `o`, checked: where it runs, its executable, how it reads back; throws a
 * UsageError naming what is wrong. */
async function commandOf(o: CompareOptions) {
  if (o.command.length === 0) {
    throw new UsageError(
      "compare: no command given; usage: deno task compare [options] -- CMD ARGS…",
    );
  }
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new UsageError("compare runs on x86_64 Linux only");
  }
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const exe = await findCommand(o.command[0], cwd);
  if (exe === null) {
    throw new UsageError(
      `compare: command not found: ${o.command[0]} (${
        o.command[0].includes("/")
          ? `no executable file at ${resolve(cwd, o.command[0])}`
          : "not on PATH"
      })`,
    );
  }
  const repeat = o.repeat ?? COMPARE_DEFAULT_REPEAT;
  if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError("--repeat must be >= 1");
  return { cwd, exe, repeat, line: shellLine(o.command) };
}

/** The hakmem variants (--modes) and the allocator kinds (glibc first) `o` asks for. */
function compareKinds(o: CompareOptions, table: OptionsTable) {
  if (o.modes) checkList("mode", o.modes, table.modes);
  const variants = hakmemVariants({ modes: o.modes }, table.default_mode);
  const bad = variantProblems(variants, table);
  if (bad.length > 0) throw new Error(`hakmem variants the library rejects: ${bad.join("; ")}`);
  const chosen = o.allocators && o.allocators.length > 0
    ? o.allocators
    : ALLOCATOR_KINDS.filter((k) => k !== REFERENCE_GLIBC);
  checkList("allocator", chosen, ALLOCATOR_KINDS);
  return { variants, kinds: [REFERENCE_GLIBC, ...chosen.filter((k) => k !== REFERENCE_GLIBC)] };
}

/** The command as the one program of a programs record. */
function commandJob(o: CompareOptions, cwd: string, exe: string, line: string): ProgramJob {
  return {
    info: {
      id: "command",
      title: line,
      description: `run in ${cwd}`,
      argv: [...o.command],
      env: {},
      package: null,
      version: null,
      scale: null,
      input: null,
      available: true,
      note: null,
    },
    program: exe,
    args: o.command.slice(1),
    env: {},
    cwd,
  };
}

/** results.json of a comparison: the bench's parameters for the schema (the command runs as
 * given, no scale), the allocators, and the programs record `rec`. */
function compareResults(
  machine: MachineInfo,
  allocators: readonly Allocator[],
  variants: readonly HakmemVariant[],
  parity: readonly PeerParity[],
  rec: ProgramsRecord,
): Results {
  return {
    schema: 2,
    created: new Date().toISOString(),
    machine,
    params: {
      profile: "full",
      benches: [],
      allocators: allocators.map((a) => a.name),
      modes: [...new Set(variants.map((v) => v.env.HAKMEM_MODE))],
      repeat: rec.repeat,
      threads: 1,
      seed: ORDER_SEED,
      duration_s: null,
      baseline: DEFAULT_BASELINE,
      instructions: false,
    },
    allocators: allocators.map(({ env: _env, ...info }) => info),
    benches: [],
    samples: [],
    ...(parity.length > 0 ? { peer_parity: [...parity] } : {}),
    programs: rec,
  };
}

/** Throws a UsageError when the command fails under glibc itself (nothing to compare then). */
function checkUnderGlibc(check: ProgramSample, line: string): void {
  if (check.ok) return;
  const last = check.stderr_tail.split("\n").filter((l) => l.trim() !== "");
  const theirs = last.filter((l) => !l.startsWith("[programs] ")).pop();
  const why = last.pop()?.replace(/^\[programs\] /, "") ?? "failed";
  throw new UsageError(
    `compare: the command fails under glibc itself (${why}${
      theirs ? `: ${theirs.slice(0, 200)}` : ""
    }): ${line}`,
  );
}

/** Runs the comparison; returns the exit code (1 when a hakmem run failed or, with
 * --check-output, its output differed from glibc's). */
export async function runCompare(o: CompareOptions): Promise<number> {
  const { cwd, exe, repeat, line } = await commandOf(o);
  const timeoutS = o.timeout ?? COMPARE_DEFAULT_TIMEOUT_S;
  const { variants, kinds } = compareKinds(o, await optionsTable());

  const outDir = o.out ? userPath(o.out) : join(RUNS_DIR, `compare-${timestamp()}`);
  await Deno.mkdir(outDir, { recursive: true });
  console.error(`[compare] building libhakmem and hakrun`);
  const hakrun = (await buildAllBench([])).get("hakrun")!;
  const machine = await machineInfo();
  const parity = await peersForBench(PEER_NAMES.filter((p) => kinds.includes(p)), false, null);
  const allocators = await resolveAllocators(kinds, variants, machine.commit, parity.peers);
  const runnable = allocators.filter((a) => a.available);
  for (const a of allocators.filter((x) => !x.available)) {
    console.error(`[compare] allocator ${a.name}: NOT AVAILABLE — ${a.note}`);
  }
  const job = commandJob(o, cwd, exe, line);
  const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-compare-" });
  let stopped = false;
  const onInt = () => {
    stopped = true;
    stopCurrentRun();
  };
  Deno.addSignalListener("SIGINT", onInt);
  const rec: ProgramsRecord = {
    version: PROGRAMS_VERSION,
    mode: "compare",
    repeat,
    check_output: o.checkOutput === true,
    cwd,
    programs: [job.info],
    samples: [],
  };
  const results = compareResults(machine, allocators, variants, parity.records, rec);
  try {
    const glibc = runnable.find((a) => a.name === REFERENCE_GLIBC)!;
    const files = { hakrun, timeoutS, outDir, filesDir: FILES_DIR, tmpDir };
    console.error(`[compare] checking the command under glibc: ${line}`);
    const checkJob = { ...job, info: { ...job.info, id: "check" } };
    const check = await runProgram(files, checkJob, glibc, 0, 0);
    if (stopped) return 130;
    checkUnderGlibc(check, line);
    console.error(
      `[compare] ${runnable.length} allocators × ${repeat} rounds; output ${show(outDir)}`,
    );
    rec.samples = await runPrograms({
      ...files,
      jobs: [job],
      allocators: runnable,
      repeat,
      seed: ORDER_SEED,
      checkOutput: o.checkOutput === true,
      stopped: () => stopped,
      tag: "compare",
      onRound: async (samples) => {
        rec.samples = samples;
        await writeResults(outDir, results);
      },
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await removeIfPresent(tmpDir);
  }
  const path = await writeResults(outDir, results);
  console.log(`${line}\n`);
  console.log(programsSummaryText(rec, results.params.allocators));
  for (const a of allocators.filter((x) => !x.available)) {
    console.log(`not run: ${a.name}: ${a.note ?? "unavailable"}`);
  }
  console.log(`\nresults: ${show(path)}\nruns:    ${show(join(outDir, FILES_DIR))}/`);
  await printReport(outDir, "compare");
  if (stopped) {
    console.error("[compare] interrupted: the results hold the runs that completed");
    return 130;
  }
  const problems = programProblems(rec, false);
  for (const p of problems) console.error(`[compare] ${p}`);
  return problems.length > 0 ? 1 : 0;
}

/** The `compare` command of tasks/cli.ts. */
export function addCompareCommand(
  program: Command,
  collect: (v: string, prev: string[] | undefined) => string[],
  positiveInt: (name: string) => (v: string) => number,
): void {
  program.enablePositionalOptions();
  program
    .command("compare")
    .description(
      "does hakmem help my program? Runs CMD under glibc, each hakmem mode of --modes and every " +
        "peer, interleaved over --repeat rounds (after one untimed check run under glibc); " +
        "prints time, peak RSS, user and sys CPU as ratios to glibc with their spread over the " +
        "rounds, losses first, and writes results.json, index.html (RSS curves) and every run's " +
        "stdout and stderr to the output directory. Exit 2 when there is no command, it is not " +
        "found, or it fails under glibc; 1 when a hakmem run failed (or its output differed, " +
        "with --check-output)",
    )
    .passThroughOptions()
    .argument("[command...]", "the command and its arguments (after --)")
    .addOption(
      new Option(
        "--modes <modes...>",
        "HAKMEM_MODE values for hakmem, comma separated (default: balanced)",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        "--allocators <names...>",
        `hakmem and peers to run besides glibc, comma separated (default: all: ${
          ALLOCATOR_KINDS.filter((k) => k !== REFERENCE_GLIBC).join(", ")
        })`,
      ).argParser(collect),
    )
    .option(
      "--repeat <n>",
      `rounds (default ${COMPARE_DEFAULT_REPEAT})`,
      positiveInt("--repeat"),
    )
    .option("--out <dir>", "output directory (default: reports/runs/compare-<timestamp>)")
    .option(
      "--check-output",
      "mark a run whose stdout or exit status differs from glibc's run of the same round",
      false,
    )
    .option(
      "--timeout <s>",
      `time limit of one run in seconds (default ${COMPARE_DEFAULT_TIMEOUT_S})`,
      (v: string) => {
        const n = Number(v);
        if (!(n > 0) || !Number.isFinite(n)) {
          throw new InvalidArgumentError(`--timeout takes a number of seconds > 0 (got "${v}")`);
        }
        return n;
      },
    )
    .addHelpText("after", modesHelp)
    .action(async (command: string[], opts: Omit<CompareOptions, "command">) => {
      Deno.exitCode = await runCompare({ ...opts, command });
    });
}
