// `deno task bench --peer-parity`: each source peer built both ways (tasks/peers/peers.ts: its
// upstream release build and the workbench's zig build), both run on the bare pair loop and two
// multi-threaded workloads, interleaved over a few rounds (the order flips every round), and the
// ratio recorded: > 1 means the upstream build was faster. The records are kept in
// .cache/peers/parity.json, so later runs without --peer-parity still use the faster build of the
// same libraries (chooseBuild); results.json carries the records its peers were chosen by.

import { join } from "node:path";
import { geomean, median, type Metric, pairedRatio, type SampleLike } from "./stats.ts";
import { bareAllocator, runOnce } from "./runner.ts";
import { buildText, chooseBuild, type ResolvedPeer, resolvePeers } from "../peers/peers.ts";
import { PEERS_CACHE } from "../peers/build.ts";
import { readTextIfPresent, removeIfPresent } from "../lib/files.ts";
import { jsonOrUndefined, z } from "../lib/schema.ts";
import { PeerParity } from "./schema.ts";

/** The workloads of the parity check: the pair loop and two multi-threaded ones. */
export const PARITY_WORKLOADS: readonly {
  id: string;
  program: string;
  args: string[];
  metric: Metric;
}[] = [
  {
    id: "pair_32",
    program: "pairs",
    args: ["--size", "32"],
    metric: "ns_per_op",
  },
  {
    id: "larson",
    program: "larson",
    args: ["--threads", "2"],
    metric: "ops_per_s",
  },
  {
    id: "xthread",
    program: "xthread",
    args: ["--threads", "2"],
    metric: "ops_per_s",
  },
];
export const PARITY_PROGRAMS = [...new Set(PARITY_WORKLOADS.map((w) => w.program))];
/** Even, so that each build runs first in as many rounds as the other. */
export const PARITY_ROUNDS = 6;
/** --scale of the parity runs: a few tenths of a second each. */
export const PARITY_SCALE = 0.1;
const PARITY_TIMEOUT_S = 120;

/** The parity records kept in the cache, by peer ({} when there are none). */
export async function loadParity(cacheDir = PEERS_CACHE): Promise<Record<string, PeerParity>> {
  const path = join(cacheDir, "parity.json");
  const text = await readTextIfPresent(path); // absent: no parity measured here yet
  if (text === null) return {};
  const records = z.record(z.string(), PeerParity).safeParse(jsonOrUndefined(text));
  if (records.success) return records.data;
  // a cache, not a record of its own: say so and measure again when asked
  console.error(`[parity] ignoring ${path}: not a record of parity checks (${records.error})`);
  return {};
}

async function saveParity(records: Record<string, PeerParity>, cacheDir = PEERS_CACHE) {
  await Deno.mkdir(cacheDir, { recursive: true });
  const p = join(cacheDir, "parity.json");
  const tmp = `${p}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(records, null, 1) + "\n");
  await Deno.rename(tmp, p);
}

/** One value per (workload, build, round), as the parity check measured them. */
export interface ParitySample {
  workload: string;
  build: "upstream" | "zig";
  round: number;
  value: number | null;
}

/** The record of one peer from its samples. Pure. */
export function parityRecord(
  peer: ResolvedPeer,
  samples: readonly ParitySample[],
  rounds: number,
  measured: string,
): PeerParity {
  const up = peer.builds.find((b) => b.kind === "upstream")!;
  const zig = peer.builds.find((b) => b.kind === "zig")!;
  const asSample = (s: ParitySample): SampleLike => ({
    bench: s.workload,
    allocator: s.build,
    round: s.round,
    ok: s.value !== null,
    value: s.value,
    result: null,
    wall_s: 0,
    maxrss_kib: 0,
    minflt: 0,
    majflt: 0,
  });
  const workloads = PARITY_WORKLOADS.map((w) => {
    const of = (b: "upstream" | "zig") =>
      samples.filter((s) => s.workload === w.id && s.build === b);
    const values = (b: "upstream" | "zig") =>
      of(b).map((s) => s.value).filter((v): v is number => v !== null);
    const ratio = pairedRatio(
      of("upstream").map(asSample),
      of("zig").map(asSample),
      w.metric === "ops_per_s",
    ).ratio;
    return {
      id: w.id,
      metric: w.metric,
      upstream: median(values("upstream")),
      zig: median(values("zig")),
      ratio,
    };
  });
  const g = workloads.length > 0 && workloads.every((w) => w.ratio !== null)
    ? geomean(workloads.map((w) => w.ratio!))
    : null;
  return {
    peer: peer.name,
    measured,
    rounds,
    upstream: { lib: up.lib!, compiler: up.compiler, flags: up.flags },
    zig: { lib: zig.lib!, compiler: zig.compiler, flags: zig.flags },
    workloads,
    geomean: g,
    faster: g === null ? null : g >= 1 ? "upstream" : "zig",
  };
}

export interface ParityContext {
  hakrun: string;
  bins: Map<string, string>;
  seed: number;
  rounds?: number;
  /** --scale of each run (default PARITY_SCALE). */
  scale?: number;
  log?: (m: string) => void;
}

/** Runs the parity workloads under both builds of `peer`, interleaved (the order flips every
 * round); a failed run is a null value, which leaves its workload without a ratio. */
export async function measureParity(
  peer: ResolvedPeer,
  c: ParityContext,
): Promise<ParitySample[]> {
  const rounds = c.rounds ?? PARITY_ROUNDS;
  const tmpDir = await Deno.makeTempDir({ prefix: "hakmem-parity-" });
  const out: ParitySample[] = [];
  let seq = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const w of PARITY_WORKLOADS) {
        const builds = peer.builds.filter((b) => b.lib !== null);
        for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
          const m = await runOnce({
            hakrun: c.hakrun,
            program: c.bins.get(w.program)!,
            args: ["--seed", String(c.seed), ...w.args, "--scale", String(c.scale ?? PARITY_SCALE)],
            allocator: bareAllocator(`${peer.name}-${b.kind}`, "peer", b.lib),
            timeoutS: PARITY_TIMEOUT_S,
            tmpDir,
            seq: seq++,
            trace: null,
            sampleMs: 0,
          });
          out.push({ workload: w.id, build: b.kind, round, value: m.ok ? m.value : null });
          c.log?.(
            `[parity] r${round} ${w.id} ${peer.name} ${b.kind}: ` +
              (m.ok ? `${m.value}` : `FAILED (${m.stderr_tail.split("\n").pop() ?? ""})`),
          );
        }
      }
    }
  } finally {
    await removeIfPresent(tmpDir);
  }
  return out;
}

/** The peers of `names` for a bench run, each with the build it uses. With `parity` (needs `ctx`)
 * every source peer is built both ways and measured, the records saved to the cache; without it
 * the cached records decide (chooseBuild). Returns the peers and the records they were chosen
 * by. */
export async function peersForBench(
  names: readonly string[],
  parity: boolean,
  ctx: ParityContext | null,
): Promise<{ peers: Map<string, ResolvedPeer>; records: PeerParity[] }> {
  const stored = await loadParity();
  const peers = await resolvePeers(names, { both: parity, parity: stored });
  if (parity && ctx) {
    const log = ctx.log ?? ((m: string) => console.error(m));
    const measured = new Date().toISOString();
    for (const p of peers.values()) {
      if (p.builds.filter((b) => b.lib !== null).length < 2) continue;
      log(
        `[parity] ${p.name}: upstream build against zig build, ${PARITY_WORKLOADS.length} ` +
          `workloads × ${ctx.rounds ?? PARITY_ROUNDS} rounds`,
      );
      const rec = parityRecord(
        p,
        await measureParity(p, ctx),
        ctx.rounds ?? PARITY_ROUNDS,
        measured,
      );
      stored[p.name] = rec;
      const choice = chooseBuild(p.builds, rec);
      const used = p.builds.find((b) => b.kind === choice?.kind);
      if (choice && used) {
        p.choice = choice;
        p.lib = used.lib;
        p.build = buildText(used);
      }
      log(
        `[parity] ${p.name}: upstream/zig speed ${rec.geomean?.toFixed(3) ?? "—"}; ` +
          `the ${p.choice?.kind} build is used`,
      );
    }
    await saveParity(stored);
  }
  const records = [...peers.values()].map((p) => stored[p.name])
    .filter((r): r is PeerParity => r !== undefined)
    .filter((r) => [...peers.values()].some((p) => p.builds.some((b) => b.lib === r.upstream.lib)));
  return { peers, records };
}
