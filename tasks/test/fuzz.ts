// `deno task fuzz`: the random-walk fuzzer. One op interpreter (tests/fuzz/interp.c), two drivers:
//
//  - seeded (default): tests/fuzz/seeded.c linked with libhakmem.a of --target/--flavour (zig cc).
//    Cases of PRNG bytes from --seed, each in a child process, until --seconds have passed; a
//    failing case is shrunk to the shortest failing op sequence found, written to build/fuzz/,
//    and a replay command is printed. Reproducible: the same seed gives the same cases.
//  - --libfuzzer: tests/fuzz/libfuzzer.c, coverage-guided by libFuzzer, built with Debian's clang
//    under ASan+UBSan with hakmem's sources compiled in (-DHAK_NO_OVERRIDE=1), for --seconds
//    (libFuzzer's -max_total_time), on a corpus kept in build/fuzz/libfuzzer/corpus.
//
// Both print the operations executed and the duration. Also used by tests/fuzz/fuzz.test.ts.

import { join } from "node:path";
import { buildExecutable, ensureLibrary } from "../build/build.ts";
import { buildClangProgram, clangMissing, sanitizerEnv } from "../build/clang.ts";
import { endText, run, runArgv, type RunResult } from "../lib/run.ts";
import { jsonOrUndefined, z } from "../lib/schema.ts";
import { buildDir, type Flavour, ROOT, runnerPrefix, type TargetName } from "../lib/targets.ts";

export const FUZZ_DIR = join(ROOT, "tests", "fuzz");
/** Where failing inputs and the libFuzzer corpus go. */
export const FUZZ_OUT = join(ROOT, "build", "fuzz");

/** Builds the seeded driver for `target`/`flavour` (the library first when dist/ lacks it). */
export async function buildSeeded(target: TargetName, flavour: Flavour): Promise<string> {
  await ensureLibrary(target, flavour);
  return await buildExecutable({
    target,
    flavour,
    sources: [join(FUZZ_DIR, "seeded.c"), join(FUZZ_DIR, "interp.c")],
    out: join(buildDir(target, flavour), "bin", "fuzz", "fuzz_seeded"),
    link: "static-hakmem",
    extraFlags: ["-std=gnu11", "-Wall", "-Wextra", "-Werror"],
  });
}

/** Builds the libFuzzer driver (clang, -fsanitize=fuzzer,address,undefined, hakmem compiled in). */
export async function buildLibFuzzer(): Promise<string> {
  return await buildClangProgram({
    name: "fuzz_libfuzzer",
    sanitize: "fuzzer,address,undefined",
    sources: [join(FUZZ_DIR, "libfuzzer.c"), join(FUZZ_DIR, "interp.c")],
  });
}

export interface SeededOptions {
  target: TargetName;
  flavour: Flavour;
  seconds: number;
  /** Decimal or 0x-hex; default: a fresh random one. */
  seed?: string;
  /** Run only this case of the seed. */
  caseIndex?: number;
  /** Replay a saved input instead. */
  replay?: string;
  maxBytes?: number;
  /** Time spent shrinking a failure (default 120 s). */
  shrinkSeconds?: number;
  /** Extra environment (e.g. HAK_FUZZ_TRACE=1). */
  env?: Record<string, string>;
  /** Relay the driver's output as it comes (default true). */
  echo?: boolean;
}

/** The JSON line the seeded driver ends with. */
const SeededSummary = z.object({
  fuzz: z.literal("seeded"),
  ok: z.boolean(),
  seed: z.string().optional(),
  case: z.number().optional(),
  cases: z.number().optional(),
  ops: z.number(),
  stream_ops: z.number().optional(),
  allocs: z.number().optional(),
  frees: z.number().optional(),
  cross_frees: z.number().optional(),
  thread_exits: z.number().optional(),
  bursts: z.number().optional(),
  min_ops: z.number().optional(),
  seconds: z.number().optional(),
  replay: z.string().optional(),
});
export type SeededSummary = z.infer<typeof SeededSummary>;

/** A fuzz driver's run and the summary it printed: null when it printed none (it crashed itself,
 * or the build is broken). */
export type FuzzRun<S> = RunResult & { summary: S | null };

/** The last line of `text` that is a JSON object holding `key` and fitting `schema`, or null. */
function lastJson<S extends z.ZodType>(text: string, key: string, schema: S): z.infer<S> | null {
  const lines = text.split("\n").filter((l) => l.startsWith("{") && l.includes(key));
  if (lines.length === 0) return null;
  const r = schema.safeParse(jsonOrUndefined(lines[lines.length - 1]));
  return r.success ? r.data : null;
}

/** Builds and runs the seeded driver. */
export async function runSeeded(opts: SeededOptions): Promise<FuzzRun<SeededSummary>> {
  const exe = await buildSeeded(opts.target, opts.flavour);
  await Deno.mkdir(FUZZ_OUT, { recursive: true });
  const hint = `deno task fuzz --target ${opts.target} --flavour ${opts.flavour}`;
  const args = ["--seconds", String(opts.seconds), "--out", FUZZ_OUT, "--replay-prefix", hint];
  if (opts.seed !== undefined) args.push("--seed", opts.seed);
  if (opts.caseIndex !== undefined) args.push("--case", String(opts.caseIndex));
  if (opts.replay !== undefined) args.push("--replay", opts.replay);
  if (opts.maxBytes !== undefined) args.push("--max-bytes", String(opts.maxBytes));
  if (opts.shrinkSeconds !== undefined) args.push("--shrink-seconds", String(opts.shrinkSeconds));
  // the driver's own variables (HAK_FUZZ_*) come from opts.env only
  const ours = Object.keys(Deno.env.toObject()).filter((k) => k.startsWith("HAK_FUZZ_"));
  const shrink = opts.shrinkSeconds ?? 120;
  const r = await runArgv([...runnerPrefix(opts.target), exe, ...args], {
    scrub: true,
    env: { ...Object.fromEntries(ours.map((k) => [k, undefined])), ...opts.env },
    echo: opts.echo ?? true,
    timeoutMs: (opts.seconds + shrink + 180) * 1000,
  });
  return { ...r, summary: lastJson(r.stdout, '"seeded"', SeededSummary) };
}

export interface LibFuzzerSummary {
  inputs: number;
  ops: number;
  stream_ops: number;
  allocs: number;
  cross_frees: number;
  /** libFuzzer's own count ("Done N runs"). */
  runs: number | null;
}

export interface LibFuzzerOptions {
  seconds: number;
  /** libFuzzer -seed (default 1, so a run is repeatable for a given corpus). */
  seed?: number;
  maxLen?: number;
  /** Corpus directory (default build/fuzz/libfuzzer/corpus, kept between runs). */
  corpus?: string;
  echo?: boolean;
}

/** Fills an empty corpus with a few inputs of PRNG bytes, so the fuzzer starts from long op
 * sequences rather than from nothing. */
async function seedCorpus(dir: string, seed: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for await (const _ of Deno.readDir(dir)) return;
  let s = BigInt(seed) | 1n;
  const next = () => {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    return Number(s & 0xffn);
  };
  for (let i = 0; i < 8; i++) {
    const bytes = new Uint8Array(256 << (i % 4));
    for (let j = 0; j < bytes.length; j++) bytes[j] = next();
    await Deno.writeFile(join(dir, `seed-${i}`), bytes);
  }
}

/** Builds and runs the libFuzzer driver; throws when clang cannot be had. */
export async function runLibFuzzer(opts: LibFuzzerOptions): Promise<FuzzRun<LibFuzzerSummary>> {
  const missing = await clangMissing();
  if (missing) throw new Error(`libFuzzer needs Debian's clang: ${missing}`);
  const exe = await buildLibFuzzer();
  const base = join(FUZZ_OUT, "libfuzzer");
  await Deno.mkdir(base, { recursive: true }); // crash artifacts go here, also with a given corpus
  const corpus = opts.corpus ?? join(base, "corpus");
  const seed = opts.seed ?? 1;
  await seedCorpus(corpus, seed);
  const args = [
    `-max_total_time=${opts.seconds}`,
    `-max_len=${opts.maxLen ?? 4096}`,
    `-seed=${seed}`,
    "-timeout=60",
    "-rss_limit_mb=4096",
    "-print_final_stats=1",
    `-artifact_prefix=${base}/`,
    corpus,
  ];
  const r = await run(exe, args, {
    env: sanitizerEnv(),
    echo: opts.echo ?? true,
    timeoutMs: (opts.seconds + 300) * 1000,
  });
  const m = /libfuzzer-ops: inputs=(\d+) ops=(\d+) stream_ops=(\d+) allocs=(\d+) cross_frees=(\d+)/
    .exec(r.stderr);
  const done = /Done (\d+) runs in/.exec(r.stderr);
  const summary = m
    ? {
      inputs: +m[1],
      ops: +m[2],
      stream_ops: +m[3],
      allocs: +m[4],
      cross_frees: +m[5],
      runs: done ? +done[1] : null,
    }
    : null;
  return { ...r, summary };
}

export interface FuzzCliOptions {
  seconds: number;
  seed?: string;
  target: TargetName;
  flavour: Flavour;
  caseIndex?: number;
  replay?: string;
  maxBytes?: number;
  shrinkSeconds?: number;
  libfuzzer: boolean;
}

/** `deno task fuzz`; returns the exit code. */
export async function runFuzz(opts: FuzzCliOptions): Promise<number> {
  if (opts.libfuzzer) {
    const seed = opts.seed !== undefined ? Number(BigInt(opts.seed) & 0x7fffffffn) : undefined;
    const r = await runLibFuzzer({ seconds: opts.seconds, seed });
    const s = r.summary;
    if (s) {
      console.log(
        `fuzz (libFuzzer, ASan+UBSan): ${s.ops} ops (${s.stream_ops} from the inputs) in ` +
          `${s.inputs} inputs, ${r.seconds.toFixed(1)} s`,
      );
    }
    if (r.code !== 0) {
      const art = /Test unit written to (\S+)/.exec(r.stderr);
      console.log(
        `fuzz (libFuzzer): FAILED (${endText(r)})` +
          (art ? `; input: ${art[1]}; replay: deno task fuzz --replay ${art[1]}` : ""),
      );
      return 1;
    }
    return 0;
  }
  const r = await runSeeded(opts);
  const s = r.summary;
  if (s?.ok) {
    console.log(
      `fuzz (seeded, ${opts.target} ${opts.flavour}): ${s.ops} ops executed` +
        (s.cases !== undefined ? ` in ${s.cases} cases` : "") +
        `, ${(s.seconds ?? r.seconds).toFixed(1)} s` + (s.seed ? `, seed ${s.seed}` : ""),
    );
    return 0;
  }
  if (!s) console.log(`fuzz: the driver ended without a summary (${endText(r)})`);
  return 1;
}
