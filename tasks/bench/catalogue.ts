// The catalogue of `deno task bench`: the workloads (programs of bench/ with their arguments,
// metric and quick-profile scale) and the workloads counted under callgrind (--instructions).

import type { InstructionWorkload, Metric } from "./stats.ts";

export const PROFILES = ["quick", "full"] as const;
export type Profile = (typeof PROFILES)[number];

export interface BenchDef {
  id: string;
  program: string;
  /** Program arguments besides --seed and --scale, given the --threads value and the profile. */
  args: (threads: number, profile: Profile) => string[];
  metric: Metric;
  title: string;
  description: string;
  /** --scale of the quick profile (full: 1). Tuned so that the quick profile with every
   * allocator and 3 rounds takes a few minutes on two cores. */
  quickScale: number;
  /** The result-line key (KiB) that is the bench's memory figure (default: peak RSS). */
  memory?: string;
  /** Its --scale sets how much memory it uses, not how long it runs: --duration leaves it at the
   * profile's scale. */
  scaleSetsMemory?: true;
}

/** Workloads that judge learning: each wants allocator settings other than the defaults, and
 * what is best changes with the workload's phase (bursts) or over the run (phases). */
const LEARNING_BENCHES: readonly BenchDef[] = [
  {
    id: "bursts",
    program: "bursts",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Periodic bursts with idle gaps",
    description: "A service's periodic bursts: the threads allocate a 64 MiB working set of " +
      "1 KiB – 256 KiB blocks (log-uniform), write every page, check and free it all, then " +
      "the process idles 600–900 ms (jittered by the seed). Speed: ops/s over the bursts only; " +
      "memory figure: the mean RSS over the run. Whether memory goes back during a gap decides " +
      "what the process holds while idle and how much the next burst faults back in " +
      "(faults_per_burst).",
    quickScale: 0.25,
    memory: "rss_mean_kib",
  },
  {
    id: "large_churn",
    program: "large_mix",
    args: () => ["--ws", "12", "--min", String(1 << 20), "--max", String(8 << 20)],
    metric: "ops_per_s",
    title: "Large-block churn (1–8 MiB, ~58 MiB live)",
    description: "Random replacement among 12 live blocks of 1–8 MiB (log-uniform; about " +
      "58 MiB live), every page written and checked: the large_mix program with these sizes. " +
      "A large-block cache smaller than the working set makes nearly every reuse fault its " +
      "pages in again.",
    quickScale: 0.15,
  },
  {
    id: "phases",
    program: "phases",
    args: (t) => ["--threads", String(t)],
    metric: "ops_per_s",
    title: "Three phases, twice (bursts, large churn, remote frees)",
    description: "One program that goes twice through three phases of about 6 s each at full " +
      "scale: bursts with idle gaps (as bursts), large-block churn (as large_churn) and " +
      "producer/consumer pairs where one thread allocates small blocks and the other frees " +
      "them (every free remote). Metric: the geometric mean of the phases' ops/s (each over " +
      "its busy time); each phase's rate and when it ran are in the result line.",
    quickScale: 0.05,
  },
  {
    id: "cache_phases",
    program: "cache_phases",
    args: (t) => ["--threads", String(Math.max(2, t))],
    metric: "ops_per_s",
    title: "Three cache phases, twice (small bursts, remote frees, mid bursts)",
    description: "One pool of workers that goes twice through three phases of about 6 s each " +
      "at full scale, each wanting other thread-cache settings: bursts of 4096 blocks of " +
      "16 B – 1 KiB per worker (more than a default thread cache keeps), producer/consumer " +
      "pairs whose consumers free in batches (every free remote), and bursts of 256 blocks of " +
      "8 – 32 KiB. Each phase counts after a warm-up of up to 1 s. Metric: the geometric mean " +
      "of the phases' ops/s; each phase's rate, per cycle too (a phase seen before should be " +
      "fast at once), is in the result line.",
    quickScale: 0.1,
  },
];

/** The field's patterns where allocators are usually judged, written from their descriptions
 * (sizes and counts are part of the pattern). */
const FIELD_BENCHES: readonly BenchDef[] = [
  {
    id: "prodcons",
    program: "prodcons",
    args: () => [],
    metric: "ops_per_s",
    title: "Producer/consumer, more threads than cores (64 B)",
    description: "4 × the online CPUs threads, each allocating batches of 32–96 blocks of 64 B " +
      "and pushing them onto shared mutex-guarded queues (half as many as threads), then popping " +
      "another thread's batch and checking and freeing its blocks: most frees are remote and " +
      "the threads outnumber the cores. Fixed time (4 s at scale 1); the metric is frees per " +
      "second.",
    quickScale: 0.25,
  },
  {
    id: "prodcons_split",
    program: "prodcons",
    args: () => ["--split", "1"],
    metric: "ops_per_s",
    title: "Producer/consumer, threads that only free (64 B)",
    description: "The same queues, but half the threads only allocate and push and the other " +
      "half only pop and free: the consumers never call malloc (a logger, a reaper, a " +
      "pipeline's last stage), so every free is remote and comes from a thread that allocates " +
      "nothing. Fixed time; the metric is frees per second.",
    quickScale: 0.25,
  },
  {
    id: "large_buffers",
    program: "large_buffers",
    args: () => [],
    metric: "ops_per_s",
    title: "Random large buffers (5–25 MiB, value-initialised)",
    description: "2000 iterations over 20 slots: each replaces a random slot's buffer with a new " +
      "one of a uniformly random size between 5 and 25 MiB, which the program value-initialises " +
      "(writes every byte), as std::vector<char>(n) does. One op = one iteration.",
    quickScale: 0.05,
  },
  ...[1, 2].map((t): BenchDef => ({
    id: `interp_heap_${t}`,
    program: "interp_heap",
    args: () => ["--threads", String(t)],
    metric: "ops_per_s",
    title: `Interpreter heap, ${t} thread${t > 1 ? "s" : ""}`,
    description: "Object graphs of mixed small sizes (16 B – 1 KiB, most under 128 B) built and " +
      "dropped in bulk, as a Ruby or Python stress does: 20000 objects a cycle referring to " +
      "earlier ones, one in eight a container whose item array grows by realloc; a mark walks " +
      "and checks the graph, then everything is freed in scattered order but one object in " +
      `sixteen, which survives one more cycle. ${t} thread${t > 1 ? "s, each its own heap" : ""}` +
      "; one op = one malloc, realloc or free.",
    quickScale: 0.05,
  })),
  ...[1, 2].map((t): BenchDef => ({
    id: `mixed_rounds_${t}`,
    program: "mixed_rounds",
    args: () => ["--threads", String(t)],
    metric: "ops_per_s",
    title: `Rounds of mixed sizes (8 B – 8 KiB), ${t} thread${t > 1 ? "s" : ""}`,
    description: "Each thread keeps a list of 1000 blocks of 8 B – 8 KiB (log-uniform) and " +
      "replaces them in rounds: every block of the list checked, freed and allocated anew with " +
      "a fresh size. One op = one free + one malloc.",
    quickScale: 0.1,
  })),
];

/** C++ workloads (bench/*.cc, built with the system's g++): through operators new and delete,
 * which a preloaded allocator replaces when its library defines them (hakmem, mimalloc, snmalloc,
 * jemalloc and tcmalloc do), else libstdc++'s call malloc. cxx_new_delete and cxx_malloc_free are
 * the same loop of one binary through either entry point: their ratio is what the operators cost
 * over malloc and free. */
const CXX_BENCHES: readonly BenchDef[] = [
  {
    id: "cxx_objects",
    program: "cxx_objects",
    args: () => [],
    metric: "ops_per_s",
    title: "C++ objects of mixed sizes in containers (new/delete, sized delete)",
    description: "A C++ service's objects: 20000 polymorphic objects of 24 B – 1 KiB (13 " +
      "types, about log-uniform; one in 64 owns a 2–32 KiB buffer, one in 2048 a 64–256 KiB " +
      "one) in a std::vector of std::unique_ptr, replaced at random (destroyed through the " +
      "virtual destructor: sized delete), with a std::map of heap strings, a std::unordered_map, " +
      "a std::deque of messages and a growing std::vector stepped each time. One op = one object " +
      "replaced and one step of every container; contents checked.",
    quickScale: 0.05,
  },
  ...(["new", "malloc"] as const).map((api): BenchDef => ({
    id: api === "new" ? "cxx_new_delete" : "cxx_malloc_free",
    program: "cxx_pairs",
    args: () => ["--api", api, "--size", "40", "--batch", "1000"],
    metric: "ns_per_op",
    title: api === "new"
      ? "operator new + sized delete of 40 B, 1000 at a time"
      : "the same loop through malloc + free",
    description: `1000 × ${api === "new" ? "::operator new(40)" : "malloc(40)"}, then ` +
      `${api === "new" ? "::operator delete(p, 40) (the sized delete)" : "free"} of each, ` +
      "repeated; cxx_pairs.cc, one binary for both loops. ns per pair.",
    quickScale: 0.05,
  })),
];

export const BENCHES: readonly BenchDef[] = [
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
    id: "scatter",
    program: "scatter",
    args: () => [],
    metric: "ops_per_s",
    title: "Frees scattered over 16 owners",
    description: "16 threads (more than the cores, as a server's pool) in rounds: each " +
      "allocates 4096 blocks of 16–128 B, then frees a slice of every thread's blocks, the " +
      "owner changing at every free (a request's objects made by several workers, a shared " +
      "cache emptied).",
    quickScale: 0.25,
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
    id: "live_heads",
    program: "live_heads",
    args: () => [],
    metric: "ns_per_op",
    title: "Heads of live buffers (16 KiB–4 MiB)",
    description: "64 live buffers of log-uniform sizes from 16 KiB to 4 MiB; in rounds the first " +
      "word of each is read and incremented, as a program updates its buffers' headers. Buffers " +
      "that all start at the same offset into a page share one L1 set; buffers at varying " +
      "offsets (a cache-oblivious placement) spread over the sets. Mean ns per access.",
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
      "written, first and last page checked, freed. Cycles are timed in chunks of 4 MiB of " +
      "buffers (64 cycles here), not one by one: a clock read cost as much as a cycle, and " +
      "more when the buffer starts at a page boundary (the median over chunks of ns per cycle).",
    quickScale: 0.3,
  },
  {
    id: "scenario_mir",
    program: "scenario",
    args: () => ["--kind", "mir"],
    metric: "ns_per_op",
    title: "Scenario: compiler IR (256 KiB)",
    description: "A compiler's intermediate representation: the same cycle with a 256 KiB buffer " +
      "(median over chunks of ns per cycle).",
    quickScale: 0.3,
  },
  {
    id: "scenario_vm",
    program: "scenario",
    args: () => ["--kind", "vm"],
    metric: "ns_per_op",
    title: "Scenario: VM heap (2 MiB)",
    description: "A VM heap or arena: the same cycle with a 2 MiB buffer (median over chunks " +
      "of ns per cycle).",
    quickScale: 0.4,
  },
  {
    id: "scenario_mixed",
    program: "scenario",
    args: () => ["--kind", "mixed"],
    metric: "ns_per_op",
    title: "Scenario: mixed",
    description: "Each cycle picks one of the three scenarios (64 KiB, 256 KiB, 2 MiB) at random " +
      "(median over chunks of ns per cycle).",
    quickScale: 0.2,
  },
  {
    id: "realloc_growth",
    program: "realloc_growth",
    args: () => [],
    metric: "ops_per_s",
    title: "realloc growth, small and large steps",
    description: "32 live buffers picked at random, each growing from nothing by realloc in " +
      "small steps (8–128 B, a string builder) or large ones (4–64 KiB, a reader) up to a few " +
      "hundred KiB, then checked and freed: reallocs (and frees) per second.",
    quickScale: 0.1,
  },
  {
    id: "survivors",
    program: "survivors",
    args: () => [],
    metric: "ops_per_s",
    title: "Fragmentation with long-lived survivors",
    description: "Cycles of 16 MiB in one size band each (16 B to 64 KiB, bands taking turns); " +
      "one block in 32 survives for 8 cycles, scattered among the freed ones, pinning their " +
      "pages while later cycles want other sizes. Memory: peak RSS; the program also reports " +
      "the resident set per live byte.",
    quickScale: 0.15,
  },
  {
    id: "memory_return",
    program: "memory_return",
    args: (
      t,
      profile,
    ) => ["--threads", String(t), "--idle-ms", profile === "quick" ? "500" : "2000"],
    metric: "ops_per_s",
    title: "Memory return after a burst",
    description: "Threads allocate a large mixed set (512 MiB at full scale, 16 B – 512 KiB), " +
      "free 99 % of it remotely leaving scattered survivors, then idle, do light work and call " +
      "malloc_trim: the RSS at each phase. Memory figure: the RSS after the light work, what " +
      "the process keeps once it freed nearly everything; speed: the allocation and free phases.",
    quickScale: 0.25,
    memory: "rss_work_kib",
    scaleSetsMemory: true,
  },
  {
    id: "memory_return_exited",
    program: "memory_return",
    args: (t, profile) => [
      "--threads",
      String(t),
      "--exit",
      "1",
      "--mix",
      "small",
      "--idle-ms",
      profile === "quick" ? "2000" : "5000",
      "--work-ms",
      profile === "quick" ? "1000" : "5000",
    ],
    metric: "ops_per_s",
    title: "Memory return after the threads exit",
    description: "The memory_return program with workers that exit: they allocate 512 MiB " +
      "at full scale (98 % of the blocks 16 B – 1 KiB, the others up to 1 MiB), free 99 % of " +
      "it remotely leaving scattered survivors, and exit; the process idles (5 s at full " +
      "scale), the main thread does light work spread over 5 s, then calls malloc_trim. " +
      "Memory figure: the RSS after the light work, what is left of threads that are gone; " +
      "after the idle and after the trim are in the program's table.",
    quickScale: 0.25,
    memory: "rss_work_kib",
    scaleSetsMemory: true,
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
  ...FIELD_BENCHES,
  ...CXX_BENCHES,
  ...LEARNING_BENCHES,
];

/** Every bench id, in suite order. */
export const BENCH_IDS: readonly string[] = BENCHES.map((b) => b.id);

/** The bench with `id` ("mid_large_mt_<n>" is accepted for mid_large_mt_N). */
export function benchDef(id: string): BenchDef | undefined {
  const found = BENCHES.find((b) => b.id === id);
  if (found) return found;
  if (/^mid_large_mt_\d+$/.test(id) && id !== "mid_large_mt_1") {
    return BENCHES.find((b) => b.id === "mid_large_mt_N");
  }
  return undefined;
}

/** The workloads of --instructions: single-threaded (callgrind runs threads one at a time, so a
 * multi-threaded count would depend on its scheduling), each at a scale that takes a few seconds
 * under callgrind. pairs.c is the bare pair loop (a handful of instructions besides the calls). */
export const INSTRUCTION_WORKLOADS: readonly InstructionWorkload[] = [
  {
    id: "pair_32",
    title: "malloc(32) + free, one at a time (the tiny pair loop)",
    op: "malloc+free pair",
    program: "pairs",
    args: ["--size", "32"],
    scale: 0.01,
  },
  {
    id: "batch_32",
    title: "100 × malloc(32), then 100 frees",
    op: "malloc+free pair",
    program: "pairs",
    args: ["--size", "32", "--batch", "100"],
    scale: 0.01,
  },
  {
    id: "random_mixed_256",
    title: "Random mixed sizes, 256 live",
    op: "malloc or free",
    program: "random_mixed",
    args: ["--ws", "256"],
    scale: 0.01,
  },
  {
    id: "mixed_rounds_1",
    title: "Rounds replacing 1000 live blocks of 8 B–8 KiB (log-uniform): the tiers' sizes mixed",
    op: "free + malloc",
    program: "mixed_rounds",
    args: ["--threads", "1"],
    scale: 0.01,
  },
  {
    id: "realloc_growth",
    title: "realloc growth, small and large steps",
    op: "realloc or free",
    program: "realloc_growth",
    args: [],
    scale: 0.01,
  },
  {
    id: "survivors",
    title: "Fragmentation with long-lived survivors",
    op: "malloc or free",
    program: "survivors",
    args: [],
    scale: 0.02,
  },
  {
    id: "scenario_mir",
    title: "One 256 KiB buffer per cycle: malloc, a word per page, free (a span of the segments)",
    op: "cycle",
    program: "scenario",
    args: ["--kind", "mir"],
    scale: 0.02,
  },
  {
    id: "scenario_vm",
    title: "One 2 MiB buffer per cycle: malloc, a word per page, free (a block of the arenas)",
    op: "cycle",
    program: "scenario",
    args: ["--kind", "vm"],
    scale: 0.02,
  },
  ...(["new", "malloc"] as const).map((api): InstructionWorkload => ({
    id: api === "new" ? "new_delete_40" : "malloc_free_40",
    title: api === "new"
      ? "operator new(40) + sized delete, one at a time (C++, g++)"
      : "malloc(40) + free in the same C++ binary",
    op: api === "new" ? "new+delete pair" : "malloc+free pair",
    program: "cxx_pairs",
    args: ["--api", api, "--size", "40", "--batch", "1"],
    scale: 0.01,
  })),
];

/** Every instruction workload id. */
export const INSTRUCTION_IDS: readonly string[] = INSTRUCTION_WORKLOADS.map((w) => w.id);
