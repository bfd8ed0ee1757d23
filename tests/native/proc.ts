// Running test programs: a child process with captured output and a hard time limit (spawned by
// tasks/proc.ts, shared with the soak task). Shared by the native and the preload tests.

import { buildLibrary, type LibraryFiles, libraryFiles } from "../../tasks/build.ts";
import type { Flavour, TargetName } from "../../tasks/targets.ts";
import { spawnTimed } from "../../tasks/proc.ts";

export interface RunResult {
  /** The command line that ran (for messages). */
  argv: string[];
  /** Exit code (128 + signal number when killed by a signal, as a shell reports it). */
  code: number;
  /** Signal that ended the process, or null. */
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  seconds: number;
}

export interface RunOptions {
  /** Kill the process (SIGKILL) after this many milliseconds; default 120 s. */
  timeoutMs?: number;
  /** Variables added to (or, when undefined, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Text written to standard input (else it is closed at once). */
  stdin?: string;
}

/** Runs argv[0] with argv[1..], capturing stdout and stderr. Never throws for a non-zero exit. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = Deno.env.toObject();
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const started = performance.now();
  const { child, timedOut, clearTimer } = spawnTimed(argv, {
    cwd: opts.cwd,
    env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
  try {
    // Standard input is written while the output is read: a child that answers line by line
    // (redis-cli) would otherwise fill its stdout pipe and never read the rest of its input.
    const input = opts.stdin;
    const writing = input === undefined ? Promise.resolve() : (async () => {
      const w = child.stdin.getWriter();
      try {
        await w.write(new TextEncoder().encode(input));
        await w.close();
      } catch {
        // the child exited (or closed stdin) before reading everything: its status says why
      }
    })();
    const out = await child.output();
    await writing;
    const dec = new TextDecoder();
    return {
      argv,
      code: out.code,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut: timedOut(),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    clearTimer();
  }
}

/** A readable account of a run: command, status, and both outputs (tails when long). */
export function describeRun(r: RunResult, maxChars = 6000): string {
  const tail = (s: string) =>
    s.length > maxChars ? `...(${s.length - maxChars} chars cut)\n${s.slice(-maxChars)}` : s;
  const status = r.timedOut
    ? `killed after the time limit (${r.seconds.toFixed(1)} s)`
    : r.signal
    ? `killed by ${r.signal}`
    : `exit code ${r.code}`;
  return `$ ${r.argv.join(" ")}\n${status} after ${r.seconds.toFixed(2)} s\n--- stdout ---\n${
    tail(r.stdout)
  }\n--- stderr ---\n${tail(r.stderr)}`;
}

/** Throws with the full account unless the run exited 0 in time. */
export function assertSuccess(r: RunResult, what: string): void {
  if (r.timedOut || r.signal !== null || r.code !== 0) {
    throw new Error(`${what} failed\n${describeRun(r)}`);
  }
}

/** The seed of the native, sanitizer and fuzz tests' programs: fixed, so that every run does the
 * same work; HAKMEM_TEST_SEED picks another (to replay a failure or explore). Printed. */
export const DEFAULT_TEST_SEED = "0x5eed5eed5eed5eed";

export function testSeed(): string {
  const seed = Deno.env.get("HAKMEM_TEST_SEED") || DEFAULT_TEST_SEED;
  console.log(`seed ${seed} (HAKMEM_TEST_SEED=<seed> replays or picks another)`);
  return seed;
}

/** Makes sure dist/<target>/<flavour> has a library; builds it (incrementally) when it is
 * missing. `deno task test` builds everything first, so this only matters for a direct
 * `deno test` on a fresh tree. With $HAKMEM_TEST_DIST (another build's root, e.g. dist/cc/gcc)
 * the library there, which must exist. */
export async function ensureLibrary(target: TargetName, flavour: Flavour): Promise<LibraryFiles> {
  const other = Deno.env.get("HAKMEM_TEST_DIST");
  if (other !== undefined) {
    const files = libraryFiles(target, flavour, other);
    await Deno.stat(files.so);
    return files;
  }
  const files = libraryFiles(target, flavour);
  try {
    await Deno.stat(files.a);
    await Deno.stat(files.so);
  } catch {
    await buildLibrary(target, flavour);
  }
  return files;
}
