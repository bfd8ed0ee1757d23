// The workbench's one way of running a program to completion: npm:execa underneath, with an
// optional time limit (SIGKILL when it passes), the output captured as text or passed through.
// toolchain.ts's runCommand/runChecked, the bench, the peer builds and the instruction counts all
// go through here.

import { execa } from "execa";
import { ROOT } from "./targets.ts";

export interface RunOptions {
  cwd?: string;
  /** Variables added to ours (or, with `clearEnv`, the whole environment). */
  env?: Record<string, string>;
  /** The child gets `env` and nothing else. */
  clearEnv?: boolean;
  /** Pass stdout/stderr through instead of capturing them. */
  inherit?: boolean;
  /** Kill the child (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Standard input text (default: none, /dev/null). */
  input?: string;
  /** Called with the child's pid once it runs (to signal it, or its children, from outside). */
  onStart?: (pid: number) => void;
}

export interface RunResult {
  /** Exit status, or null when a signal ended the child. */
  code: number | null;
  /** The signal that ended the child (e.g. "SIGKILL"), or null. */
  signal: string | null;
  /** True when the time limit killed the child. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` to its end. Never throws for how the child ended (non-zero exit, signal,
 * time-out); throws only when it cannot be started at all (not found, not executable). */
export async function run(cmd: string, args: readonly string[], o: RunOptions = {}) {
  const child = execa(cmd, args, {
    cwd: o.cwd ?? ROOT,
    env: o.env,
    extendEnv: !o.clearEnv,
    stdin: o.input === undefined ? "ignore" : "pipe",
    input: o.input,
    stdout: o.inherit ? "inherit" : "pipe",
    stderr: o.inherit ? "inherit" : "pipe",
    timeout: o.timeoutMs,
    killSignal: "SIGKILL",
    reject: false,
    stripFinalNewline: false,
    encoding: "utf8",
  });
  if (child.pid !== undefined) o.onStart?.(child.pid);
  const r = await child;
  if (r.exitCode === undefined && r.signal === undefined && !r.timedOut) {
    throw new Error(`cannot run ${cmd}: ${r.originalMessage || r.shortMessage}`);
  }
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    code: r.exitCode ?? null,
    signal: r.signal ?? null,
    timedOut: r.timedOut,
    stdout: text(r.stdout),
    stderr: text(r.stderr),
  } satisfies RunResult;
}

/** How a finished child ended, in words: "exit 3", "killed by SIGSEGV", "timed out after 5 s". */
export function endText(r: RunResult, timeoutMs?: number): string {
  if (r.timedOut) return `timed out${timeoutMs ? ` after ${timeoutMs / 1000} s` : ""}`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}
