// Child processes with a hard time limit, shared by the tasks (soak) and the tests
// (tests/native/proc.ts builds its captured `run` on it).

export interface SpawnOptions {
  /** The child's whole environment (it inherits nothing else). */
  env: Record<string, string>;
  cwd?: string;
  /** "piped" to write standard input; default "null". */
  stdin?: "null" | "piped";
  /** Kill the process (SIGKILL) after this many milliseconds. */
  timeoutMs: number;
}

export interface TimedChild {
  /** The child; its stdout and stderr are piped. */
  child: Deno.ChildProcess;
  /** True once the time limit killed the child. */
  timedOut(): boolean;
  /** Cancels the time limit (call when the child has ended). */
  clearTimer(): void;
}

/** Spawns argv[0] with argv[1..], stdout and stderr piped, killed with SIGKILL after
 * `timeoutMs`. */
export function spawnTimed(argv: string[], opts: SpawnOptions): TimedChild {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: true,
    stdin: opts.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, opts.timeoutMs);
  return { child, timedOut: () => timedOut, clearTimer: () => clearTimeout(timer) };
}

/** A fresh random non-zero 64-bit seed as 0x-hex (16 digits). */
export function freshSeed(): string {
  const v = new BigUint64Array(1);
  crypto.getRandomValues(v);
  if (v[0] === 0n) v[0] = 1n;
  return "0x" + v[0].toString(16).padStart(16, "0");
}
