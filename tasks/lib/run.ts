// The workbench's one way of running a program: npm:execa underneath, for the tasks, the tests and
// the report builder alike. A child runs to its end with an optional time limit (SIGKILL when it
// passes), its output captured as text, passed through, or both (relayed as it comes, with each
// complete line handed to a callback: the test runner reads deno test's summary lines so). One
// result type says how it ended; signal names come from execa (and node:os for the numbers that
// hakrun records).

import { execa, execaSync, type Options, type Result } from "execa";
import { constants } from "node:os";
import { ROOT } from "./targets.ts";

export interface RunOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Variables set on top of ours (or, with `clearEnv`, the whole environment); `undefined`
   * removes one. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The child gets `env` and nothing else. */
  clearEnv?: boolean;
  /** Start from our environment without the allocator variables (isAllocatorVar), but those
   * listed; `env` is applied on top. */
  scrub?: boolean | readonly string[];
  /** Pass stdout/stderr through instead of capturing them. */
  inherit?: boolean;
  /** Relay stdout and stderr (or only the one named) to ours as they come, and capture them too
   * (a streamed run keeps the last STREAM_KEPT_CHARS of each). */
  echo?: boolean | Stream;
  /** Called with every complete line of stdout or stderr as it comes (the last one also when it
   * has no newline). */
  onLine?: (line: string, stream: Stream) => void;
  /** Kill the child (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Standard input text (default: none, /dev/null). Written while the output is read, so a
   * child that answers line by line never blocks on a full pipe. */
  input?: string;
  /** Called with the child's pid once it runs (to signal it, or its children, from outside). */
  onStart?: (pid: number) => void;
}

export type Stream = "stdout" | "stderr";

/** What a streamed run (echo, onLine) keeps of each stream's text: its end. */
export const STREAM_KEPT_CHARS = 4_000_000;

/** How a child ended and what it printed. */
export interface RunResult {
  /** The command line that ran (for messages). */
  argv: string[];
  /** Exit status, or null when a signal ended the child. */
  code: number | null;
  /** The signal that ended the child (e.g. "SIGKILL"), or null. */
  signal: string | null;
  /** True when the time limit killed the child. */
  timedOut: boolean;
  /** Captured output ("" when passed through). */
  stdout: string;
  stderr: string;
  /** Wall-clock seconds from start to end. */
  seconds: number;
}

/** run() could not start the program at all (not found, not executable). */
export class CannotRun extends Error {}

/** The child's whole environment: ours (unless `clearEnv`) with `env` applied. */
function childEnv(o: RunOptions): Record<string, string> {
  const env = o.clearEnv
    ? {}
    : o.scrub
    ? cleanEnv(o.scrub === true ? [] : o.scrub)
    : Deno.env.toObject();
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function streamed(o: RunOptions): boolean {
  return Boolean(o.echo || o.onLine);
}

function execaOptions(o: RunOptions) {
  const out = o.inherit ? "inherit" : "pipe";
  return {
    buffer: !streamed(o),
    cwd: o.cwd ?? ROOT,
    env: childEnv(o),
    extendEnv: false,
    stdin: o.input === undefined ? "ignore" : "pipe",
    input: o.input,
    stdout: out,
    stderr: out,
    timeout: o.timeoutMs,
    killSignal: "SIGKILL",
    // A timed-out child's own children die with it: a program that forked (a test's child stuck
    // in a deadlock) otherwise keeps our end of its output pipe open, and the run never returns.
    killDescendants: o.timeoutMs !== undefined,
    reject: false,
    stripFinalNewline: false,
    encoding: "utf8",
  } satisfies Options;
}

function resultOf(
  argv: string[],
  r: Result<ReturnType<typeof execaOptions>>,
  started: number,
  streams?: { stdout: string; stderr: string },
): RunResult {
  if (r.exitCode === undefined && r.signal === undefined && !r.timedOut) {
    throw new CannotRun(`cannot run ${argv[0]}: ${r.originalMessage || r.shortMessage}`, {
      cause: r.cause,
    });
  }
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    argv,
    code: r.exitCode ?? null,
    signal: r.signal ?? null,
    timedOut: r.timedOut,
    stdout: streams?.stdout ?? text(r.stdout),
    stderr: streams?.stderr ?? text(r.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Reads a child's stream as it comes: relays it to ours (`echo`), hands its lines to `onLine`
 * and keeps its text (the last STREAM_KEPT_CHARS). */
function tap(src: NodeJS.ReadableStream | null, stream: Stream, o: RunOptions): Promise<string> {
  if (src === null) return Promise.resolve("");
  const echo = o.echo === true || o.echo === stream;
  const dst = stream === "stdout" ? Deno.stdout : Deno.stderr;
  const dec = new TextDecoder();
  let text = "";
  let lineStart = 0;
  return new Promise((resolve) => {
    src.on("data", (chunk: Uint8Array) => {
      if (echo) {
        for (let off = 0; off < chunk.length;) off += dst.writeSync(chunk.subarray(off));
      }
      text += dec.decode(chunk, { stream: true });
      if (o.onLine) {
        for (let nl = text.indexOf("\n", lineStart); nl >= 0; nl = text.indexOf("\n", lineStart)) {
          o.onLine(text.slice(lineStart, nl), stream);
          lineStart = nl + 1;
        }
      }
      if (text.length > STREAM_KEPT_CHARS) {
        const cut = text.length - STREAM_KEPT_CHARS / 2;
        text = text.slice(cut);
        lineStart = Math.max(0, lineStart - cut);
      }
    });
    // "error" too: the child's end (its status) says what went wrong
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (o.onLine && lineStart < text.length) o.onLine(text.slice(lineStart), stream);
      resolve(text);
    };
    src.once("end", end);
    src.once("error", end);
  });
}

/** Runs `cmd args` to its end. Never throws for how the child ended (non-zero exit, signal,
 * time-out); throws only when it cannot be started at all (not found, not executable). */
export async function run(
  cmd: string,
  args: readonly string[],
  o: RunOptions = {},
): Promise<RunResult> {
  const started = performance.now();
  const child = execa(cmd, args, execaOptions(o));
  if (child.pid !== undefined) o.onStart?.(child.pid);
  const taps = streamed(o)
    ? Promise.all([tap(child.stdout, "stdout", o), tap(child.stderr, "stderr", o)])
    : null;
  const r = await child;
  const kept = taps ? await taps : null;
  const streams = kept ? { stdout: kept[0], stderr: kept[1] } : undefined;
  return resultOf([cmd, ...args], r, started, streams);
}

/** run(), or null when the program is not there to run (absence is an answer: a tool that is
 * not installed). */
export async function runIfPresent(
  cmd: string,
  args: readonly string[],
  o: RunOptions = {},
): Promise<RunResult | null> {
  try {
    return await run(cmd, args, o);
  } catch (e) {
    if (e instanceof CannotRun) return null;
    throw e;
  }
}

/** run() of a command line given as one array (argv[0] is the program). */
export function runArgv(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  return run(argv[0], argv.slice(1), o);
}

/** run() that blocks, for the few callers that cannot wait (help text built synchronously). The
 * child inherits our environment as it is: under Deno, execaSync does not keep a child's
 * environment from ours, so it takes no `env`. */
export function runSync(
  cmd: string,
  args: readonly string[],
  o: Pick<RunOptions, "cwd" | "timeoutMs" | "input"> = {},
): RunResult {
  const started = performance.now();
  const { env: _env, extendEnv: _extend, killDescendants: _tree, ...options } = execaOptions(o);
  return resultOf([cmd, ...args], execaSync(cmd, args, options), started);
}

/** Runs `cmd args` and throws (with its output) unless it exits 0. Returns stdout. */
export async function runChecked(
  cmd: string,
  args: readonly string[],
  o: RunOptions = {},
): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) {
    const output = (r.stderr + r.stdout).trim();
    throw new Error(
      `command failed (${endText(r)}): ${[cmd, ...args].join(" ")}` +
        (output ? `\n${output}` : ""),
    );
  }
  return r.stdout;
}

/** How a finished child ended, in words: "exit 3", "killed by SIGSEGV", "timed out after 5 s". */
export function endText(r: RunResult, timeoutMs?: number): string {
  if (r.timedOut) return `timed out${timeoutMs ? ` after ${timeoutMs / 1000} s` : ""}`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}

/** The status a shell reports: the exit code, or 128 + the signal's number. */
export function shellStatus(r: RunResult): number {
  return r.code ?? 128 + (r.signal ? signalNumber(r.signal) ?? 0 : 0);
}

const SIGNAL_NUMBERS = constants.signals as Readonly<Record<string, number>>;

/** The number of a signal named like "SIGSEGV", or null. */
export function signalNumber(name: string): number | null {
  return SIGNAL_NUMBERS[name] ?? null;
}

/** The name of signal number `n` ("SIGSEGV"), or null when this platform has none. */
export function signalName(n: number): string | null {
  return Object.keys(SIGNAL_NUMBERS).find((k) => SIGNAL_NUMBERS[k] === n) ?? null;
}

/** The variables that change which allocator runs or how: the loader's preload, glibc's tunables
 * and malloc variables, hakmem's and every peer's. */
const ALLOCATOR_VARS = ["LD_PRELOAD", "GLIBC_TUNABLES", "MALLOC_CONF"];
const ALLOCATOR_PREFIXES = [
  "HAKMEM_",
  "MALLOC_",
  "MIMALLOC_",
  "JEMALLOC_",
  "TCMALLOC_",
  "_RJEM_",
  "SNMALLOC_",
  "RPMALLOC_",
];

/** Whether `name` is one of the allocator variables (see ALLOCATOR_VARS). */
export function isAllocatorVar(name: string): boolean {
  return ALLOCATOR_VARS.includes(name) || ALLOCATOR_PREFIXES.some((p) => name.startsWith(p));
}

/** An overlay for `run`'s `env`: every allocator variable of ours unset (see ALLOCATOR_VARS),
 * then `extra`. */
export function unsetAllocatorVars(
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  const ours = Object.keys(Deno.env.toObject()).filter(isAllocatorVar);
  return { ...Object.fromEntries(ours.map((k) => [k, undefined])), ...extra };
}

/** Our environment without the allocator variables (but those named in `keep`), as a whole
 * environment for `clearEnv` runs. */
export function cleanEnv(keep: readonly string[] = []): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) {
    if (isAllocatorVar(k) && !keep.includes(k)) delete env[k];
  }
  return env;
}
