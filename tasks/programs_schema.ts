// The `programs` record of a results.json: real programs (the bench's programs mode) or one
// command (`deno task compare`) run under every allocator, interleaved over rounds. Versioned on
// its own (`version`), so the bench's schema 2 stays readable by older pages; validatePrograms()
// is called by validateResults (tasks/bench_schema.ts). Pure: bundles for the browser.

import type { Sample } from "./bench_stats.ts";

/** The version of the record this workbench writes; a reader refuses newer ones. */
export const PROGRAMS_VERSION = 1;

/** One program (or compare's command) and whether it could be run. */
export interface ProgramInfo {
  /** "python3", "sqlite3", … (compare: "command"). */
  id: string;
  title: string;
  description: string;
  /** The command line as run (inputs as paths relative to the repository, or absolute). */
  argv: string[];
  /** Variables set for the program besides the allocator's (e.g. PYTHONMALLOC=malloc). */
  env: Record<string, string>;
  /** The Debian package that provides it, and its installed version (null: unknown/none). */
  package: string | null;
  version: string | null;
  /** The scale it ran at (null for compare's command). */
  scale: number | null;
  /** The committed input (script, SQL, source), relative to the repository; generated inputs
   * are kept in the run directory and named relative to it. */
  input: string | null;
  available: boolean;
  /** Why it is unavailable (not installed and could not be installed), else null. */
  note: string | null;
}

/** One run of a program under one allocator in one round: a bench sample's figures (wall, user
 * and sys CPU, getrusage's peak RSS and faults of the program and its waited-for children, the RSS
 * curve summed over its process tree, hakmem's statistics from the last of its processes to exit)
 * without a result line; `ok` means it ended with status 0 within the time limit. */
export interface ProgramSample extends Omit<Sample, "bench" | "value" | "result"> {
  program: string;
  /** sha256 of stdout, and its size. */
  stdout_sha256: string;
  stdout_bytes: number;
  /** Against glibc's run of the same round: "same" or "differs" (stdout and exit status); null
   * when not checked (no glibc run that round, or compare without --check-output). */
  output: "same" | "differs" | null;
  /** stdout and stderr of the run, relative to the run directory (null: not kept). */
  files: { stdout: string; stderr: string } | null;
}

export interface ProgramsRecord {
  version: typeof PROGRAMS_VERSION;
  /** "bench": the programs mode of `deno task bench`; "compare": `deno task compare`. */
  mode: "bench" | "compare";
  repeat: number;
  /** Outputs are compared with glibc's of the same round (always in the bench). */
  check_output: boolean;
  /** Working directory of compare's command (null in the bench). */
  cwd: string | null;
  programs: ProgramInfo[];
  samples: ProgramSample[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const str = (v: unknown) => typeof v === "string";
const strOrNull = (v: unknown) => v === null || str(v);
const intOrNull = (v: unknown) => v === null || Number.isInteger(v);
const strArray = (v: unknown) => Array.isArray(v) && v.every(str);
const strRecord = (v: unknown) => isObj(v) && Object.values(v).every(str);

/** A path inside the run directory. */
function insideRun(v: unknown): boolean {
  return str(v) && v !== "" && !(v as string).startsWith("/") &&
    !(v as string).split("/").includes("..");
}

/** Problems with the shape of a results.json's `programs` (empty when valid), each prefixed
 * with "programs.". */
export function validatePrograms(x: unknown): string[] {
  const errs: string[] = [];
  const check = (cond: boolean, what: string) => {
    if (!cond) errs.push(`programs.${what}`);
  };
  if (!isObj(x)) return ["programs: object"];
  if (Number.isInteger(x.version) && (x.version as number) > PROGRAMS_VERSION) {
    return [
      `programs.version ${x.version}: written by a newer workbench (this one reads ` +
      `${PROGRAMS_VERSION})`,
    ];
  }
  check(x.version === PROGRAMS_VERSION, `version must be ${PROGRAMS_VERSION}`);
  check(x.mode === "bench" || x.mode === "compare", "mode: bench | compare");
  check(Number.isInteger(x.repeat) && (x.repeat as number) >= 1, "repeat: integer >= 1");
  check(typeof x.check_output === "boolean", "check_output: boolean");
  check(strOrNull(x.cwd), "cwd: string | null");
  const ids = new Set<string>();
  if (!Array.isArray(x.programs)) errs.push("programs.programs: array");
  else {
    x.programs.forEach((p: unknown, i) => {
      const at = `programs[${i}]`;
      if (!isObj(p)) return errs.push(`programs.${at}: object`);
      for (const k of ["id", "title", "description"]) check(str(p[k]), `${at}.${k}`);
      if (str(p.id)) ids.add(p.id as string);
      check(strArray(p.argv) && (p.argv as string[]).length > 0, `${at}.argv: non-empty string[]`);
      check(strRecord(p.env), `${at}.env: {name: value}`);
      for (const k of ["package", "version", "note", "input"]) check(strOrNull(p[k]), `${at}.${k}`);
      check(p.scale === null || (num(p.scale) && (p.scale as number) > 0), `${at}.scale`);
      check(typeof p.available === "boolean", `${at}.available`);
      check(p.available === true || str(p.note), `${at}.note (the reason it is unavailable)`);
    });
  }
  if (!Array.isArray(x.samples)) errs.push("programs.samples: array");
  else {
    x.samples.forEach((s: unknown, i) => {
      const at = `samples[${i}]`;
      if (!isObj(s)) return errs.push(`programs.${at}: object`);
      check(str(s.program) && ids.has(s.program as string), `${at}.program (one of programs)`);
      check(str(s.allocator), `${at}.allocator`);
      check(Number.isInteger(s.round) && (s.round as number) >= 0, `${at}.round`);
      check(typeof s.ok === "boolean" && typeof s.timed_out === "boolean", `${at}.ok/timed_out`);
      check(intOrNull(s.exit) && intOrNull(s.signal), `${at}.exit/signal`);
      check(str(s.stderr_tail), `${at}.stderr_tail`);
      for (const k of ["wall_s", "user_s", "sys_s", "maxrss_kib", "minflt", "majflt"]) {
        check(num(s[k]) && (s[k] as number) >= 0, `${at}.${k}`);
      }
      check(s.hakmem === null || isObj(s.hakmem), `${at}.hakmem`);
      check(str(s.stdout_sha256) && Number.isInteger(s.stdout_bytes), `${at}.stdout_sha256/bytes`);
      check(
        s.output === null || s.output === "same" || s.output === "differs",
        `${at}.output: same | differs | null`,
      );
      const f = s.files;
      check(
        f === null || (isObj(f) && insideRun(f.stdout) && insideRun(f.stderr)),
        `${at}.files (null or {stdout, stderr} inside the run directory)`,
      );
      const r = s.rss;
      if (r !== null) {
        const ok = isObj(r) && num(r.sample_ms) && num(r.peak_kib) && num(r.mib_s) &&
          Array.isArray(r.curve) &&
          r.curve.every((c: unknown) => Array.isArray(c) && c.length === 2 && c.every(num));
        check(ok, `${at}.rss (null or {sample_ms, peak_kib, mib_s, curve: [t, KiB][]})`);
      }
    });
  }
  return errs;
}
