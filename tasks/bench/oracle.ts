// `deno task bench --oracle`: per workload, a grid of fixed hakmem configurations next to the
// default mode (balanced) and the learning mode, so that the report can say whether learning beats
// balanced and how close it comes to the best configuration anyone could have fixed in advance.
//
// The grid is "OPTION=v1,v2,…;OPTION=…" (ORACLE_GRID, or --oracle-grid): every combination of the
// values is one variant, hakmem-oracle-<short><value>-… (e.g. hakmem-oracle-decay5000-bc256), the
// default mode with those variables set (the combination of the default mode's own values is
// balanced itself, not run twice). Options and values are checked against the library's
// options table: only the knobs (integer options that may change while a program runs) are
// accepted, each value within its range.

import type { OptionsTable } from "../build/options.ts";
import { learningModes, optionValueProblem } from "../build/options.ts";
import { type HakmemVariant, modeVariant, variant } from "./variants.ts";
import type { OracleInfo } from "./stats.ts";

/** The default grid: the knobs the learning issue names, so that its best fixed configuration is
 * the one a user could have set: the decay delay across two decades, BigCache's budget below and
 * above the learning workloads' large working sets, the empty slabs a thread keeps per class (the
 * default and the largest, what ACE's race tries) and the remote batch (the default and twice it).
 * 24 combinations, balanced's own among them: 23 configurations, about 70 min with the default
 * workloads (README, "The oracle"). */
export const ORACLE_GRID =
  "HAKMEM_DECAY_MS=50,2000,5000;HAKMEM_BIGCACHE_MB=16,256;HAKMEM_TCACHE_CAP=128,512;" +
  "HAKMEM_BUNDLE=128,256";

/** The benches of --oracle when --benches is not given: the workloads that judge learning, then
 * those of the suite where memory moves. */
export const ORACLE_BENCHES: readonly string[] = [
  "bursts",
  "large_churn",
  "phases",
  "cache_phases",
  "memory_return",
  "realloc_growth",
  "large_mix",
  "fragment",
];

/** Seconds per run of --oracle in the full profile when --duration is not given: long enough for
 * ACE to learn (the issue's long runs). The scales are calibrated under the learning variant, so
 * that its runs, the ones judged, last that long. */
export const ORACLE_DURATION_S = 20;

/** The time limit of an oracle run, in durations: scales are calibrated under the learning
 * variant, and a fixed configuration may be ten times slower than it (or glibc more). */
export const ORACLE_TIMEOUT_FACTOR = 30;

/** Allocators of --oracle when --allocators is not given: hakmem's variants, glibc and the
 * baseline peer. */
export const ORACLE_ALLOCATORS: readonly string[] = ["glibc", "hakmem", "mimalloc3"];

/** Short names of the usual grid options in variant names; others get their name without
 * HAKMEM_, in lower case. */
const SHORT: Record<string, string> = {
  HAKMEM_DECAY_MS: "decay",
  HAKMEM_BIGCACHE_MB: "bc",
  HAKMEM_BUNDLE: "bundle",
  HAKMEM_REMOTE_DRAIN_THRESHOLD: "drain",
  HAKMEM_TCACHE_CAP: "tcache",
};

export interface GridAxis {
  option: string;
  values: number[];
}

/** The options a grid may name: the integer options a program may change while it runs. */
export function gridOptions(table: OptionsTable): string[] {
  return table.options.filter((o) => o.type === "int" && o.runtime).map((o) => o.name);
}

/** The axes of a grid spec; throws an Error naming what is wrong and what is accepted. */
export function parseGrid(spec: string, table: OptionsTable): GridAxis[] {
  const accepted = gridOptions(table);
  const axes: GridAxis[] = [];
  const parts = spec.split(";").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) {
    throw new Error(`--oracle-grid: empty; expected e.g. "${ORACLE_GRID}"`);
  }
  for (const part of parts) {
    const eq = part.indexOf("=");
    const option = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!accepted.includes(option)) {
      throw new Error(
        `--oracle-grid: unknown option ${option || '""'}; accepted (the integer options that ` +
          `may change at run time): ${accepted.join(", ")}`,
      );
    }
    if (axes.some((a) => a.option === option)) {
      throw new Error(`--oracle-grid: ${option} is given twice`);
    }
    const texts = eq < 0 ? [] : part.slice(eq + 1).split(",").map((v) => v.trim());
    if (texts.length === 0 || texts.some((v) => v === "")) {
      throw new Error(`--oracle-grid: ${option} needs values, e.g. ${option}=1,2`);
    }
    const def = table.options.find((o) => o.name === option)!;
    for (const v of texts) {
      const why = optionValueProblem(def, v);
      if (why) throw new Error(`--oracle-grid: ${option}=${v}: ${why}`);
    }
    const values = texts.map(Number);
    const twice = values.find((v, i) => values.indexOf(v) !== i);
    if (twice !== undefined) throw new Error(`--oracle-grid: ${option}=${twice} is given twice`);
    axes.push({ option, values });
  }
  return axes;
}

function shortName(option: string): string {
  return SHORT[option] ?? option.replace(/^HAKMEM_/, "").toLowerCase();
}

/** Every combination of the axes' values, the first axis outermost. */
function combinations(axes: readonly GridAxis[]): [string, number][][] {
  return axes.reduce<[string, number][][]>(
    (acc, a) => acc.flatMap((c) => a.values.map((v) => [...c, [a.option, v] as [string, number]])),
    [[]],
  );
}

/** The fixed configurations of a grid: the default mode with each combination set, except the
 * combination that is the default mode's own configuration (that is balanced, which runs
 * anyway). */
export function gridVariants(axes: readonly GridAxis[], table: OptionsTable): HakmemVariant[] {
  const mode = table.default_mode;
  const isDefault = (combo: [string, number][]) =>
    combo.every(([o, v]) => table.options.find((d) => d.name === o)?.defaults[mode] === v);
  return combinations(axes).filter((combo) => !isDefault(combo)).map((combo) =>
    variant(
      `oracle-${combo.map(([o, v]) => `${shortName(o)}${v}`).join("-")}`,
      {
        HAKMEM_MODE: table.default_mode,
        ...Object.fromEntries(combo.map(([o, v]) => [o, String(v)])),
      },
      "a fixed configuration of the oracle grid",
    )
  );
}

/** The oracle's variants (the default mode, the first learning mode, then the grid) and what the
 * results record of it. */
export function oracleVariants(
  spec: string,
  table: OptionsTable,
): { variants: HakmemVariant[]; info: OracleInfo } {
  const axes = parseGrid(spec, table);
  const learning = learningModes(table)[0];
  if (learning === undefined) throw new Error("the options table has no mode that learns");
  const balanced = modeVariant(table.default_mode);
  const learner = modeVariant(learning);
  const grid = gridVariants(axes, table);
  return {
    variants: [balanced, learner, ...grid],
    info: {
      grid: axes.map((a) => `${a.option}=${a.values.join(",")}`).join(";"),
      axes,
      balanced: balanced.name,
      learning: learner.name,
      fixed: [balanced.name, ...grid.map((v) => v.name)],
    },
  };
}
