/** tasks/bench/run_order.ts: the order of the allocators within a round is a permutation reproduced
 * by its seed, and over a run's rounds and benches no allocator always runs first or always behind
 * the same neighbour (a rotation kept hakmem behind glibc in every round of every bench). */
import assert from "node:assert/strict";
import { roundOrder, roundOrderTogether } from "../../tasks/bench/run_order.ts";

const ALLOCATORS = [
  "glibc",
  "hakmem",
  "mimalloc3",
  "mimalloc2",
  "jemalloc",
  "tcmalloc",
  "snmalloc",
];
const SEED = 42;
const ROUNDS = 3;
const BENCHES = 30;

Deno.test("a round's order is a permutation, the same for the same seed, round and bench", () => {
  console.log(`seed ${SEED}`);
  for (let round = 0; round < ROUNDS; round++) {
    for (let bench = 0; bench < BENCHES; bench++) {
      const order = roundOrder(ALLOCATORS, SEED, round, bench);
      assert.deepEqual(order.toSorted(), ALLOCATORS.toSorted());
      assert.deepEqual(roundOrder(ALLOCATORS, SEED, round, bench), order);
    }
  }
  const orders = (seed: number) =>
    JSON.stringify([0, 1, 2].map((bench) => roundOrder(ALLOCATORS, seed, 0, bench)));
  assert.notEqual(orders(SEED), orders(SEED + 1), "another seed, another order");
});

Deno.test("over a run, every allocator runs first and follows several neighbours", () => {
  console.log(`seed ${SEED}`);
  const first = new Set<string>();
  const before = new Map(ALLOCATORS.map((a) => [a, new Set<string>()]));
  // the last run of one bench is the neighbour of the first of the next
  let previous: string | null = null;
  for (let round = 0; round < ROUNDS; round++) {
    for (let bench = 0; bench < BENCHES; bench++) {
      const order = roundOrder(ALLOCATORS, SEED, round, bench);
      first.add(order[0]);
      for (const a of order) {
        if (previous !== null) before.get(a)!.add(previous);
        previous = a;
      }
    }
  }
  assert.equal(first.size, ALLOCATORS.length, `first: ${[...first]}`);
  for (const [a, neighbours] of before) {
    assert.ok(
      neighbours.size >= ALLOCATORS.length - 1,
      `${a} ran only after ${[...neighbours]}`,
    );
  }
});

Deno.test("the oracle's balanced and learning run one right after the other, first in turn", () => {
  console.log(`seed ${SEED}`);
  const variants = ["hakmem-balanced", "hakmem-learning", ...ALLOCATORS];
  const pair = new Set(["hakmem-balanced", "hakmem-learning"]);
  const firsts = new Set<string>();
  const positions = new Set<number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let bench = 0; bench < BENCHES; bench++) {
      const order = roundOrderTogether(variants, SEED, round, bench, (v) => pair.has(v));
      assert.deepEqual(order.toSorted(), variants.toSorted());
      const at = order.findIndex((v) => pair.has(v));
      assert.ok(pair.has(order[at + 1]), `round ${round} bench ${bench}: ${order}`);
      assert.equal(order[at], round % 2 === 0 ? "hakmem-balanced" : "hakmem-learning");
      firsts.add(order[0]);
      positions.add(at);
    }
  }
  // the pair moves through the round like any allocator, and the others still take turns first
  assert.ok(positions.size >= ALLOCATORS.length, `the pair sat only at ${[...positions]}`);
  assert.equal(firsts.size, variants.length, `first: ${[...firsts]}`);
  // without a pair to keep together, the order is the plain shuffle
  assert.deepEqual(
    roundOrderTogether(ALLOCATORS, SEED, 1, 2, () => false),
    roundOrder(ALLOCATORS, SEED, 1, 2),
  );
});
