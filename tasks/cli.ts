// The workbench command line: `deno run -A tasks/cli.ts <command>` (deno.json tasks call it).

import { Command, Option } from "commander";
import { buildAll } from "./build.ts";
import { runTests } from "./test.ts";
import { flavourOf, FLAVOURS, ROOT, targetInfo, type TargetName, TARGETS } from "./targets.ts";

/** Runs the deno executable that runs us, in the repository root; returns its exit code. */
async function deno(args: string[]): Promise<number> {
  const st = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return st.code;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").filter((v) => v !== "")];
}

const targetList = TARGETS.map((t) => t.name).join(", ");

const program = new Command()
  .name("deno task")
  .description("hakmem workbench: build the allocator with zig cc, run the tests")
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
  .action(async (opts: { target?: string[]; flavour?: string[]; clean: boolean }) => {
    const targets = opts.target?.map((n) => targetInfo(n).name as TargetName);
    const flavours = opts.flavour?.map(flavourOf);
    await buildAll({ targets, flavours, clean: opts.clean });
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
  Deno.exit(1);
}
