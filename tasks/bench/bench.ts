// `deno task bench`: the benchmark suite. Builds libhakmem (x86_64 release), the workload programs
// of bench/ and the measuring runner hakrun (bench/runner.c), resolves the peers
// (tasks/peers/peers.ts: built from pinned sources, cached), then runs every bench under every
// allocator for a number of rounds and writes reports/runs/<timestamp>/results.json (schema 2,
// tasks/bench/stats.ts) and the report page index.html next to it; the runs of hakmem variants that
// learn leave their ACE traces under traces/ there. With --instructions it also counts instructions
// per operation under callgrind (tasks/bench/instructions.ts).
//
// Every program binary is the same for every allocator: glibc runs it as is, the others through
// LD_PRELOAD (set by hakrun in the child only). Within a round each bench runs under every
// allocator once, in an order shuffled by seed, round and bench (tasks/bench/run_order.ts), so no
// allocator always runs first (cold caches, CPU frequency ramp) or right after the same neighbour.
//
// The catalogue of benches lives in catalogue.ts, the allocators' names and hakmem's variants in
// variants.ts, one run in runner.ts, the printed summary in summary.ts (all in tasks/bench/).

import { join, relative, resolve } from "node:path";
import { buildExecutable, buildLibrary, compileFlags, libraryFiles } from "../build/build.ts";
import { buildGxxProgram } from "../build/cc.ts";
import { DEFAULT_BASELINE, type Results } from "./stats.ts";
import {
  BENCH_IDS,
  type BenchDef,
  benchDef,
  BENCHES,
  INSTRUCTION_WORKLOADS,
  type Profile,
} from "./catalogue.ts";
import {
  ALLOCATOR_KINDS,
  allocatorNames,
  defaultTimeout,
  type HakmemVariant,
  hakmemVariants,
  variantProblems,
} from "./variants.ts";
import {
  ORACLE_ALLOCATORS,
  ORACLE_BENCHES,
  ORACLE_DURATION_S,
  ORACLE_GRID,
  ORACLE_TIMEOUT_FACTOR,
  oracleVariants,
} from "./oracle.ts";
import { type Allocator, bareAllocator, stopCurrentRun } from "./runner.ts";
import { show, summaryText } from "./summary.ts";
import { countInstructions } from "./instructions.ts";
import { compilerAllocators } from "./compilers.ts";
import { machineInfo } from "./machine.ts";
import { learns, type OptionsTable, optionsTable } from "../build/options.ts";
import { debVersion, glibcVersion, PEER_NAMES, type ResolvedPeer } from "../peers/peers.ts";
import { PARITY_PROGRAMS, peersForBench } from "./parity.ts";
import {
  announce,
  benchExitCode,
  benchInfosOf,
  benchScales,
  type RunContext,
  runRounds,
  writeResults,
} from "./rounds.ts";

export { writeResults };
import { exists, removeIfPresent, statIfPresent } from "../lib/files.ts";
import { buildDir, ROOT } from "../lib/targets.ts";
import { benchPrograms, programIdsOf } from "../programs/programs.ts";
import { programsSummaryText } from "../programs/summary.ts";

const TARGET = "x86_64-linux-gnu" as const;
const FLAVOUR = "release" as const;
const BENCH_SRC = join(ROOT, "bench");
export const RUNS_DIR = join(ROOT, "reports", "runs");

// ---------------------------------------------------------------------------------------------
// allocators

/** glibc, the hakmem variants and the peers of `kinds`, each with its version and source; a
 * peer that cannot be had is unavailable with the reason. */
export async function resolveAllocators(
  kinds: readonly string[],
  variants: readonly HakmemVariant[],
  commit: string | null,
  peers: Map<string, ResolvedPeer>,
): Promise<Allocator[]> {
  const hakmemSo = libraryFiles(TARGET, FLAVOUR).so;
  const glibc = await glibcVersion();
  const libc6 = await debVersion("libc6");
  const out: Allocator[] = [];
  for (const name of allocatorNames(kinds, variants)) {
    const v = variants.find((x) => x.name === name);
    const none = { version: null, source: null, build: null };
    if (name === "glibc") {
      out.push({
        name,
        kind: "glibc",
        lib: null,
        available: true,
        note: null,
        env: {},
        ...none,
        version: glibc,
        source: `this machine's libc.so.6${libc6 ? ` (Debian package libc6 ${libc6})` : ""}`,
      });
    } else if (v) {
      out.push({
        name,
        kind: "hakmem",
        lib: hakmemSo,
        available: true,
        note: v.note,
        env: v.env,
        version: commit ? commit.slice(0, 12) : null,
        source: `this repository${commit ? ` at ${commit}` : ""}, ${TARGET} ${FLAVOUR}`,
        build: `zig cc ${compileFlags(TARGET, FLAVOUR).join(" ")}`,
      });
    } else {
      const p = peers.get(name)!;
      out.push({
        name,
        kind: "peer",
        lib: p.lib,
        available: p.lib !== null,
        note: p.note,
        env: {},
        version: p.version,
        source: p.source,
        build: p.build,
        ...(p.builds.length > 0 ? { builds: p.builds, build_choice: p.choice } : {}),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the driver

export interface BenchOptions {
  profile: Profile;
  benches?: string[];
  allocators?: string[];
  modes?: string[];
  /** Add the feature ladder (LADDER) to the hakmem variants. */
  ladder?: boolean;
  /** Add the threshold comparison (THRESHOLD_VARIANTS) to the hakmem variants. */
  thresholds?: boolean;
  /** Add the oracle (tasks/bench/oracle.ts): balanced, learning and the grid's fixed
   * configurations; its own defaults for the benches, allocators and duration. */
  oracle?: boolean;
  /** The oracle's grid, "OPTION=v1,v2;OPTION=…" (default ORACLE_GRID). */
  oracleGrid?: string;
  /** Add hakmem-harden (the default mode with HAKMEM_HARDEN=1); default: beside the default mode
   * when no other variant is asked for. */
  harden?: boolean;
  /** Timed rounds; 0 only with `instructions` (counts only). */
  repeat?: number;
  threads?: number;
  out?: string;
  seed?: number;
  timeout?: number;
  /** Target seconds of one run: each bench's scale is calibrated under glibc (with --oracle, under
   * the learning variant) to take about that long (benches whose scale sets their memory size
   * keep the profile's). */
  duration?: number;
  /** Count instructions per op under callgrind too. */
  instructions?: boolean;
  /** Build every source peer both ways (upstream, zig), measure both, use the faster. */
  peerParity?: boolean;
  /** The real programs (tasks/programs/catalogue.ts): ids, or true for all; alone, without
   * --benches, only they run. Default: all of them in the full profile
   * (tasks/programs/programs.ts). */
  programs?: string[] | boolean;
}

/** A usage error (bad option value): reported without a stack, exit code 2. */
export class UsageError extends Error {}

export function checkList(kind: string, given: readonly string[], valid: readonly string[]): void {
  const bad = given.filter((g) => !valid.includes(g));
  if (bad.length > 0) {
    throw new UsageError(
      `unknown ${kind}${bad.length > 1 ? "s" : ""}: ${bad.join(", ")}; valid: ${valid.join(", ")}`,
    );
  }
}

/** A path given on the command line: relative to the directory `deno task` was started in
 * (INIT_CWD; deno task itself runs in the repository root). */
export function userPath(p: string): string {
  return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), p);
}

export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`;
}

interface ReportModule {
  writeReport(runDir: string): Promise<string>;
  writeCompareReport(runA: string, runB: string, outDir: string): Promise<string>;
}

/** reports/build_report.ts, loaded on demand (it pulls in esbuild and plotly). */
async function reportModule(): Promise<ReportModule> {
  return await import("../../reports/build_report.ts");
}

/** Writes the report page of the run in `outDir` and prints its path; a page that cannot be
 * written is a warning (the results stand). */
export async function printReport(outDir: string, who: string): Promise<void> {
  try {
    const html = await (await reportModule()).writeReport(outDir);
    console.log(`report:  ${show(html)}`);
  } catch (e) {
    console.error(
      `[${who}] warning: the report page could not be written: ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
}

/** Builds the library, the programs and hakrun; returns the paths of hakrun and each program. */
export async function buildAllBench(programs: readonly string[]): Promise<Map<string, string>> {
  await buildLibrary(TARGET, FLAVOUR);
  const paths = new Map<string, string>();
  const one = async (name: string, src: string) => {
    if (!(await exists(src))) throw new Error(`${relative(ROOT, src)} is missing`);
    const out = await buildExecutable({
      target: TARGET,
      flavour: FLAVOUR,
      sources: [src],
      out: join("bench", name),
      link: "none",
      extraFlags: ["-Werror", "-I", BENCH_SRC],
    });
    paths.set(name, out);
  };
  // C++ workloads (bench/<name>.cc) are built with the system's g++, as users build theirs
  const cxx = async (name: string, src: string) => {
    const out = join(buildDir(TARGET, FLAVOUR), "bin", "bench", name);
    paths.set(
      name,
      await buildGxxProgram([src], out, ["-D_GNU_SOURCE", "-I", BENCH_SRC], ["-lpthread"]),
    );
  };
  await Promise.all([
    one("hakrun", join(BENCH_SRC, "runner.c")),
    ...programs.map(async (p) => {
      const cc = join(BENCH_SRC, `${p}.cc`);
      return await exists(cc) ? cxx(p, cc) : one(p, join(BENCH_SRC, `${p}.c`));
    }),
  ]);
  return paths;
}

/** The oracle's variants and record, or nulls without --oracle; a bad grid is a usage error. */
function oracleOf(o: BenchOptions, table: OptionsTable) {
  if (!o.oracle) {
    if (o.oracleGrid !== undefined) throw new UsageError("--oracle-grid needs --oracle");
    return { variants: null, info: null };
  }
  try {
    return oracleVariants(o.oracleGrid ?? ORACLE_GRID, table);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** Validated options with their defaults filled in (modes and variables checked against the
 * library's options table). */
function settle(o: BenchOptions, table: OptionsTable) {
  const profile = o.profile;
  const threads = o.threads ?? 2;
  const repeat = o.repeat ?? (profile === "quick" ? 3 : 5);
  const seed = o.seed ?? 42;
  const oracle = oracleOf(o, table);
  const duration = o.duration ?? (oracle.info && profile === "full" ? ORACLE_DURATION_S : null);
  if (o.modes) checkList("mode", o.modes, table.modes);
  const variants = hakmemVariants(
    { ...o, oracle: oracle.variants ?? undefined },
    table.default_mode,
  );
  const bad = variantProblems(variants, table);
  if (bad.length > 0) {
    throw new Error(`hakmem variants the library rejects:\n  ${bad.join("\n  ")}`);
  }
  const timeoutS = o.timeout ??
    Math.max(
      defaultTimeout(profile, variants, table, duration),
      // the grid's slowest configurations may take many times as long as learning's run
      oracle.info && duration !== null ? ORACLE_TIMEOUT_FACTOR * duration : 0,
    );
  const kinds = o.allocators && o.allocators.length > 0
    ? [...new Set(o.allocators)]
    : oracle.info
    ? [...ORACLE_ALLOCATORS]
    : [...ALLOCATOR_KINDS];
  checkList("allocator", kinds, ALLOCATOR_KINDS);
  if ((o.ladder || o.thresholds || o.oracle) && !kinds.includes("hakmem")) {
    throw new UsageError(
      "--ladder, --thresholds and --oracle run hakmem variants: add hakmem to --allocators",
    );
  }
  const wantedIds = o.benches && o.benches.length > 0
    ? o.benches
    : oracle.info
    ? ORACLE_BENCHES
    : null;
  let defs: BenchDef[] = [...BENCHES];
  if (wantedIds) {
    const bad = wantedIds.filter((b) => !benchDef(b));
    if (bad.length > 0) checkList("bench", bad, BENCH_IDS);
    const wanted = new Set(wantedIds.map((b) => benchDef(b)!.id));
    defs = BENCHES.filter((b) => wanted.has(b.id));
  }
  // With --threads 1, mid_large_mt_N would repeat mid_large_mt_1.
  if (threads === 1 && defs.some((d) => d.id === "mid_large_mt_1")) {
    defs = defs.filter((d) => d.id !== "mid_large_mt_N");
  }
  if (!Number.isInteger(repeat) || repeat < (o.instructions ? 0 : 1)) {
    throw new UsageError("--repeat must be >= 1 (0 only with --instructions: counts only)");
  }
  const programs = programIdsOf(o, oracle.info !== null, repeat, (m) => new UsageError(m));
  // --programs alone runs the programs only; --repeat 0, the instruction counts only
  if (repeat === 0 || (o.programs && !(o.benches && o.benches.length > 0))) defs = [];
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError("--threads must be >= 1");
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError("--seed must be an integer >= 0");
  if (!(timeoutS > 0)) throw new UsageError("--timeout must be > 0");
  if (duration !== null && !(duration > 0)) throw new UsageError("--duration must be > 0");
  return {
    profile,
    threads,
    repeat,
    seed,
    duration,
    variants,
    oracle: oracle.info,
    timeoutS,
    kinds,
    defs,
    programs,
  };
}

/** Builds libhakmem, the bench's programs (those of `defs` and of the options' extra parts) and
 * hakrun. */
function buildBenchPrograms(o: BenchOptions, defs: readonly BenchDef[]) {
  console.error(`[bench] building libhakmem (${TARGET}/${FLAVOUR}), the programs and hakrun`);
  const programs = defs.map((d) => d.program);
  if (o.instructions) programs.push(...INSTRUCTION_WORKLOADS.map((w) => w.program));
  if (o.peerParity) programs.push(...PARITY_PROGRAMS);
  return buildAllBench([...new Set(programs)]);
}

/** Runs the suite; returns the process exit code (1 when a hakmem run failed, or under CI=true
 * when a peer was unavailable). */
export async function runBench(o: BenchOptions): Promise<number> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new UsageError("the bench suite runs on x86_64 Linux only");
  }
  const table = await optionsTable();
  const settled = settle(o, table);
  const { profile, threads, repeat, seed, duration, variants, oracle, timeoutS, kinds, defs } =
    settled;
  const outDir = o.out ? userPath(o.out) : join(RUNS_DIR, timestamp());
  await Deno.mkdir(outDir, { recursive: true });
  const bins = await buildBenchPrograms(o, defs);
  const hakrun = bins.get("hakrun")!;
  const machine = await machineInfo();
  const parity = await peersForBench(
    PEER_NAMES.filter((p) => kinds.includes(p)),
    o.peerParity === true,
    { hakrun, bins, seed },
  );
  const allocators = await resolveAllocators(kinds, variants, machine.commit, parity.peers);
  const runnable = allocators.filter((a) => a.available);
  // hakmem built by gcc and clang: in the instruction counts only
  const byCompiler = o.instructions && kinds.includes("hakmem")
    ? await compilerAllocators(variants[0]?.env.HAKMEM_MODE ?? table.default_mode, machine.commit)
    : [];
  const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-bench-" });
  const ctx: RunContext = {
    bins,
    hakrun,
    seed,
    threads,
    profile,
    timeoutS,
    tmpDir,
    outDir,
    seq: 0,
  };

  // the judged variant's runs are the ones that must last: with --oracle, the learning one's
  const calibrator = allocators.find((a) => a.name === (oracle?.learning ?? "glibc")) ??
    bareAllocator("glibc", "glibc", null);
  const scales = await benchScales(ctx, defs, duration, calibrator, learns(table, calibrator.env));
  const benchInfos = benchInfosOf(defs, threads, profile, scales);
  const results: Results = {
    schema: 2,
    created: new Date().toISOString(),
    machine,
    params: {
      profile,
      benches: benchInfos.map((b) => b.id),
      allocators: allocators.map((a) => a.name),
      modes: [...new Set(variants.map((v) => v.env.HAKMEM_MODE))],
      repeat,
      threads,
      seed,
      duration_s: duration,
      ...(duration !== null ? { calibrated_with: calibrator.name } : {}),
      baseline: DEFAULT_BASELINE,
      instructions: o.instructions === true,
    },
    allocators: [...allocators, ...byCompiler].map(({ env: _env, ...info }) => info),
    benches: benchInfos,
    samples: [],
    ...(oracle ? { oracle } : {}),
    ...(parity.records.length > 0 ? { peer_parity: parity.records } : {}),
  };
  const interrupted = await runAll(o, ctx, results, table, runnable, byCompiler, settled.programs);
  const resultsPath = await writeResults(outDir, results);

  console.log(summaryText(results));
  if (results.programs) {
    console.log(`\n${programsSummaryText(results.programs, results.params.allocators)}`);
  }
  console.log(`\nresults: ${show(resultsPath)}`);
  await printReport(outDir, "bench");
  if (interrupted) {
    console.error("[bench] interrupted: the results hold the runs that completed");
    return 130;
  }
  return benchExitCode(results, allocators);
}

/** The rounds, then the real programs and the instruction counts that the options ask for,
 * until a SIGINT stops them (it also stops the run in progress); returns whether one did. */
async function runAll(
  o: BenchOptions,
  ctx: RunContext,
  results: Results,
  table: OptionsTable,
  runnable: readonly Allocator[],
  byCompiler: readonly Allocator[],
  programIds: readonly string[],
): Promise<boolean> {
  const { outDir, hakrun, bins, seed, tmpDir, timeoutS } = ctx;
  const { profile, repeat } = results.params;
  const traced = new Set(
    runnable.filter((a) => a.kind === "hakmem" && learns(table, a.env)).map((a) => a.name),
  );
  if (traced.size > 0 && results.benches.length > 0) {
    results.traces = [];
    await Deno.mkdir(join(outDir, "traces"), { recursive: true });
  }
  announce(results, outDir);

  let interrupted = false;
  const stopped = () => interrupted;
  const onInt = () => {
    interrupted = true;
    stopCurrentRun();
  };
  Deno.addSignalListener("SIGINT", onInt);
  try {
    await runRounds(ctx, results, runnable, traced, repeat, stopped);
    if (programIds.length > 0 && !interrupted) {
      results.programs = await benchPrograms({
        ids: [...programIds],
        profile,
        allocators: runnable,
        hakrun,
        repeat,
        seed,
        timeoutS,
        outDir,
        tmpDir,
        stopped,
        onRound: async (rec) => void await writeResults(outDir, { ...results, programs: rec }),
      });
    }
    if (o.instructions && !interrupted) {
      const counts = await countInstructions({
        hakrun,
        bins,
        allocators: [...runnable, ...byCompiler],
        workloads: INSTRUCTION_WORKLOADS,
        seed,
        tmpDir,
      });
      results.instructions = { workloads: [...INSTRUCTION_WORKLOADS], counts };
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await removeIfPresent(tmpDir);
  }
  return interrupted;
}

// ---------------------------------------------------------------------------------------------
// `deno task report`

/** The newest run directory under reports/runs/ that has a results.json, or null. */
export async function latestRun(): Promise<string | null> {
  let best: { dir: string; mtime: number } | null = null;
  if (!(await exists(RUNS_DIR))) return null; // no run yet
  for await (const e of Deno.readDir(RUNS_DIR)) {
    if (!e.isDirectory || e.name.startsWith("compare-")) continue;
    const dir = join(RUNS_DIR, e.name);
    const st = await statIfPresent(join(dir, "results.json")); // absent: an interrupted run
    const mtime = st?.mtime?.getTime() ?? 0;
    if (st && (!best || mtime > best.mtime)) best = { dir, mtime };
  }
  return best?.dir ?? null;
}

async function runDirOf(arg: string): Promise<string> {
  // a run directory, its results.json, or a name under reports/runs/
  let p = userPath(arg);
  if (!(await exists(p))) p = join(RUNS_DIR, arg);
  if (p.endsWith(".json")) p = join(p, "..");
  if (!(await exists(join(p, "results.json")))) {
    throw new UsageError(`${arg}: no results.json there (nor under ${relative(ROOT, RUNS_DIR)})`);
  }
  return p;
}

function baseName(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? p;
}

/** `deno task report [--compare A B] [RUN_DIR]`; returns the path of the page written. */
export async function runReport(o: { compare?: string[]; runDir?: string }): Promise<string> {
  const mod = await reportModule();
  if (o.compare && o.compare.length > 0) {
    if (o.compare.length !== 2) throw new UsageError("--compare takes two run directories");
    const a = await runDirOf(o.compare[0]);
    const b = await runDirOf(o.compare[1]);
    const outDir = join(RUNS_DIR, `compare-${baseName(a)}-${baseName(b)}`);
    await Deno.mkdir(outDir, { recursive: true });
    return await mod.writeCompareReport(a, b, outDir);
  }
  let dir: string;
  if (o.runDir) dir = await runDirOf(o.runDir);
  else {
    const latest = await latestRun();
    if (!latest) {
      throw new UsageError(
        `no run with a results.json under ${relative(ROOT, RUNS_DIR)}: run \`deno task bench\``,
      );
    }
    dir = latest;
  }
  return await mod.writeReport(dir);
}
