/** The hakmem variants of a bench run (tasks/bench/variants.ts) and the oracle's grid
 * (tasks/bench/oracle.ts), against the options table of the built library: the presets of --modes,
 * the feature ladder, the thresholds, the oracle's fixed configurations and their names, the time
 * limits, which runs learn (and so trace), and that the library accepts every variable. */
import assert from "node:assert/strict";
import {
  allocatorNames,
  defaultTimeout,
  hakmemVariants,
  traceFile,
  variantProblems,
} from "../../tasks/bench/variants.ts";
import { gridVariants, ORACLE_GRID, oracleVariants, parseGrid } from "../../tasks/bench/oracle.ts";
import { builtOptionsTable, learns, type OptionsTable } from "../../tasks/build/options.ts";
import { LADDER } from "./fixtures/synthetic_results.ts";

/** The variants of --thresholds, in run order (--ladder's are the synthetic results' LADDER). */
const THRESHOLD_NAMES = [
  "hakmem-thr-1mb",
  "hakmem-thr-4mb",
  "hakmem-thr-16mb",
  "hakmem-thr-64mb",
  "hakmem-elo-learn",
];

/** name → env of a list of variants. */
function envs(vs: { name: string; env: Record<string, string> }[]) {
  return Object.fromEntries(vs.map((v) => [v.name, v.env]));
}

/** The options table of the built x86_64 release library (the test run builds it first). */
function table(): OptionsTable {
  const t = builtOptionsTable();
  assert.ok(t, "the x86_64 release library is built and its options table readable");
  return t;
}

/** hakmemVariants with the table's default mode. */
function variants(o: Parameters<typeof hakmemVariants>[0]) {
  return hakmemVariants(o, table().default_mode);
}

Deno.test("bench variants: --modes (default balanced) gives hakmem-<mode> with HAKMEM_MODE", () => {
  // by default hakmem-harden (HAKMEM_HARDEN=1) stands beside the default mode; --no-harden drops it
  assert.deepEqual(envs(variants({})), {
    "hakmem-balanced": { HAKMEM_MODE: "balanced" },
    "hakmem-harden": { HAKMEM_MODE: "balanced", HAKMEM_HARDEN: "1" },
  });
  assert.deepEqual(envs(variants({ harden: false })), {
    "hakmem-balanced": { HAKMEM_MODE: "balanced" },
  });
  assert.deepEqual(variants({ modes: ["fast"], harden: true }).map((x) => x.name), [
    "hakmem-fast",
    "hakmem-harden",
  ]);
  const v = variants({ modes: ["fast", "balanced", "fast"] });
  assert.deepEqual(v.map((x) => x.name), ["hakmem-fast", "hakmem-balanced"]);
  assert.deepEqual(v[0].env, { HAKMEM_MODE: "fast" });
  assert.equal(v[0].note, "HAKMEM_MODE=fast");
  assert.deepEqual(
    allocatorNames(["tcmalloc", "hakmem", "glibc", "mimalloc3"], v),
    ["glibc", "hakmem-fast", "hakmem-balanced", "mimalloc3", "tcmalloc"],
  );
  assert.deepEqual(allocatorNames(["glibc"], v), ["glibc"]);
});

Deno.test("bench variants: --ladder adds the features one at a time, in order", () => {
  const v = variants({ ladder: true });
  assert.deepEqual(envs(v), {
    "hakmem-minimal": { HAKMEM_MODE: "minimal" },
    "hakmem-minimal+bigcache": { HAKMEM_MODE: "minimal", HAKMEM_BIGCACHE: "1" },
    "hakmem-minimal+bigcache+batch": {
      HAKMEM_MODE: "minimal",
      HAKMEM_BIGCACHE: "1",
      HAKMEM_FREE_POLICY: "batch",
      HAKMEM_MADVISE_BATCH: "16",
    },
    "hakmem-balanced": { HAKMEM_MODE: "balanced" },
    "hakmem-fast": { HAKMEM_MODE: "fast" },
    "hakmem-learning": { HAKMEM_MODE: "learning" },
  });
  // deepEqual on objects ignores the order: check it apart
  assert.deepEqual(v.map((x) => x.name), LADDER);
  // every note names the variables the variant sets
  for (const x of v) {
    for (const [k, val] of Object.entries(x.env)) assert.ok(x.note.includes(`${k}=${val}`), x.note);
  }
});

Deno.test("bench variants: --thresholds fixes the threshold (ELO off) or lets ELO learn", () => {
  const v = variants({ thresholds: true });
  const fixed = (mb: string) => ({
    HAKMEM_MODE: "balanced",
    HAKMEM_ELO: "off",
    HAKMEM_BIGCACHE_MAX_BLOCK_MB: mb,
  });
  assert.deepEqual(v.map((x) => x.name), THRESHOLD_NAMES);
  assert.deepEqual(envs(v), {
    "hakmem-thr-1mb": fixed("1"),
    "hakmem-thr-4mb": fixed("4"),
    "hakmem-thr-16mb": fixed("16"),
    "hakmem-thr-64mb": fixed("64"),
    "hakmem-elo-learn": { HAKMEM_MODE: "balanced", HAKMEM_ELO: "learn" },
  });
});

Deno.test("bench variants: ladder, thresholds, then the other --modes, each name once", () => {
  const v = variants({ ladder: true, thresholds: true, modes: ["research", "balanced"] });
  assert.deepEqual(v.map((x) => x.name), [...LADDER, ...THRESHOLD_NAMES, "hakmem-research"]);
});

Deno.test("bench variants: hakmem without BigCache (minimal) or hardened gets a longer quick time limit", () => {
  const t = table();
  assert.equal(defaultTimeout("quick", variants({ harden: false }), t), 60);
  assert.equal(defaultTimeout("quick", variants({}), t), 240);
  assert.equal(defaultTimeout("quick", variants({ thresholds: true }), t), 60);
  assert.equal(defaultTimeout("quick", variants({ ladder: true }), t), 240);
  assert.equal(defaultTimeout("quick", variants({ modes: ["minimal"] }), t), 240);
  assert.equal(defaultTimeout("full", variants({ ladder: true }), t), 600);
  // --duration: ten times the target, at least the profile's limit
  assert.equal(defaultTimeout("quick", variants({ harden: false }), t, 20), 200);
  assert.equal(defaultTimeout("full", variants({}), t, 20), 600);
});

Deno.test("bench variants: every variable of every variant is an option the library accepts", () => {
  const t = table();
  const all = variants({ ladder: true, thresholds: true, modes: t.modes });
  assert.deepEqual(variantProblems(all, t), []);
  assert.deepEqual(
    variantProblems([{ name: "hakmem-x", env: { HAKMEM_NOPE: "1", HAKMEM_ELO: "sometimes" } }], t),
    [
      "hakmem-x: HAKMEM_NOPE=1: not an option of this library",
      "hakmem-x: HAKMEM_ELO=sometimes: not one of off, frozen, learn",
    ],
  );
});

Deno.test("bench oracle: the grid, its variants and their names", () => {
  const t = table();
  assert.deepEqual(parseGrid(ORACLE_GRID, t), [
    { option: "HAKMEM_DECAY_MS", values: [50, 2000, 5000] },
    { option: "HAKMEM_BIGCACHE_MB", values: [16, 256] },
    { option: "HAKMEM_TCACHE_CAP", values: [128, 512] },
    { option: "HAKMEM_BUNDLE", values: [128, 256] },
  ]);
  const { variants: vs, info } = oracleVariants(ORACLE_GRID, t);
  // 24 combinations; balanced's own (2000 ms, 16 MiB, 128 blocks, 128 frees) is balanced: not run
  // twice
  const names = vs.map((v) => v.name);
  assert.equal(names.length, 2 + 23);
  assert.deepEqual(names.slice(0, 4), [
    "hakmem-balanced",
    "hakmem-learning",
    "hakmem-oracle-decay50-bc16-tcache128-bundle128",
    "hakmem-oracle-decay50-bc16-tcache128-bundle256",
  ]);
  assert.ok(!names.includes("hakmem-oracle-decay2000-bc16-tcache128-bundle128"));
  assert.ok(names.includes("hakmem-oracle-decay2000-bc16-tcache512-bundle128"));
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(vs[vs.length - 1].env, {
    HAKMEM_MODE: "balanced",
    HAKMEM_DECAY_MS: "5000",
    HAKMEM_BIGCACHE_MB: "256",
    HAKMEM_TCACHE_CAP: "512",
    HAKMEM_BUNDLE: "256",
  });
  assert.deepEqual(info, {
    grid: ORACLE_GRID,
    axes: parseGrid(ORACLE_GRID, t),
    balanced: "hakmem-balanced",
    learning: "hakmem-learning",
    fixed: vs.filter((v) => v.name !== "hakmem-learning").map((v) => v.name),
  });
  assert.deepEqual(variantProblems(vs, t), []);
  // only the grid's fixed configurations do not learn
  assert.deepEqual(vs.filter((v) => learns(t, v.env)).map((v) => v.name), ["hakmem-learning"]);
  // other knobs get their name without HAKMEM_; spaces and empty parts are forgiven
  const g = gridVariants(parseGrid(" HAKMEM_BUNDLE=32,128 ; HAKMEM_SEGMENT_CACHE=0;", t), t);
  assert.deepEqual(g.map((v) => v.name), [
    "hakmem-oracle-bundle32-segment_cache0",
    "hakmem-oracle-bundle128-segment_cache0",
  ]);
  for (
    const [spec, want] of [
      ["", /empty/],
      ["HAKMEM_MODE=1", /unknown option HAKMEM_MODE; accepted/],
      ["HAKMEM_DECAY_MS", /HAKMEM_DECAY_MS needs values/],
      ["HAKMEM_DECAY_MS=1,,2", /HAKMEM_DECAY_MS needs values/],
      ["HAKMEM_DECAY_MS=1,1", /HAKMEM_DECAY_MS=1 is given twice/],
      ["HAKMEM_DECAY_MS=1;HAKMEM_DECAY_MS=2", /HAKMEM_DECAY_MS is given twice/],
      ["HAKMEM_DECAY_MS=3600001", /not an integer in 0\.\.3600000/],
      ["HAKMEM_BIGCACHE_MB=1.5", /not an integer in 1\.\.65536/],
    ] as const
  ) {
    assert.throws(() => parseGrid(spec, t), want, spec);
  }
});

Deno.test("bench traces: which runs trace their learning layer, and where", () => {
  const t = table();
  const traced = (v: { name: string; env: Record<string, string> }[]) =>
    v.filter((x) => learns(t, x.env)).map((x) => x.name);
  assert.deepEqual(traced(variants({ ladder: true })), ["hakmem-learning"]);
  assert.deepEqual(traced(variants({ thresholds: true })), ["hakmem-elo-learn"]);
  assert.deepEqual(traced(variants({ modes: ["minimal", "research", "fast"] })), [
    "hakmem-research",
  ]);
  assert.equal(learns(t, { HAKMEM_MODE: "balanced", HAKMEM_ACE_ENABLED: "1" }), true);
  assert.equal(learns(t, { HAKMEM_MODE: "learning", HAKMEM_ACE_ENABLED: "0" }), true, "ELO learns");
  assert.equal(
    learns(t, { HAKMEM_MODE: "learning", HAKMEM_ACE_ENABLED: "0", HAKMEM_ELO: "frozen" }),
    false,
  );
  assert.equal(learns(t, { HAKMEM_MODE: "balanced", HAKMEM_ACE_ENABLED: "0" }), false);
  assert.equal(
    traceFile("larson", "hakmem-learning", 2),
    "traces/larson.hakmem-learning.r2.jsonl",
  );
});
