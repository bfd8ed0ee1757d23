// One run of the bench: a program under an allocator, through hakrun (bench/runner.c), which
// preloads the allocator in the child only, enforces the time limit, samples the child's RSS and
// records its rusage. runOnce() turns what hakrun wrote, the program's JSON line and (for hakmem)
// its statistics file into a sample; it never throws for a program that failed: a run killed by
// its time limit or a signal is a failed sample with the reason, never a number.

import { join } from "node:path";
import type { AllocatorInfo, RssRecord, Sample } from "./stats.ts";
import { MAX_CURVE_POINTS, thinCurve } from "./stats.ts";
import { run, signalName } from "../lib/run.ts";
import { which } from "../lib/toolchain.ts";
import { existsSync, isMissing, readTextIfPresent, removeIfPresent } from "../lib/files.ts";
import { jsonOrUndefined } from "../lib/schema.ts";

export interface Allocator extends AllocatorInfo {
  /** Environment of the program (hakmem: its variant's variables). */
  env: Record<string, string>;
}

/** An allocator known by its name and library only (calibration, tests). */
export function bareAllocator(
  name: string,
  kind: Allocator["kind"],
  lib: string | null,
  env: Record<string, string> = {},
): Allocator {
  return {
    name,
    kind,
    lib,
    available: true,
    note: null,
    version: null,
    source: null,
    build: null,
    env,
  };
}

export interface RunSpec {
  hakrun: string;
  program: string;
  args: string[];
  allocator: Allocator;
  timeoutS: number;
  tmpDir: string;
  seq: number;
  /** Where hakmem writes its ACE trace (HAKMEM_ACE_TRACE), or null for none. */
  trace: string | null;
  /** hakrun's RSS sampling interval, ms (0: none). */
  sampleMs?: number;
  /** Runs `prefix… program args` instead (e.g. valgrind): the allocator still preloaded. */
  prefix?: string[];
  /** Variables of the program besides the allocator's (its variant's win). */
  env?: Record<string, string>;
  /** Working directory of the program (default tmpDir). */
  cwd?: string;
  /** Sample the RSS of the program and every process descended from it (hakrun --tree). */
  tree?: boolean;
  /** Time the machine's core-to-core round trip before the run (hakrun --core-rtt). */
  coreRtt?: boolean;
}

export type Measured = Omit<Sample, "bench" | "allocator" | "round">;

const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_CHARS = 4000;

/** The last lines of `text` (at most STDERR_TAIL_CHARS). */
export function tail(text: string): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  const t = lines.slice(-STDERR_TAIL_LINES).join("\n");
  return t.length > STDERR_TAIL_CHARS ? t.slice(-STDERR_TAIL_CHARS) : t;
}

/** The last line of `stdout` that is a JSON object with a "value". */
export function resultLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    const v = jsonOrUndefined(lines[i]); // a line that only looks like JSON is no result
    if (typeof v === "object" && v !== null && !Array.isArray(v) && "value" in v) {
      return v as Record<string, unknown>;
    }
  }
  return null;
}

/** The JSON object a run left in `path`, or null when it left none (hakrun or the program died
 * before writing it, or while: not JSON). */
async function readJson(path: string): Promise<Record<string, unknown> | null> {
  const text = await readTextIfPresent(path);
  const v = text === null ? null : jsonOrUndefined(text);
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : null;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function intOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

/** The sampled RSS of hakrun's record, its curve thinned; null when nothing was sampled. */
export function rssRecord(ru: Record<string, unknown> | null): RssRecord | null {
  const curve = ru?.rss_curve;
  if (!Array.isArray(curve) || curve.length === 0) return null;
  const points = curve.filter((p): p is [number, number] =>
    Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "number")
  );
  return {
    sample_ms: num(ru?.rss_sample_ms),
    peak_kib: num(ru?.rss_peak_kib),
    mib_s: Number(num(ru?.rss_mib_s).toFixed(3)),
    curve: thinCurve(points, MAX_CURVE_POINTS),
  };
}

/** The pid of the hakrun process running now (so an interrupt can stop it). */
let current: number | null = null;

/** Kills a hakrun process and the program it runs (which hakrun put in a process group of its
 * own, so signals to hakrun do not reach it). */
function killRun(pid: number): void {
  for (const k of childrenOf(pid)) {
    // the program leads its own process group; a child that does not, alone
    if (!killIfThere(-k)) killIfThere(k);
  }
  killIfThere(pid);
}

/** The pids of the children of `pid` ([] when it is gone). */
function childrenOf(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(path)) return []; // gone already
  return Deno.readTextFileSync(path).trim().split(/\s+/).filter((x) => x !== "").map(Number);
}

/** SIGKILL to `pid` (a process group when negative); false when there is no such process. */
function killIfThere(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGKILL");
    return true;
  } catch (e) {
    if (isMissing(e)) return false; // ESRCH: it ended on its own meanwhile
    throw e;
  }
}

/** Stops the run in progress, if any (the bench's SIGINT handler). */
export function stopCurrentRun(): void {
  if (current !== null) killRun(current);
}

let setsidPath: Promise<string | null> | undefined;

/** Why a run failed, in words. */
function failureWhy(
  ru: Record<string, unknown> | null,
  hakrun: { code: number | null; signal: string | null; watchdog: boolean },
  result: Record<string, unknown> | null,
  timeoutS: number,
): string {
  if (ru === null) {
    return `hakrun ${hakrun.signal ? `killed by ${hakrun.signal}` : `exit ${hakrun.code}`}` +
      `${hakrun.watchdog ? " (watchdog)" : ""}, no rusage record`;
  }
  const signal = intOrNull(ru.signal);
  const exit = intOrNull(ru.exit);
  if (ru.timed_out === true) return `timed out after ${timeoutS} s (killed)`;
  if (signal !== null) {
    const name = signalName(signal);
    return `killed by signal ${signal}${name ? ` (${name})` : ""}`;
  }
  if (exit !== 0) return `exit ${exit}`;
  return result === null
    ? 'no result line (JSON with "value") on stdout'
    : `bad value ${JSON.stringify(result.value)}`;
}

/** What one hakrun run left: its record (null when it wrote none), how hakrun itself ended, the
 * program's output and hakmem's statistics file. */
export interface RawRun {
  ru: Record<string, unknown> | null;
  hakrun: { code: number | null; signal: string | null; watchdog: boolean };
  stdout: string;
  stderr: string;
  hakmem: Record<string, unknown> | null;
}

/** Runs `spec.program` under its allocator through hakrun and returns what it left, whatever the
 * program did. Never throws for a failing program. */
export async function runRaw(spec: RunSpec): Promise<RawRun> {
  const outFile = join(spec.tmpDir, `run-${spec.seq}.json`);
  const statsFile = join(spec.tmpDir, `stats-${spec.seq}.json`);
  const a = spec.allocator;
  const env = { ...a.env };
  if (a.kind === "hakmem") env.HAKMEM_STATS_FILE = statsFile;
  if (spec.trace !== null) {
    // a stale file of an earlier run into the same --out must not pass for this run's trace
    await removeIfPresent(spec.trace);
    env.HAKMEM_ACE_TRACE = spec.trace;
  }
  const args = [
    "--out",
    outFile,
    ...(a.lib ? ["--preload", a.lib] : []),
    "--timeout",
    String(spec.timeoutS),
    "--sample-ms",
    String(spec.sampleMs ?? 10),
    ...(spec.tree ? ["--tree"] : []),
    ...(spec.coreRtt ? ["--core-rtt"] : []),
    ...Object.entries({ ...spec.env, ...env }).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    "--",
    ...(spec.prefix ?? []),
    spec.program,
    ...spec.args,
  ];
  let stdout = "";
  let stderr = "";
  const hakrun = { code: null as number | null, signal: null as string | null, watchdog: false };
  try {
    // hakrun runs in a session of its own (setsid): a Ctrl-C on the terminal then reaches only
    // us, and we stop hakrun and its program together (killRun) instead of hakrun dying alone
    // and leaving the program running.
    setsidPath ??= which("setsid");
    const setsid = await setsidPath;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    try {
      const r = await run(setsid ?? spec.hakrun, setsid ? [spec.hakrun, ...args] : args, {
        cwd: spec.cwd ?? spec.tmpDir,
        scrub: true,
        onStart: (pid) => {
          current = pid;
          // hakrun enforces the time limit itself; this is only the net under it
          watchdog = setTimeout(() => {
            hakrun.watchdog = true;
            killRun(pid);
          }, (spec.timeoutS + 30) * 1000);
        },
      });
      stdout = r.stdout;
      stderr = r.stderr;
      hakrun.code = r.code;
      hakrun.signal = r.signal;
    } finally {
      clearTimeout(watchdog);
      current = null;
    }
  } catch (e) {
    stderr = `cannot run ${spec.hakrun}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const ru = await readJson(outFile);
  const hakmem = a.kind === "hakmem" ? await readJson(statsFile) : null;
  await removeIfPresent(outFile);
  await removeIfPresent(statsFile);
  return { ru, hakrun, stdout, stderr, hakmem };
}

/** How a run ended and what it cost, from hakrun's record (zeros where it wrote none). */
export function runCosts(raw: RawRun) {
  const ru = raw.ru;
  return {
    exit: ru ? intOrNull(ru.exit) : null,
    signal: ru ? intOrNull(ru.signal) : null,
    timed_out: ru ? ru.timed_out === true : raw.hakrun.watchdog,
    wall_s: num(ru?.wall_s),
    user_s: num(ru?.user_s),
    sys_s: num(ru?.sys_s),
    maxrss_kib: num(ru?.maxrss_kib),
    minflt: num(ru?.minflt),
    majflt: num(ru?.majflt),
    rss: rssRecord(ru),
    core_rtt_ns: typeof ru?.core_rtt_ns === "number" ? ru.core_rtt_ns : null,
    hakmem: raw.hakmem,
  };
}

/** Why a run failed, in words, or null when the program ended with status 0 (the program's own
 * result line is the caller's to judge). */
export function endFailure(raw: RawRun, timeoutS: number): string | null {
  const c = runCosts(raw);
  if (
    raw.ru !== null && raw.hakrun.code === 0 && c.exit === 0 && c.signal === null && !c.timed_out
  ) {
    return null;
  }
  return failureWhy(raw.ru, raw.hakrun, null, timeoutS);
}

/** Runs one program under one allocator through hakrun. Never throws for a failing program. */
export async function runOnce(spec: RunSpec): Promise<Measured> {
  const raw = await runRaw(spec);
  const result = resultLine(raw.stdout);
  const value = result && typeof result.value === "number" && Number.isFinite(result.value)
    ? result.value
    : null;
  const costs = runCosts(raw);
  const ok = endFailure(raw, spec.timeoutS) === null && value !== null && value > 0;
  const why = ok ? "" : failureWhy(raw.ru, raw.hakrun, result, spec.timeoutS);
  const stderrTail = ok
    ? ""
    : tail([raw.stderr.trimEnd(), why ? `[bench] ${why}` : ""].filter(Boolean).join("\n"));
  return {
    ok,
    exit: costs.exit,
    signal: costs.signal,
    timed_out: costs.timed_out,
    stderr_tail: stderrTail,
    value: ok ? value : null,
    result,
    wall_s: costs.wall_s,
    user_s: costs.user_s,
    sys_s: costs.sys_s,
    maxrss_kib: costs.maxrss_kib,
    minflt: costs.minflt,
    majflt: costs.majflt,
    rss: costs.rss,
    core_rtt_ns: costs.core_rtt_ns,
    hakmem: costs.hakmem,
  };
}
