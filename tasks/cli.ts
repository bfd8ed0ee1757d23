// The workbench command line: `deno run -A tasks/cli.ts <command>` (deno.json tasks call it).

import { Command, InvalidArgumentError, Option } from "commander";
import { buildAll } from "./build/build.ts";
import { buildWithCc } from "./build/cc.ts";
import { runBench, runReport, UsageError } from "./bench/bench.ts";
import { BENCH_IDS, INSTRUCTION_IDS, type Profile, PROFILES } from "./bench/catalogue.ts";
import { ALLOCATOR_KINDS, LADDER, THRESHOLD_VARIANTS } from "./bench/variants.ts";
import {
  ORACLE_ALLOCATORS,
  ORACLE_BENCHES,
  ORACLE_DURATION_S,
  ORACLE_GRID,
} from "./bench/oracle.ts";
import { BASELINE } from "./peers/peers.ts";
import { runDist } from "./dist/dist.ts";
import { modesHelp } from "./build/options.ts";
import { runSoak } from "./test/soak.ts";
import { runFuzz } from "./test/fuzz.ts";
import { runTests } from "./test/test.ts";
import { PROGRAM_IDS } from "./programs/catalogue.ts";
import { addCompareCommand } from "./programs/compare.ts";
import { run, shellStatus } from "./lib/run.ts";
import { flavourOf, FLAVOURS, targetInfo, type TargetName, TARGETS } from "./lib/targets.ts";

/** Runs the deno executable that runs us, in the repository root; returns its exit status. */
async function deno(args: string[]): Promise<number> {
  return shellStatus(await run(Deno.execPath(), args, { inherit: true }));
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").filter((v) => v !== "")];
}

const targetList = TARGETS.map((t) => t.name).join(", ");

const program = new Command()
  .name("deno task")
  .description("hakmem workbench: build the allocator with zig cc, run the tests and benchmarks")
  .showHelpAfterError()
  .exitOverride();

program
  .command("build")
  .description(
    "build libhakmem (.a, .so, header) into dist/<target>/<flavour>/ (incremental) and write " +
      "dist/manifest.json",
  )
  .addOption(
    new Option(
      "-t, --target <name...>",
      `targets to build, repeatable or comma separated (default: all: ${targetList})`,
    ).argParser(collect),
  )
  .addOption(
    new Option(
      "-f, --flavour <name...>",
      `flavours to build, repeatable or comma separated (default: all: ${FLAVOURS.join(", ")})`,
    ).argParser(collect),
  )
  .option("--clean", "remove build/ and dist/ of the selected targets and flavours first", false)
  .option(
    "--cc <compiler>",
    "build with this gcc or clang (a name on PATH or a path) instead of zig cc, as a packager " +
      "does: the library of the architecture it compiles for, against this machine's glibc, " +
      "with CPPFLAGS, CFLAGS and LDFLAGS from the environment after the project's flags (AR " +
      "too), into dist/cc/<its file name>/<target>/<flavour>/ (the zig build stays)",
  )
  .action(
    async (opts: { target?: string[]; flavour?: string[]; clean: boolean; cc?: string }) => {
      const targets = opts.target?.map((n) => targetInfo(n).name as TargetName);
      const flavours = opts.flavour?.map(flavourOf);
      if (opts.cc === undefined) return await buildAll({ targets, flavours, clean: opts.clean });
      if (targets || opts.clean) {
        throw new UsageError(
          "--cc builds the target of its compiler (a cross compiler builds its own): no " +
            "--target or --clean with it",
        );
      }
      await buildWithCc({ cc: opts.cc, flavours });
    },
  );

program
  .command("dist")
  .description(
    "build the release flavour, then per target a reproducible tarball " +
      "dist/hakmem-<version>-<target>.tar.gz (libhakmem.so/.a, hakmem.h, hakmem.pc, the " +
      "launcher bin/hakmem, manifest.json with checksums and glibc floor, README); also " +
      "dist/bin/hakmem, dist/SHA256SUMS and the tarballs in dist/manifest.json",
  )
  .addOption(
    new Option(
      "-t, --target <name...>",
      `targets to pack, repeatable or comma separated (default: all: ${targetList})`,
    ).argParser(collect),
  )
  .action(async (opts: { target?: string[] }) => {
    await runDist({ targets: opts.target?.map((n) => targetInfo(n).name as TargetName) });
  });

program
  .command("test")
  .description(
    "install the Debian packages the tests need, build every target and flavour, then run each " +
      "test file under tests/ with `deno test -A` in its own process (HAKMEM_ROOT set)",
  )
  .option("--skip-build", "do not build first (use what is in dist/)", false)
  .option("--filter <pattern>", "only run tests whose name matches (passed to deno test --filter)")
  .option(
    "--single-process",
    "run all files in one `deno test` process (a crash then ends the whole run)",
    false,
  )
  .option("--parallel", "with --single-process: deno test --parallel", false)
  .argument("[paths...]", "test files or directories (default: tests/)")
  .action(
    async (
      paths: string[],
      opts: { skipBuild: boolean; filter?: string; singleProcess: boolean; parallel: boolean },
    ) => {
      Deno.exitCode = await runTests({ ...opts, paths });
    },
  );

function intAtLeast(name: string, min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} takes an integer >= ${min} (got "${v}")`);
    }
    return n;
  };
}

function positiveInt(name: string): (v: string) => number {
  return intAtLeast(name, 1);
}

program
  .command("bench")
  .description(
    "build libhakmem (x86_64 release), the workloads of bench/ and hakrun, build the peer " +
      "allocators from their pinned sources (cached in .cache/peers), then run every bench under " +
      "glibc, hakmem and the peers for a number of interleaved rounds, sampling each run's RSS; " +
      "writes results.json and index.html to the output directory and prints a summary. Exits " +
      "non-zero when a hakmem run failed, or under CI=true when a peer was unavailable",
  )
  .addOption(
    new Option("--profile <name>", "quick: reduced scale, a few minutes on 2 cores; full: scale 1")
      .choices([...PROFILES])
      .default("full"),
  )
  .addOption(
    new Option(
      "--benches <ids...>",
      `benches to run, comma separated (default: all: ${BENCH_IDS.join(", ")}; ` +
        "mid_large_mt_N runs --threads threads)",
    ).argParser(collect),
  )
  .addOption(
    new Option(
      "--allocators <names...>",
      `allocators, comma separated (default: all: ${ALLOCATOR_KINDS.join(", ")}; ratios are ` +
        `given against glibc and ${BASELINE}); hakmem runs once per variant (--ladder, ` +
        "--thresholds, --modes)",
    ).argParser(collect),
  )
  .addOption(
    new Option(
      "--modes <modes...>",
      "HAKMEM_MODE values for hakmem, comma separated (the library's modes are listed below; " +
        "default: balanced unless --ladder or --thresholds is given)",
    ).argParser(collect),
  )
  .option(
    "--ladder",
    `feature ladder: hakmem as ${LADDER.map((v) => v.name).join(", ")}, so each feature's ` +
      "effect shows as one step",
    false,
  )
  .option(
    "--thresholds",
    "large-tier threshold comparison: hakmem balanced with each fixed threshold (ELO off), " +
      `then with ELO learning it (${THRESHOLD_VARIANTS.map((v) => v.name).join(", ")}), ` +
      "next to glibc's adaptive mmap threshold; try --benches large_mix",
    false,
  )
  .option(
    "--oracle",
    "judge learning: per bench, hakmem balanced and learning next to a grid of fixed " +
      "configurations (balanced with the grid's variables: --oracle-grid); the summary and the " +
      "report give learning against balanced and against the best fixed configuration. " +
      `Defaults with --oracle: --benches ${ORACLE_BENCHES.join(",")}, --allocators ` +
      `${ORACLE_ALLOCATORS.join(",")}, --duration ${ORACLE_DURATION_S} (full profile)`,
    false,
  )
  .option(
    "--harden",
    "add hakmem-harden (the default mode with HAKMEM_HARDEN=1: what hardening costs, per " +
      "workload); the default variants include it beside the default mode",
  )
  .option("--no-harden", "leave hakmem-harden out of the default variants")
  .option(
    "--oracle-grid <grid>",
    `the oracle's grid, "OPTION=v1,v2;OPTION=…": every combination is one fixed configuration ` +
      `(default "${ORACLE_GRID}"); the options are the library's integer knobs, each value in ` +
      "its range",
  )
  .option(
    "--repeat <n>",
    "rounds (each bench under each allocator once per round; default quick 3, full 5; 0 with " +
      "--instructions: the instruction counts only)",
    intAtLeast("--repeat", 0),
  )
  .option(
    "--duration <s>",
    "seconds one run should take: each bench's scale is calibrated under glibc first (with " +
      "--oracle: under hakmem's learning variant, the runs judged; for judging learning on runs " +
      "of realistic length, e.g. 20; memory_return keeps its size)",
    (v: string) => {
      const n = Number(v);
      if (!(n > 0) || !Number.isFinite(n)) {
        throw new InvalidArgumentError(`--duration takes a number of seconds > 0 (got "${v}")`);
      }
      return n;
    },
  )
  .option(
    "--instructions",
    "also count instructions per operation under callgrind (valgrind) for every allocator: " +
      `${INSTRUCTION_IDS.join(", ")}`,
    false,
  )
  .option(
    "--peer-parity",
    "build every source peer both ways (its upstream release build with the compiler it picks, " +
      "and the zig build), run the pair loop, larson and xthread under each, record the ratio " +
      "(.cache/peers/parity.json, results.json) and use the faster build",
    false,
  )
  .addOption(
    new Option(
      "--programs [ids]",
      `real programs from Debian packages, each under every allocator (${
        PROGRAM_IDS.join(", ")
      }; default all); without --benches only they run. The full profile runs them all ` +
        "unless --benches or --oracle is given",
    ).argParser(collect),
  )
  .option("--threads <n>", "threads of the multi-threaded benches", positiveInt("--threads"), 2)
  .option("--out <dir>", "output directory (default: reports/runs/<timestamp>)")
  .option("--seed <s>", "seed of every program (same work for every allocator)", (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`--seed takes an integer >= 0 (got "${v}")`);
    }
    return n;
  }, 42)
  .option(
    "--timeout <s>",
    "time limit of one run in seconds (default quick 60, 240 when hakmem runs in minimal mode, " +
      "full 600; with --duration at least ten times the duration)",
    positiveInt("--timeout"),
  )
  .addHelpText("after", modesHelp)
  .action(
    async (opts: {
      profile: Profile;
      benches?: string[];
      allocators?: string[];
      modes?: string[];
      ladder: boolean;
      thresholds: boolean;
      oracle: boolean;
      harden?: boolean;
      oracleGrid?: string;
      repeat?: number;
      duration?: number;
      instructions: boolean;
      peerParity: boolean;
      programs?: string[] | boolean;
      threads: number;
      out?: string;
      seed: number;
      timeout?: number;
    }) => {
      Deno.exitCode = await runBench(opts);
    },
  );

addCompareCommand(program, collect, positiveInt);

program
  .command("report")
  .description(
    "re-render index.html of a bench run (default: the latest under reports/runs/), or with " +
      "--compare A B write a comparison page to reports/runs/compare-<A>-<B>/index.html",
  )
  .option("--compare <runs...>", "two run directories (or names under reports/runs/) to compare")
  .argument("[run-dir]", "run directory (or its name under reports/runs/); default: the latest")
  .action(async (runDir: string | undefined, opts: { compare?: string[] }) => {
    const page = await runReport({ runDir, compare: opts.compare });
    console.log(`report: ${page}`);
  });

program
  .command("soak")
  .description(
    "multi-threaded churn (larson and sh8bench shapes, remote frees, thread create/exit, forks) " +
      "on the debug flavour with content checks; prints {t, ops, corruptions, rss_kib} every few " +
      "seconds and a summary; fails on a corruption, a crash or RSS that keeps growing",
  )
  .option("--minutes <n>", "duration in minutes (fractions allowed)", (v: string) => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`--minutes takes a number > 0 (got "${v}")`);
    }
    return n;
  }, 10)
  .addOption(new Option("--flavour <name>", "flavour").choices([...FLAVOURS]).default("debug"))
  .option("--seed <s>", "seed (default: HAKMEM_TEST_SEED or a fresh one)")
  .option("--interval <s>", "seconds between progress lines", positiveInt("--interval"), 5)
  .action(
    async (opts: { minutes: number; flavour: string; seed?: string; interval: number }) => {
      const r = await runSoak({
        minutes: opts.minutes,
        flavour: flavourOf(opts.flavour),
        seed: opts.seed,
        interval: opts.interval,
      });
      Deno.exitCode = r.ok ? 0 : 1;
    },
  );

program
  .command("fuzz")
  .description(
    "random-walk fuzzer: malloc/calloc/realloc/aligned/free/usable_size op sequences on 4 " +
      "threads with cross-thread frees and thread exits, every block's content checked. " +
      "Seeded (default): PRNG cases in child processes, a failure shrunk and saved with a " +
      "replay command; --libfuzzer: coverage-guided, ASan+UBSan, with Debian's clang",
  )
  .option("--seconds <n>", "time budget in seconds", positiveInt("--seconds"), 30)
  .option("--seed <s>", "seed, decimal or 0x-hex (default: a fresh one, printed)")
  .addOption(
    new Option("--target <name>", "target of the seeded driver")
      .choices(TARGETS.map((t) => t.name)).default("x86_64-linux-gnu"),
  )
  .addOption(new Option("--flavour <name>", "flavour").choices([...FLAVOURS]).default("release"))
  .option("--case <i>", "run only case i of --seed", (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`--case takes an integer >= 0 (got "${v}")`);
    }
    return n;
  })
  .option("--replay <file>", "run a saved input (a shrunk failure, a libFuzzer crash file)")
  .option("--max-bytes <n>", "largest case in bytes (~4 per op)", positiveInt("--max-bytes"))
  .option(
    "--shrink-seconds <n>",
    "time spent shrinking a failure",
    positiveInt("--shrink-seconds"),
    120,
  )
  .option("--libfuzzer", "run the libFuzzer driver (x86_64, ASan+UBSan) instead", false)
  .action(
    async (opts: {
      seconds: number;
      seed?: string;
      target: string;
      flavour: string;
      case?: number;
      replay?: string;
      maxBytes?: number;
      shrinkSeconds: number;
      libfuzzer: boolean;
    }) => {
      Deno.exitCode = await runFuzz({
        ...opts,
        caseIndex: opts.case,
        target: targetInfo(opts.target).name,
        flavour: flavourOf(opts.flavour),
      });
    },
  );

program
  .command("fmt")
  .description("format the TypeScript, JSON and Markdown sources with deno fmt")
  .option("--check", "only check, do not write", false)
  .action(async (opts: { check: boolean }) => {
    Deno.exitCode = await deno(["fmt", ...(opts.check ? ["--check"] : [])]);
  });

program
  .command("lint")
  .description("run deno lint")
  .action(async () => {
    Deno.exitCode = await deno(["lint"]);
  });

program
  .command("check")
  .description("type-check (deno check), then deno fmt --check and deno lint")
  .action(async () => {
    let code = 0;
    for (const args of [["check", "."], ["fmt", "--check"], ["lint"]]) {
      console.error(`[check] deno ${args.join(" ")}`);
      const c = await deno(args);
      if (c !== 0) {
        console.error(`[check] deno ${args.join(" ")} failed (exit ${c})`);
        code = code || c;
      }
    }
    Deno.exitCode = code;
  });

try {
  await program.parseAsync(["deno", "cli.ts", ...Deno.args]);
} catch (e) {
  // commander reports its own errors (and prints help/version) through exitOverride.
  const ce = e as { code?: string; exitCode?: number };
  if (typeof ce.code === "string" && ce.code.startsWith("commander.")) {
    Deno.exit(ce.exitCode ?? 1);
  }
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(e instanceof UsageError ? 2 : 1);
}
