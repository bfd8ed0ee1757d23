// The programs mode of `deno task bench` (--programs, and part of the full profile): the real
// programs of tasks/programs/catalogue.ts, each under every allocator of the run, interleaved
// over the rounds (tasks/programs/run.ts), into results.json's `programs` record. A program that
// is not installed is installed with apt as the workbench's other Debian dependencies are
// (tasks/lib/deps.ts); one that cannot be is listed as unavailable with the reason, never skipped
// in silence.

import { join } from "node:path";
import type { Allocator } from "../bench/runner.ts";
import type { Profile } from "../bench/catalogue.ts";
import { ensurePackages, probeOk } from "../lib/deps.ts";
import { debVersion } from "../peers/peers.ts";
import { PROGRAM_IDS, type ProgramDef, programDef } from "./catalogue.ts";
import { type ProgramJob, runPrograms } from "./run.ts";
import { type ProgramInfo, PROGRAMS_VERSION, type ProgramsRecord } from "../bench/schema.ts";
import { ROOT } from "../lib/targets.ts";

/** The directory of the runs' stdout and stderr inside the run directory. */
export const PROGRAM_FILES_DIR = "programs";

/** Makes sure `def`'s binary is there (installing its package when it is not); the reason it
 * cannot be had, or null. */
export async function ensureProgram(def: Pick<ProgramDef, "id" | "deb" | "binary">) {
  if (await probeOk(def.binary)) return null;
  try {
    await ensurePackages([{
      deb: def.deb,
      why: `bench --programs runs ${def.id}`,
      probe: def.binary,
    }]);
    return null;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return `${def.binary} is not installed and could not be installed: ${why.replace(/\s+/g, " ")}`;
  }
}

/** The record and the job of each program: its input (generated ones written into outDir/inputs),
 * its package's version, available or not with the reason. */
export async function preparePrograms(
  ids: readonly string[],
  profile: Profile,
  outDir: string,
): Promise<{ infos: ProgramInfo[]; jobs: ProgramJob[] }> {
  const infos: ProgramInfo[] = [];
  const jobs: ProgramJob[] = [];
  for (const id of ids) {
    const def = programDef(id);
    if (!def) throw new Error(`no program ${id}`);
    const scale = profile === "quick" ? def.quickScale : 1;
    let input = join(ROOT, def.input);
    if (def.generate) {
      input = join(outDir, def.input);
      await Deno.mkdir(join(input, ".."), { recursive: true });
      await Deno.writeTextFile(input, def.generate(scale));
    }
    const note = await ensureProgram(def);
    const args = def.args(scale, input);
    const info: ProgramInfo = {
      id,
      title: def.title,
      description: def.description,
      // the input named as the record names it (repository- or run-relative)
      argv: [def.binary, ...args.map((a) => a.split(input).join(def.input))],
      env: def.env,
      package: def.deb,
      version: note === null ? await debVersion(def.deb) : null,
      scale,
      input: def.input,
      available: note === null,
      note,
    };
    infos.push(info);
    if (note === null) jobs.push({ info, program: def.binary, args, env: def.env });
    const where = note === null
      ? `${def.binary} (${def.deb} ${info.version ?? "?"})`
      : "UNAVAILABLE";
    console.error(`[programs] ${id}: ${where}${note ? ` — ${note}` : ""}`);
  }
  return { infos, jobs };
}

export interface ProgramsModeOptions {
  ids: readonly string[];
  profile: Profile;
  /** The allocators that can run. */
  allocators: readonly Allocator[];
  hakrun: string;
  repeat: number;
  /** Seeds the allocators' order in each round. */
  seed: number;
  timeoutS: number;
  outDir: string;
  tmpDir: string;
  stopped: () => boolean;
  /** Called after each round with the record so far (to save it). */
  onRound: (rec: ProgramsRecord) => Promise<void>;
}

/** Runs the programs mode; returns its record. */
export async function benchPrograms(o: ProgramsModeOptions): Promise<ProgramsRecord> {
  const { infos, jobs } = await preparePrograms(o.ids, o.profile, o.outDir);
  const rec: ProgramsRecord = {
    version: PROGRAMS_VERSION,
    mode: "bench",
    repeat: o.repeat,
    check_output: true,
    cwd: null,
    programs: infos,
    samples: [],
  };
  if (jobs.length === 0) return rec;
  console.error(
    `[programs] ${jobs.length} programs × ${o.allocators.length} allocators × ${o.repeat} rounds`,
  );
  rec.samples = await runPrograms({
    hakrun: o.hakrun,
    jobs,
    allocators: o.allocators,
    repeat: o.repeat,
    seed: o.seed,
    timeoutS: o.timeoutS,
    outDir: o.outDir,
    filesDir: PROGRAM_FILES_DIR,
    tmpDir: o.tmpDir,
    checkOutput: true,
    stopped: o.stopped,
    tag: "programs",
    onRound: async (samples) => {
      rec.samples = samples;
      await o.onRound(rec);
    },
  });
  return rec;
}

/** Why the programs mode fails the bench: hakmem runs that failed or whose output differed from
 * glibc's, and (under CI=true) programs that could not be had. One line each. */
export function programProblems(rec: ProgramsRecord, ci: boolean): string[] {
  const out: string[] = [];
  for (const s of rec.samples.filter((x) => x.allocator.startsWith("hakmem"))) {
    const at = `${s.program} under ${s.allocator}, round ${s.round}`;
    if (!s.ok) out.push(`${at} failed: ${s.stderr_tail.split("\n").pop()}`);
    else if (s.output === "differs") {
      out.push(`${at}: output differs from glibc's (${s.files?.stdout})`);
    }
  }
  if (ci) {
    for (const p of rec.programs.filter((x) => !x.available)) {
      out.push(`CI=true: program ${p.id} unavailable, which fails the run: ${p.note}`);
    }
  }
  return out;
}

/** The programs a bench run runs: those of --programs (true: all), or all of them in the full
 * profile when neither --benches nor --oracle chose the work; none with --repeat 0. An unknown
 * id is a usage error (`usage` builds it). */
export function programIdsOf(
  o: { programs?: string[] | boolean; benches?: string[]; profile: Profile },
  oracle: boolean,
  repeat: number,
  usage: (msg: string) => Error,
): string[] {
  if (repeat === 0 || o.programs === false) return [];
  if (Array.isArray(o.programs) && o.programs.length > 0) {
    const bad = o.programs.filter((p) => !programDef(p));
    if (bad.length > 0) {
      throw usage(
        `unknown program${bad.length > 1 ? "s" : ""}: ${bad.join(", ")}; valid: ${
          PROGRAM_IDS.join(", ")
        }`,
      );
    }
    return [...new Set(o.programs)];
  }
  if (o.programs !== undefined) return [...PROGRAM_IDS];
  const chosen = (o.benches && o.benches.length > 0) || oracle;
  return o.profile === "full" && !chosen ? [...PROGRAM_IDS] : [];
}
