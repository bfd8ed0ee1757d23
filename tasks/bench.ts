// `deno task bench`: the benchmark suite. Builds libhakmem (x86_64 release), the workload programs
// of bench/ and the measuring runner hakrun (bench/runner.c), then runs every bench under every
// allocator for a number of rounds and writes reports/runs/<timestamp>/results.json (schema 1,
// tasks/bench_stats.ts) and the report page index.html next to it; the runs of hakmem variants
// that learn leave their ACE traces under traces/ there.
//
// hakmem runs as one or more variants (a name and an environment): the presets of --modes, the
// feature ladder of --ladder, the large-tier thresholds of --thresholds.
//
// Every program binary is the same for every allocator: glibc runs it as is, the others through
// LD_PRELOAD (set by hakrun in the child only). Within a round each bench runs under every
// allocator once, in an order rotated from round to round, so no allocator always runs first
// (cold caches, CPU frequency ramp) or right after a heavy neighbour.

import { join, relative, resolve } from "node:path";
import { buildExecutable, buildLibrary, libraryFiles } from "./build.ts";
import { ensurePackages, installLine } from "./deps.ts";
import { ROOT } from "./targets.ts";
import { runCommand, which, zigVersion } from "./toolchain.ts";
import {
  type AllocatorInfo,
  type BenchInfo,
  type MachineInfo,
  type Metric,
  REFERENCE_GLIBC,
  REFERENCE_MIMALLOC,
  type Results,
  type Sample,
  summarize,
  type Summary,
  summaryRow,
} from "./bench_stats.ts";

const TARGET = "x86_64-linux-gnu" as const;
const FLAVOUR = "release" as const;
const BENCH_SRC = join(ROOT, "bench");
export const RUNS_DIR = join(ROOT, "reports", "runs");

export const PROFILES = ["quick", "full"] as const;
export type Profile = (typeof PROFILES)[number];

export const MODES = ["minimal", "fast", "balanced", "learning", "research"] as const;
export const ALLOCATOR_KINDS = ["glibc", "hakmem", "mimalloc", "jemalloc", "tcmalloc"] as const;

// ---------------------------------------------------------------------------------------------
// the benches

interface BenchDef {
  id: string;
  program: string;
  /** Program arguments besides --seed and --scale, given the --threads value. */
  args: (threads: number) => string[];
  metric: Metric;
  title: string;
  description: string;
  /** --scale of the quick profile (full: 1). Tuned so that the quick profile with all five
   * allocators and 3 rounds takes about two minutes on two cores. */
  quickScale: number;
}

const BENCHES: readonly BenchDef[] = [
  {
    id: "larson",
    program: "larson",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Larson server",
    description: "Server-style churn after Larson & Krishnan: each thread replaces random blocks " +
      "(8–1000 B) in its slot array; at every round's end a new thread takes over the array, so " +
      "most blocks are freed by another thread than the one that allocated them.",
    quickScale: 0.15,
  },
  ...[16, 32, 64].map((size): BenchDef => ({
    id: `tiny_hot_${size}`,
    program: "tiny_hot",
    args: () => ["--size", String(size)],
    metric: "ns_per_op",
    title: `Tiny hot path, ${size} B`,
    description: `Batches of malloc(${size}), then free of the batch (LIFO and FIFO), in a ` +
      "tight loop: the cost of one malloc+free pair on the fast path (median ns per pair).",
    quickScale: 0.3,
  })),
  {
    id: "tiny_burst",
    program: "tiny_hot",
    args: () => ["--size", "32", "--batch", "400"],
    metric: "ns_per_op",
    title: "Tiny bursts of 400, 32 B",
    description: "Bursts of 400 malloc(32), then 400 frees: more blocks than a default thread " +
      "cache holds (128), so the default configuration moves bundles to and from the slabs on " +
      "every burst; a workload unlike the defaults, for the learning layer.",
    quickScale: 0.3,
  },
  ...[256, 1024].map((ws): BenchDef => ({
    id: `random_mixed_${ws}`,
    program: "random_mixed",
    args: () => ["--ws", String(ws)],
    metric: "ops_per_s",
    title: `Random mixed sizes, ${ws} live`,
    description: `Random malloc/free over ${ws} slots (about half full) with mixed sizes up ` +
      "to 1 KiB (60 % ≤ 128 B, 30 % ≤ 512 B, 10 % ≤ 1 KiB); one op = one malloc or one free.",
    quickScale: ws === 1024 ? 0.15 : 0.25,
  })),
  {
    id: "mid_large_mt_1",
    program: "mid_large_mt",
    args: () => ["--threads", "1"],
    metric: "ops_per_s",
    title: "Mid blocks (8–32 KiB), 1 thread",
    description: "One thread replaces random blocks of 8–32 KiB in a working set of 256, " +
      "writing every page of each new block.",
    quickScale: 0.4,
  },
  {
    id: "mid_large_mt_N",
    program: "mid_large_mt",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Mid blocks (8–32 KiB), N threads",
    description: "The same 8–32 KiB workload on --threads threads at once, each on its own " +
      "working set (ops/s summed over threads).",
    quickScale: 0.15,
  },
  {
    id: "xthread",
    program: "xthread",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Cross-thread free",
    description: "A ring of threads: each allocates blocks and passes them through a queue to " +
      "the next, which checks and frees them, so every free is remote.",
    quickScale: 0.2,
  },
  {
    id: "fragment",
    program: "fragment",
    args: () => [],
    metric: "ops_per_s",
    title: "Fragmentation",
    description: "Rounds of bursts with drifting size bands; one block in 8 is long-lived and " +
      "sits between freed short-lived ones, leaving holes. The memory cost shows in peak RSS.",
    quickScale: 0.15,
  },
  {
    id: "large_ws",
    program: "large_ws",
    args: () => [],
    metric: "ops_per_s",
    title: "Large working set",
    description: "Random replacement of small blocks over a working set of hundreds of MiB, far " +
      "larger than the last-level cache: cache and TLB misses of the allocator's metadata.",
    quickScale: 0.2,
  },
  {
    id: "large_mix",
    program: "large_mix",
    args: () => [],
    metric: "ops_per_s",
    title: "Large blocks, mixed sizes (256 KiB–32 MiB)",
    description: "Random replacement over 8 live blocks of log-uniform sizes from 256 KiB to " +
      "32 MiB; each new block gets one write per 4 KiB page, checked before its free. Where " +
      "the large tier's mmap threshold matters: which blocks are cached for reuse, which are " +
      "mapped fresh (page faults) and unmapped. One op = free + malloc + page writes.",
    quickScale: 0.15,
  },
  {
    id: "realloc_heavy",
    program: "realloc_heavy",
    args: () => [],
    metric: "ns_per_op",
    title: "realloc growth",
    description: "Many live buffers, picked at random, grown with realloc like string builders " +
      "(append) or vectors (× 1.5) up to a few MiB, then freed; every realloc timed alone " +
      "(median ns per realloc; p99 and max in the details).",
    quickScale: 0.5,
  },
  {
    id: "scenario_json",
    program: "scenario",
    args: () => ["--kind", "json"],
    metric: "ns_per_op",
    title: "Scenario: JSON document (64 KiB)",
    description:
      "A JSON document being built: per cycle one 64 KiB buffer is allocated, every page " +
      "written, first and last page checked, freed (median ns per cycle).",
    quickScale: 0.3,
  },
  {
    id: "scenario_mir",
    program: "scenario",
    args: () => ["--kind", "mir"],
    metric: "ns_per_op",
    title: "Scenario: compiler IR (256 KiB)",
    description: "A compiler's intermediate representation: the same cycle with a 256 KiB buffer " +
      "(median ns per cycle).",
    quickScale: 0.3,
  },
  {
    id: "scenario_vm",
    program: "scenario",
    args: () => ["--kind", "vm"],
    metric: "ns_per_op",
    title: "Scenario: VM heap (2 MiB)",
    description: "A VM heap or arena: the same cycle with a 2 MiB buffer (median ns per cycle).",
    quickScale: 0.4,
  },
  {
    id: "scenario_mixed",
    program: "scenario",
    args: () => ["--kind", "mixed"],
    metric: "ns_per_op",
    title: "Scenario: mixed",
    description: "Each cycle picks one of the three scenarios (64 KiB, 256 KiB, 2 MiB) at random " +
      "(median ns per cycle).",
    quickScale: 0.2,
  },
  {
    id: "thread_churn",
    program: "thread_churn",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Thread churn",
    description: "Waves of short-lived threads: each frees the blocks its predecessor (already " +
      "exited) handed on, churns a private array, hands half of its blocks on and exits. " +
      "Thread start and exit are part of the measure.",
    quickScale: 0.15,
  },
];

/** Every bench id, in suite order. */
export const BENCH_IDS: readonly string[] = BENCHES.map((b) => b.id);

/** The bench with `id` ("mid_large_mt_<n>" is accepted for mid_large_mt_N). */
function benchDef(id: string): BenchDef | undefined {
  const found = BENCHES.find((b) => b.id === id);
  if (found) return found;
  if (/^mid_large_mt_\d+$/.test(id) && id !== "mid_large_mt_1") {
    return BENCHES.find((b) => b.id === "mid_large_mt_N");
  }
  return undefined;
}

/** The program names (bench/<name>.c) of the suite. */
export const PROGRAMS: readonly string[] = [...new Set(BENCHES.map((b) => b.program))];

// ---------------------------------------------------------------------------------------------
// allocators

interface Peer {
  name: "mimalloc" | "jemalloc" | "tcmalloc";
  deb: string;
  /** Preferred file name and the pattern of acceptable ones. */
  file: string;
  pattern: RegExp;
}

const PEERS: readonly Peer[] = [
  {
    name: "mimalloc",
    deb: "libmimalloc2.0",
    file: "libmimalloc.so.2",
    pattern: /^libmimalloc\.so(\.\d+)*$/,
  },
  {
    name: "jemalloc",
    deb: "libjemalloc2",
    file: "libjemalloc.so.2",
    pattern: /^libjemalloc\.so(\.\d+)*$/,
  },
  {
    name: "tcmalloc",
    deb: "libtcmalloc-minimal4",
    file: "libtcmalloc_minimal.so.4",
    pattern: /^libtcmalloc_minimal\.so(\.\d+)*$/,
  },
];

const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/usr/lib64",
  "/usr/local/lib",
  "/usr/lib",
];

/** The shared library of a peer allocator, or null when it is not installed. */
async function findPeerLib(p: Peer): Promise<string | null> {
  for (const dir of LIB_DIRS) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if ((e.isFile || e.isSymlink) && p.pattern.test(e.name)) names.push(e.name);
      }
    } catch {
      continue;
    }
    if (names.length === 0) continue;
    // The preferred soname, else the shortest versioned name (a symlink to the real file).
    names.sort((a, b) => (a === p.file ? -1 : b === p.file ? 1 : a.length - b.length));
    return join(dir, names[0]);
  }
  return null;
}

/** The installed version of a Debian package, or null (not installed, no dpkg). */
async function debVersion(deb: string): Promise<string | null> {
  try {
    const r = await runCommand("dpkg-query", ["-W", "-f", "${Version}", deb]);
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

export interface Allocator extends AllocatorInfo {
  /** Environment of the program (hakmem: its variant's variables). */
  env: Record<string, string>;
}

/** One way of running hakmem: its allocator name (hakmem-<suffix>), the environment of the
 * program and a note for the report (the variables, and what the variant shows). */
export interface HakmemVariant {
  name: string;
  env: Record<string, string>;
  note: string;
}

function variant(suffix: string, env: Record<string, string>, what?: string): HakmemVariant {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
  return { name: `hakmem-${suffix}`, env, note: what ? `${vars} (${what})` : vars };
}

/** hakmem under one preset (--modes). */
export function modeVariant(mode: string): HakmemVariant {
  return variant(mode, { HAKMEM_MODE: mode });
}

/** --ladder: from the bare allocator, the large-tier features switched on one at a time, then the
 * presets, so each feature's effect shows as one step. */
export const LADDER: readonly HakmemVariant[] = [
  modeVariant("minimal"),
  variant(
    "minimal+bigcache",
    { HAKMEM_MODE: "minimal", HAKMEM_BIGCACHE: "1" },
    "minimal plus BigCache",
  ),
  variant(
    "minimal+bigcache+batch",
    {
      HAKMEM_MODE: "minimal",
      HAKMEM_BIGCACHE: "1",
      HAKMEM_FREE_POLICY: "batch",
      HAKMEM_MADVISE_BATCH: "16",
    },
    "minimal plus BigCache and batched MADV_DONTNEED",
  ),
  modeVariant("balanced"),
  modeVariant("fast"),
  modeVariant("learning"),
];

/** The fixed mmap thresholds of --thresholds, MiB (ELO's candidates). */
export const THRESHOLDS_MIB: readonly number[] = [1, 4, 16, 64];

/** --thresholds: balanced with each fixed large-tier threshold (ELO off), and with ELO learning
 * the threshold. */
export const THRESHOLD_VARIANTS: readonly HakmemVariant[] = [
  ...THRESHOLDS_MIB.map((mib) =>
    variant(
      `thr-${mib}mb`,
      { HAKMEM_MODE: "balanced", HAKMEM_ELO: "off", HAKMEM_BIGCACHE_MAX_BLOCK_MB: String(mib) },
      `fixed threshold: large blocks up to ${mib} MiB are cached, larger ones mapped fresh`,
    )
  ),
  variant(
    "elo-learn",
    { HAKMEM_MODE: "balanced", HAKMEM_ELO: "learn" },
    `ELO learns the threshold among ${THRESHOLDS_MIB.join(", ")} MiB`,
  ),
];

/** The hakmem variants of a run: the ladder's, then the thresholds', then those of --modes that
 * are not among them (each name once). Without any of the three: balanced. */
export function hakmemVariants(
  o: { modes?: readonly string[]; ladder?: boolean; thresholds?: boolean },
): HakmemVariant[] {
  const modes = o.modes && o.modes.length > 0
    ? o.modes
    : o.ladder || o.thresholds
    ? []
    : ["balanced"];
  const all = [
    ...(o.ladder ? LADDER : []),
    ...(o.thresholds ? THRESHOLD_VARIANTS : []),
    ...modes.map(modeVariant),
  ];
  return all.filter((v, i) => all.findIndex((w) => w.name === v.name) === i);
}

/** Whether a hakmem run writes an ACE trace: its preset learns (learning, research), or its
 * environment turns ACE or ELO learning on. */
export function tracesLearning(env: Readonly<Record<string, string>>): boolean {
  const mode = env.HAKMEM_MODE ?? "balanced";
  return mode === "learning" || mode === "research" || env.HAKMEM_ACE_ENABLED === "1" ||
    env.HAKMEM_ELO === "learn";
}

/** The ACE trace of one run, relative to the run directory. */
export function traceFile(bench: string, allocator: string, round: number): string {
  return `traces/${bench}.${allocator}.r${round}.jsonl`;
}

/** Expands --allocators (hakmem → one allocator per variant) in the canonical order. */
export function allocatorNames(
  kinds: readonly string[],
  variants: readonly HakmemVariant[],
): string[] {
  const out: string[] = [];
  for (const k of ALLOCATOR_KINDS) {
    if (!kinds.includes(k)) continue;
    if (k === "hakmem") out.push(...variants.map((v) => v.name));
    else out.push(k);
  }
  return out;
}

/** Resolves the allocators, installing missing peers when we are root on a system with apt. */
async function resolveAllocators(
  kinds: readonly string[],
  variants: readonly HakmemVariant[],
): Promise<Allocator[]> {
  const peers = PEERS.filter((p) => kinds.includes(p.name));
  const found = new Map<string, string | null>();
  for (const p of peers) found.set(p.name, await findPeerLib(p));
  const missing = peers.filter((p) => found.get(p.name) === null);
  const notes = new Map<string, string>();
  if (missing.length > 0) {
    const canInstall = Deno.uid() === 0 && (await which("apt-get")) !== null;
    const line = installLine(missing.map((p) => p.deb));
    if (canInstall) {
      try {
        await ensurePackages(missing.map((p) => ({
          deb: p.deb,
          why: `peer allocator ${p.name}`,
          probe: `/usr/lib/x86_64-linux-gnu/${p.file}`,
        })));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        console.error(`[bench] warning: could not install the peer allocators: ${msg}`);
      }
      for (const p of missing) found.set(p.name, await findPeerLib(p));
    }
    for (const p of missing) {
      if (found.get(p.name) !== null) continue;
      const how = Deno.uid() === 0 ? line : `sudo ${line}`;
      notes.set(p.name, `${p.deb} is not installed; install it with: ${how}`);
    }
  }
  const hakmemSo = libraryFiles(TARGET, FLAVOUR).so;
  const out: Allocator[] = [];
  for (const name of allocatorNames(kinds, variants)) {
    const v = variants.find((x) => x.name === name);
    if (name === "glibc") {
      out.push({ name, kind: "glibc", lib: null, available: true, note: null, env: {} });
    } else if (v) {
      out.push({ name, kind: "hakmem", lib: hakmemSo, available: true, note: v.note, env: v.env });
    } else {
      const lib = found.get(name) ?? null;
      const peer = PEERS.find((p) => p.name === name)!;
      const version = lib ? await debVersion(peer.deb) : null;
      out.push({
        name,
        kind: "peer",
        lib,
        available: lib !== null,
        note: notes.get(name) ?? (version ? `Debian ${peer.deb} ${version}` : null),
        env: {},
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// machine information

async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  try {
    const r = await runCommand(cmd, args);
    if (r.code !== 0) return null;
    return (r.stdout || r.stderr).split("\n")[0].trim() || null;
  } catch {
    return null;
  }
}

/** glibc's version: gnu_get_libc_version() through FFI, else the first line of `ldd --version`. */
async function glibcVersion(): Promise<string> {
  try {
    const lib = Deno.dlopen("libc.so.6", {
      gnu_get_libc_version: { parameters: [], result: "pointer" },
    });
    try {
      const p = lib.symbols.gnu_get_libc_version();
      if (p) return new Deno.UnsafePointerView(p).getCString();
    } finally {
      lib.close();
    }
  } catch {
    // no FFI permission or not glibc
  }
  const line = await firstLine("ldd", ["--version"]);
  const m = line ? /(\d+\.\d+(?:\.\d+)?)\s*$/.exec(line) : null;
  return m ? m[1] : (line ?? "unknown");
}

async function cpuModel(): Promise<string> {
  try {
    const text = await Deno.readTextFile("/proc/cpuinfo");
    const m = /^(?:model name|Model|Hardware|cpu model)\s*:\s*(.+)$/m.exec(text);
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return Deno.build.arch;
}

async function machineInfo(): Promise<MachineInfo> {
  let kernel = "unknown";
  try {
    kernel = Deno.osRelease();
  } catch {
    kernel = (await firstLine("uname", ["-r"])) ?? "unknown";
  }
  const commit = await firstLine("git", ["-C", ROOT, "rev-parse", "HEAD"]);
  return {
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency || 1,
    kernel,
    glibc: await glibcVersion(),
    zig: await zigVersion(),
    deno: Deno.version.deno,
    commit: commit && /^[0-9a-f]{40}$/.test(commit) ? commit : null,
  };
}

// ---------------------------------------------------------------------------------------------
// one run

interface RunSpec {
  hakrun: string;
  program: string;
  args: string[];
  allocator: Allocator;
  timeoutS: number;
  tmpDir: string;
  seq: number;
  /** Where hakmem writes its ACE trace (HAKMEM_ACE_TRACE), or null for none. */
  trace: string | null;
}

/** The environment of hakrun: ours minus whatever would change the allocators' behaviour. */
function cleanEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) {
    if (
      k === "LD_PRELOAD" || k === "GLIBC_TUNABLES" || k === "MALLOC_CONF" ||
      k.startsWith("HAKMEM_") || k.startsWith("MALLOC_") || k.startsWith("MIMALLOC_") ||
      k.startsWith("JEMALLOC_") || k.startsWith("TCMALLOC_") || k.startsWith("_RJEM_")
    ) {
      delete env[k];
    }
  }
  return env;
}

const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_CHARS = 4000;

function tail(text: string): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  const t = lines.slice(-STDERR_TAIL_LINES).join("\n");
  return t.length > STDERR_TAIL_CHARS ? t.slice(-STDERR_TAIL_CHARS) : t;
}

/** The last line of `stdout` that is a JSON object with a "value". */
function resultLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]);
      if (typeof v === "object" && v !== null && !Array.isArray(v) && "value" in v) return v;
    } catch {
      // not JSON
    }
  }
  return null;
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function intOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  15: "SIGTERM",
};

/** The hakrun process running now (so an interrupt can stop it). */
let current: Deno.ChildProcess | null = null;

/** Kills a hakrun process and the program it runs (which hakrun put in a process group of its
 * own, so signals to hakrun do not reach it). */
function killRun(child: Deno.ChildProcess): void {
  try {
    const kids = Deno.readTextFileSync(`/proc/${child.pid}/task/${child.pid}/children`)
      .trim().split(/\s+/).filter((x) => x !== "").map(Number);
    for (const k of kids) {
      try {
        Deno.kill(-k, "SIGKILL");
      } catch {
        try {
          Deno.kill(k, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  } catch {
    // hakrun is gone, or no /proc
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
}

let setsidPath: Promise<string | null> | undefined;

type Measured = Omit<Sample, "bench" | "allocator" | "round">;

/** Runs one program under one allocator through hakrun. Never throws for a failing program. */
async function runOnce(spec: RunSpec): Promise<Measured> {
  const outFile = join(spec.tmpDir, `run-${spec.seq}.json`);
  const statsFile = join(spec.tmpDir, `stats-${spec.seq}.json`);
  const a = spec.allocator;
  const env = { ...a.env };
  if (a.kind === "hakmem") env.HAKMEM_STATS_FILE = statsFile;
  if (spec.trace !== null) {
    // a stale file of an earlier run into the same --out must not pass for this run's trace
    await Deno.remove(spec.trace).catch(() => {});
    env.HAKMEM_ACE_TRACE = spec.trace;
  }
  const args = [
    "--out",
    outFile,
    ...(a.lib ? ["--preload", a.lib] : []),
    "--timeout",
    String(spec.timeoutS),
    ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    "--",
    spec.program,
    ...spec.args,
  ];
  let stdout = "";
  let stderr = "";
  let hakrunCode: number | null = null;
  let hakrunSignal: string | null = null;
  let watchdogFired = false;
  try {
    // hakrun runs in a session of its own (setsid): a Ctrl-C on the terminal then reaches only
    // us, and we stop hakrun and its program together (killRun) instead of hakrun dying alone
    // and leaving the program running.
    setsidPath ??= which("setsid");
    const setsid = await setsidPath;
    const child = new Deno.Command(setsid ?? spec.hakrun, {
      args: setsid ? [spec.hakrun, ...args] : args,
      cwd: spec.tmpDir,
      env: cleanEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    current = child;
    // hakrun enforces the time limit itself; this is only the net under it.
    const watchdog = setTimeout(() => {
      watchdogFired = true;
      killRun(child);
    }, (spec.timeoutS + 30) * 1000);
    try {
      const out = await child.output();
      const dec = new TextDecoder();
      stdout = dec.decode(out.stdout);
      stderr = dec.decode(out.stderr);
      hakrunCode = out.code;
      hakrunSignal = out.signal;
    } finally {
      clearTimeout(watchdog);
      current = null;
    }
  } catch (e) {
    stderr = `cannot run ${spec.hakrun}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const ru = await readJson(outFile);
  const hakmem = a.kind === "hakmem" ? await readJson(statsFile) : null;
  await Deno.remove(outFile).catch(() => {});
  await Deno.remove(statsFile).catch(() => {});
  const result = resultLine(stdout);
  const value = result && typeof result.value === "number" && Number.isFinite(result.value)
    ? result.value
    : null;
  const exit = ru ? intOrNull(ru.exit) : null;
  const signal = ru ? intOrNull(ru.signal) : null;
  const timedOut = ru ? ru.timed_out === true : watchdogFired;
  const ok = ru !== null && hakrunCode === 0 && exit === 0 && signal === null && !timedOut &&
    value !== null && value > 0;
  let why = "";
  if (!ok) {
    if (ru === null) {
      why = `hakrun ${hakrunSignal ? `killed by ${hakrunSignal}` : `exit ${hakrunCode}`}` +
        `${watchdogFired ? " (watchdog)" : ""}, no rusage record`;
    } else if (timedOut) {
      why = `timed out after ${spec.timeoutS} s (killed)`;
    } else if (signal !== null) {
      why = `killed by signal ${signal}${SIGNALS[signal] ? ` (${SIGNALS[signal]})` : ""}`;
    } else if (exit !== 0) {
      why = `exit ${exit}`;
    } else {
      why = result === null
        ? 'no result line (JSON with "value") on stdout'
        : `bad value ${JSON.stringify(result.value)}`;
    }
  }
  const stderrTail = ok
    ? ""
    : tail([stderr.trimEnd(), why ? `[bench] ${why}` : ""].filter(Boolean).join("\n"));
  return {
    ok,
    exit,
    signal,
    timed_out: timedOut,
    stderr_tail: stderrTail,
    value: ok ? value : null,
    result,
    wall_s: num(ru?.wall_s),
    user_s: num(ru?.user_s),
    sys_s: num(ru?.sys_s),
    maxrss_kib: num(ru?.maxrss_kib),
    minflt: num(ru?.minflt),
    majflt: num(ru?.majflt),
    hakmem,
  };
}

// ---------------------------------------------------------------------------------------------
// progress

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

class Progress {
  #tty = Deno.stderr.isTerminal();
  #enc = new TextEncoder();
  #started = performance.now();
  #done = 0;
  #failed = 0;
  constructor(readonly total: number) {}

  #write(s: string) {
    Deno.stderr.writeSync(this.#enc.encode(s));
  }

  #eta(): string {
    if (this.#done === 0) return "?";
    const el = (performance.now() - this.#started) / 1000;
    return fmtDuration((el / this.#done) * (this.total - this.#done));
  }

  start(round: number, bench: string, allocator: string) {
    if (!this.#tty) return;
    let cols = 100;
    try {
      const c = Deno.consoleSize().columns;
      if (c >= 40) cols = c;
    } catch {
      // not a console
    }
    const width = 24;
    const filled = Math.round((this.#done / Math.max(1, this.total)) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const fail = this.#failed ? ` ${this.#failed} failed` : "";
    let line = `[${bar}] ${this.#done}/${this.total} r${round} ${bench} · ${allocator}` +
      `  ETA ${this.#eta()}${fail}`;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.#write(`\r${line}\x1b[K`);
  }

  finish(round: number, bench: string, allocator: string, s: Measured, metric: Metric) {
    this.#done++;
    if (!s.ok) this.#failed++;
    const what = s.ok
      ? `${fmtValue(s.value, metric)} ${metricUnit(metric)}, ${s.wall_s.toFixed(2)} s, ` +
        `maxrss ${fmtKiB(s.maxrss_kib)}`
      : `FAILED (${failureText(s)})`;
    if (this.#tty) {
      if (!s.ok) this.#write(`\r\x1b[K[bench] r${round} ${bench} ${allocator}: ${what}\n`);
      return;
    }
    console.error(`[bench] ${this.#done}/${this.total} r${round} ${bench} ${allocator}: ${what}`);
  }

  end() {
    if (this.#tty) this.#write("\r\x1b[K");
    console.error(
      `[bench] ${this.#done} runs in ${fmtDuration((performance.now() - this.#started) / 1000)}` +
        (this.#failed ? `, ${this.#failed} failed` : ""),
    );
  }
}

/** `p` relative to the repository when it is inside it, else absolute. */
function show(p: string): string {
  const r = relative(ROOT, p);
  return r === "" ? "." : r.startsWith("..") ? p : r;
}

function failureText(s: Pick<Sample, "exit" | "signal" | "timed_out" | "stderr_tail">): string {
  const lines = s.stderr_tail.split("\n").filter((l) => l.trim() !== "");
  const ours = lines.filter((l) => l.startsWith("[bench] ")).pop()?.slice("[bench] ".length);
  const theirs = lines.filter((l) => !l.startsWith("[bench] ")).pop();
  const what = ours ??
    (s.timed_out
      ? "timed out"
      : s.signal !== null
      ? `signal ${s.signal}`
      : s.exit !== null && s.exit !== 0
      ? `exit ${s.exit}`
      : "no result");
  return theirs ? `${what}: ${theirs.slice(0, 160)}` : what;
}

// ---------------------------------------------------------------------------------------------
// summary table

function metricUnit(m: Metric): string {
  return m === "ops_per_s" ? "ops/s" : "ns/op";
}

function fmtValue(v: number | null, m: Metric): string {
  if (v === null) return "—";
  if (m === "ns_per_op") {
    return v >= 1e5 ? v.toExponential(2) : v >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(1);
}

function fmtKiB(k: number | null): string {
  if (k === null) return "—";
  if (k >= 1024 * 1024) return `${(k / 1024 / 1024).toFixed(2)}G`;
  if (k >= 1024) return `${(k / 1024).toFixed(1)}M`;
  return `${k.toFixed(0)}K`;
}

function fmtRatio(r: number | null): string {
  if (r === null) return "—";
  return r < 0.1 ? `${r.toPrecision(2)}x` : `${r.toFixed(2)}x`;
}

function table(header: string[], rows: string[][], rightFrom = 1): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= rightFrom ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ")
      .trimEnd();
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

/** The summary printed at the end of a run: performance, ratios, peak RSS, failures. With more
 * than two hakmem variants (--ladder, --thresholds) the ratios leave the performance table for
 * one table per reference, with the variants as columns, so the lines stay readable. */
export function summaryText(results: Results, summary: Summary = summarize(results)): string {
  const allocs = results.allocators.filter((a) => a.available).map((a) => a.name);
  const hakmems = allocs.filter((a) => a.startsWith("hakmem-"));
  const short = (a: string) => (hakmems.length === 1 && a.startsWith("hakmem-") ? "hakmem" : a);
  const refs = [REFERENCE_GLIBC, REFERENCE_MIMALLOC].filter((r) => allocs.includes(r));
  const inline = hakmems.length <= 2;
  const benches = summary.benches.filter((b) => summary.rows.some((r) => r.bench === b));
  const ratio = (b: string, h: string, ref: string) => {
    const r = summaryRow(summary, b, h);
    return fmtRatio((ref === REFERENCE_GLIBC ? r?.ratioVsGlibc : r?.ratioVsMimalloc) ?? null);
  };
  const geoRatio = (h: string, ref: string) => {
    const o = summary.overall.find((x) => x.allocator === h);
    return fmtRatio((ref === REFERENCE_GLIBC ? o?.geomeanVsGlibc : o?.geomeanVsMimalloc) ?? null);
  };

  const perfHeader = ["bench", "metric", ...allocs.map(short)];
  if (inline) {
    for (const h of hakmems) perfHeader.push(...refs.map((ref) => `${short(h)}/${ref}`));
  }
  perfHeader.push("failures");
  const perfRows: string[][] = [];
  const rssRows: string[][] = [];
  for (const b of benches) {
    const metric = summary.rows.find((r) => r.bench === b)?.metric ?? "ops_per_s";
    const cells = [b, metricUnit(metric)];
    const rss = [b];
    const fails: string[] = [];
    for (const a of allocs) {
      const r = summaryRow(summary, b, a);
      cells.push(fmtValue(r?.median ?? null, metric));
      rss.push(fmtKiB(r?.medianMaxRssKiB ?? null));
      if (r && r.failed > 0) fails.push(`${short(a)}:${r.failed}`);
    }
    if (inline) {
      for (const h of hakmems) cells.push(...refs.map((ref) => ratio(b, h, ref)));
    }
    cells.push(fails.join(" ") || "0");
    perfRows.push(cells);
    rssRows.push(rss);
  }
  // geometric means of the ratios (inline), and the failures of the whole run
  const last = [inline ? "geomean" : "total", "", ...allocs.map(() => "")];
  if (inline) { for (const h of hakmems) last.push(...refs.map((ref) => geoRatio(h, ref))); }
  last.push(String(summary.overall.reduce((s, o) => s + o.failed, 0)));
  perfRows.push(last);

  const out: string[] = [];
  out.push(
    `medians over ${results.params.repeat} round(s), profile ${results.params.profile}, ` +
      `${results.params.threads} thread(s); ratios > 1 mean hakmem is better (median of ` +
      "per-round pairs)",
  );
  out.push(table(perfHeader, perfRows, 2));
  if (!inline) {
    const variants = hakmems.map((h) => h.slice("hakmem-".length));
    for (const ref of refs) {
      const rows = benches.map((b) => [b, ...hakmems.map((h) => ratio(b, h, ref))]);
      rows.push(["geomean", ...hakmems.map((h) => geoRatio(h, ref))]);
      out.push("");
      out.push(`hakmem variants vs ${ref}`);
      out.push(table(["bench", ...variants], rows, 1));
    }
  }
  out.push("");
  out.push("peak RSS (median maxrss per run)");
  out.push(table(["bench", ...allocs.map(short)], rssRows, 1));
  const missing = results.allocators.filter((a) => !a.available);
  for (const a of missing) out.push(`not run: ${a.name}: ${a.note ?? "unavailable"}`);
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// the driver

export interface BenchOptions {
  profile: Profile;
  benches?: string[];
  allocators?: string[];
  modes?: string[];
  /** Add the feature ladder (LADDER) to the hakmem variants. */
  ladder?: boolean;
  /** Add the threshold comparison (THRESHOLD_VARIANTS) to the hakmem variants. */
  thresholds?: boolean;
  repeat?: number;
  threads?: number;
  out?: string;
  seed?: number;
  timeout?: number;
}

/** The time limit of one run, seconds, when --timeout is not given. hakmem in minimal mode maps
 * and faults in every large block afresh: the scenario benches take it about a minute each at
 * the quick scale, where the others take well under a second. */
export function defaultTimeout(profile: Profile, variants: readonly HakmemVariant[]): number {
  if (profile === "full") return 600;
  return variants.some((v) => v.env.HAKMEM_MODE === "minimal") ? 240 : 60;
}

/** A usage error (bad option value): reported without a stack, exit code 2. */
export class UsageError extends Error {}

function checkList(kind: string, given: readonly string[], valid: readonly string[]): void {
  const bad = given.filter((g) => !valid.includes(g));
  if (bad.length > 0) {
    throw new UsageError(
      `unknown ${kind}${bad.length > 1 ? "s" : ""}: ${bad.join(", ")}; valid: ${valid.join(", ")}`,
    );
  }
}

/** A path given on the command line: relative to the directory `deno task` was started in
 * (INIT_CWD; deno task itself runs in the repository root). */
function userPath(p: string): string {
  return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), p);
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function writeResults(outDir: string, results: Results): Promise<string> {
  const p = join(outDir, "results.json");
  const tmp = `${p}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(results, null, 1) + "\n");
  await Deno.rename(tmp, p);
  return p;
}

interface ReportModule {
  writeReport(runDir: string): Promise<string>;
  writeCompareReport(runA: string, runB: string, outDir: string): Promise<string>;
}

/** reports/build_report.ts, loaded on demand (it pulls in esbuild and plotly). */
async function reportModule(): Promise<ReportModule> {
  return await import("../reports/build_report.ts");
}

/** Builds the library, the programs and hakrun; returns the paths of hakrun and each program. */
export async function buildAllBench(programs: readonly string[]): Promise<Map<string, string>> {
  await buildLibrary(TARGET, FLAVOUR);
  const paths = new Map<string, string>();
  const one = async (name: string, src: string) => {
    try {
      await Deno.stat(src);
    } catch {
      throw new Error(`${relative(ROOT, src)} is missing`);
    }
    const out = await buildExecutable({
      target: TARGET,
      flavour: FLAVOUR,
      sources: [src],
      out: join("bench", name),
      link: "none",
      extraFlags: ["-Werror", "-I", BENCH_SRC],
    });
    paths.set(name, out);
  };
  await Promise.all([
    one("hakrun", join(BENCH_SRC, "runner.c")),
    ...programs.map((p) => one(p, join(BENCH_SRC, `${p}.c`))),
  ]);
  return paths;
}

/** Runs the suite; returns the process exit code (1 when a hakmem run failed). */
export async function runBench(o: BenchOptions): Promise<number> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new UsageError("the bench suite runs on x86_64 Linux only");
  }
  const profile = o.profile;
  const threads = o.threads ?? 2;
  const repeat = o.repeat ?? (profile === "quick" ? 3 : 5);
  const seed = o.seed ?? 42;
  if (o.modes) checkList("mode", o.modes, MODES);
  const variants = hakmemVariants(o);
  const timeoutS = o.timeout ?? defaultTimeout(profile, variants);
  const kinds = o.allocators && o.allocators.length > 0
    ? [...new Set(o.allocators)]
    : [...ALLOCATOR_KINDS];
  checkList("allocator", kinds, ALLOCATOR_KINDS);
  if ((o.ladder || o.thresholds) && !kinds.includes("hakmem")) {
    throw new UsageError(
      "--ladder and --thresholds run hakmem variants: add hakmem to --allocators",
    );
  }
  let defs: BenchDef[] = [...BENCHES];
  if (o.benches && o.benches.length > 0) {
    const bad = o.benches.filter((b) => !benchDef(b));
    if (bad.length > 0) checkList("bench", bad, BENCH_IDS);
    const wanted = new Set(o.benches.map((b) => benchDef(b)!.id));
    defs = BENCHES.filter((b) => wanted.has(b.id));
  }
  if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError("--repeat must be >= 1");
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError("--threads must be >= 1");
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError("--seed must be an integer >= 0");
  if (!(timeoutS > 0)) throw new UsageError("--timeout must be > 0");

  const outDir = o.out ? userPath(o.out) : join(RUNS_DIR, timestamp());
  await Deno.mkdir(outDir, { recursive: true });

  console.error(`[bench] building libhakmem (${TARGET}/${FLAVOUR}), the programs and hakrun`);
  const bins = await buildAllBench([...new Set(defs.map((d) => d.program))]);
  const allocators = await resolveAllocators(kinds, variants);
  const machine = await machineInfo();

  const scale = (d: BenchDef) => (profile === "quick" ? d.quickScale : 1);
  // With --threads 1, mid_large_mt_N would repeat mid_large_mt_1.
  if (threads === 1 && defs.some((d) => d.id === "mid_large_mt_1")) {
    defs = defs.filter((d) => d.id !== "mid_large_mt_N");
  }
  const benchInfos: BenchInfo[] = defs.map((d) => {
    // mid_large_mt_N takes the thread count into its id.
    const id = d.id === "mid_large_mt_N" ? `mid_large_mt_${threads}` : d.id;
    return {
      id,
      program: d.program,
      args: [...d.args(threads), "--scale", String(scale(d))],
      metric: d.metric,
      higher_is_better: d.metric === "ops_per_s",
      title: d.id === "mid_large_mt_N"
        ? d.title.replace("N threads", `${threads} threads`)
        : d.title,
      description: d.description,
    };
  });
  const results: Results = {
    schema: 1,
    created: new Date().toISOString(),
    machine,
    params: {
      profile,
      benches: benchInfos.map((b) => b.id),
      allocators: allocators.map((a) => a.name),
      modes: [...new Set(variants.map((v) => v.env.HAKMEM_MODE))],
      repeat,
      threads,
      seed,
    },
    allocators: allocators.map(({ env: _env, ...info }) => info),
    benches: benchInfos,
    samples: [],
  };
  const runnable = allocators.filter((a) => a.available);
  const traced = new Set(
    runnable.filter((a) => a.kind === "hakmem" && tracesLearning(a.env)).map((a) => a.name),
  );
  if (traced.size > 0) {
    results.traces = [];
    await Deno.mkdir(join(outDir, "traces"), { recursive: true });
  }
  for (const a of allocators) {
    console.error(
      `[bench] allocator ${a.name}: ${a.available ? (a.lib ?? "(no preload)") : "NOT AVAILABLE"}` +
        (a.note && !a.available ? ` — ${a.note}` : ""),
    );
  }
  console.error(
    `[bench] ${benchInfos.length} benches × ${runnable.length} allocators × ${repeat} rounds, ` +
      `profile ${profile}, ${threads} thread(s), seed ${seed}; output ${show(outDir)}`,
  );

  const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-bench-" });
  const progress = new Progress(benchInfos.length * runnable.length * repeat);
  let interrupted = false;
  const onInt = () => {
    interrupted = true;
    if (current) killRun(current);
  };
  Deno.addSignalListener("SIGINT", onInt);
  let seq = 0;
  try {
    for (let round = 0; round < repeat && !interrupted; round++) {
      for (const [bi, b] of benchInfos.entries()) {
        if (interrupted) break;
        // rotate the allocator order by round and bench, so none is always first
        const k = (round + bi) % runnable.length;
        const order = [...runnable.slice(k), ...runnable.slice(0, k)];
        for (const a of order) {
          if (interrupted) break;
          progress.start(round, b.id, a.name);
          const trace = traced.has(a.name) ? traceFile(b.id, a.name, round) : null;
          const m = await runOnce({
            hakrun: bins.get("hakrun")!,
            program: bins.get(b.program)!,
            args: ["--seed", String(seed), ...b.args],
            allocator: a,
            timeoutS,
            tmpDir,
            seq: seq++,
            trace: trace === null ? null : join(outDir, trace),
          });
          if (interrupted) break;
          progress.finish(round, b.id, a.name, m, b.metric);
          results.samples.push({ bench: b.id, allocator: a.name, round, ...m });
          // the core writes a trace only when its learning layer ran: list the ones that exist
          if (trace !== null && await isFile(join(outDir, trace))) {
            results.traces?.push({ bench: b.id, allocator: a.name, round, file: trace });
          }
        }
      }
      await writeResults(outDir, results);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    progress.end();
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
  const resultsPath = await writeResults(outDir, results);

  console.log(summaryText(results));
  console.log(`\nresults: ${show(resultsPath)}`);
  try {
    const html = await (await reportModule()).writeReport(outDir);
    console.log(`report:  ${show(html)}`);
  } catch (e) {
    console.error(
      `[bench] warning: the report page could not be written: ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
  if (interrupted) {
    console.error("[bench] interrupted: the results hold the runs that completed");
    return 130;
  }
  const hakFailed = results.samples.filter((s) => !s.ok && s.allocator.startsWith("hakmem-"));
  if (hakFailed.length > 0) {
    console.error(`[bench] ${hakFailed.length} hakmem run(s) failed:`);
    for (const s of hakFailed.slice(0, 10)) {
      console.error(`  ${s.bench} ${s.allocator} round ${s.round}: ${failureText(s)}`);
      if (s.stderr_tail) console.error(s.stderr_tail.replace(/^/gm, "    | "));
    }
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// `deno task report`

/** The newest run directory under reports/runs/ that has a results.json, or null. */
export async function latestRun(): Promise<string | null> {
  let best: { dir: string; mtime: number } | null = null;
  try {
    for await (const e of Deno.readDir(RUNS_DIR)) {
      if (!e.isDirectory || e.name.startsWith("compare-")) continue;
      const dir = join(RUNS_DIR, e.name);
      try {
        const st = await Deno.stat(join(dir, "results.json"));
        const mtime = st.mtime?.getTime() ?? 0;
        if (!best || mtime > best.mtime) best = { dir, mtime };
      } catch {
        // no results there
      }
    }
  } catch {
    // no runs directory
  }
  return best?.dir ?? null;
}

async function runDirOf(arg: string): Promise<string> {
  // a run directory, its results.json, or a name under reports/runs/
  let p = userPath(arg);
  try {
    await Deno.stat(p);
  } catch {
    p = join(RUNS_DIR, arg);
  }
  if (p.endsWith(".json")) p = join(p, "..");
  try {
    await Deno.stat(join(p, "results.json"));
  } catch {
    throw new UsageError(`${arg}: no results.json there (nor under ${relative(ROOT, RUNS_DIR)})`);
  }
  return p;
}

function baseName(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? p;
}

/** `deno task report [--compare A B] [RUN_DIR]`; returns the path of the page written. */
export async function runReport(o: { compare?: string[]; runDir?: string }): Promise<string> {
  const mod = await reportModule();
  if (o.compare && o.compare.length > 0) {
    if (o.compare.length !== 2) throw new UsageError("--compare takes two run directories");
    const a = await runDirOf(o.compare[0]);
    const b = await runDirOf(o.compare[1]);
    const outDir = join(RUNS_DIR, `compare-${baseName(a)}-${baseName(b)}`);
    await Deno.mkdir(outDir, { recursive: true });
    return await mod.writeCompareReport(a, b, outDir);
  }
  let dir: string;
  if (o.runDir) dir = await runDirOf(o.runDir);
  else {
    const latest = await latestRun();
    if (!latest) {
      throw new UsageError(
        `no run with a results.json under ${relative(ROOT, RUNS_DIR)}: run \`deno task bench\``,
      );
    }
    dir = latest;
  }
  return await mod.writeReport(dir);
}
