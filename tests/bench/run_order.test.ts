/** tasks/bench/run_order.ts: the order of the allocators within a round is a permutation reproduced
 * by its seed, and over a run's rounds and benches no allocator always runs first or always behind
 * the same neighbour (a rotation kept hakmem behind glibc in every round of every bench). */
import assert from "node:assert/strict";
import { roundOrder } from "../../tasks/bench/run_order.ts";

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
