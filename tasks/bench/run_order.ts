// The order in which one round runs its allocators on one bench or command: a shuffle seeded by
// the run's seed, the round and the bench's index, so the same run reproduces its order while no
// allocator always runs first or always behind the same neighbour. A rotation kept every
// allocator behind the same one in every round, and a run inherits what its predecessor left in
// the machine: on a virtual machine that reports freed pages to its host, the memory a 4 KiB-page
// allocator just unmapped faults in again at several times the cost, so the huge-page allocator
// that always followed glibc paid up to 1 s more per large-buffer run in every round.

import { mulberry32 } from "../lib/random.ts";

/** 32-bit mix of a few integers (splitmix32's finaliser), the shuffle's stream start. */
function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** `items` in the order round `round` runs them for bench (or command) number `index`. */
export function roundOrder<T>(
  items: readonly T[],
  seed: number,
  round: number,
  index: number,
): T[] {
  const out = [...items];
  const next = mulberry32(mix(seed, round, index));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor((next() / 4294967296) * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** `items` in round order, with the items `together` picks (the oracle's balanced and learning
 * modes, whose ratio its learning targets judge) run one right after the other: shuffled as one
 * item, the first of them in turn with the round. Far apart in a round of 25 variants, the two
 * ran minutes apart, in machine states up to 2x apart (cache_phases' remote phase: 9–27 M ops/s
 * for the same setting), which a ratio within one round cannot tell from learning. */
export function roundOrderTogether<T>(
  items: readonly T[],
  seed: number,
  round: number,
  index: number,
  together: (item: T) => boolean,
): T[] {
  const group = items.filter(together);
  if (group.length < 2) return roundOrder(items, seed, round, index);
  const k = round % group.length;
  const turn = [...group.slice(k), ...group.slice(0, k)];
  const units: (T | null)[] = [null, ...items.filter((i) => !together(i))];
  return roundOrder(units, seed, round, index).flatMap((u) => u === null ? turn : [u]);
}
