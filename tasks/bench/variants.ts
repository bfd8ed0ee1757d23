// The allocators a bench run can name: glibc, hakmem as one or more variants (an allocator name
// and an environment: the presets of --modes, the feature ladder of --ladder, the large-tier
// thresholds of --thresholds, the oracle's grid of tasks/bench/oracle.ts) and the peers of
// tasks/peers/peers.ts. The modes and what each variable does come from the library's options table
// (tasks/build/options.ts), which also checks every variant's variables.

import { PEER_NAMES } from "../peers/peers.ts";
import { effectiveOption, envProblems, type OptionsTable } from "../build/options.ts";
/** What --allocators accepts, in the order the bench lists them. */
export const ALLOCATOR_KINDS: readonly string[] = ["glibc", "hakmem", ...PEER_NAMES];

/** One way of running hakmem: its allocator name (hakmem-<suffix>), the environment of the
 * program and a note for the report (the variables, and what the variant shows). */
export interface HakmemVariant {
  name: string;
  env: Record<string, string>;
  note: string;
}

export function variant(
  suffix: string,
  env: Record<string, string>,
  what?: string,
): HakmemVariant {
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

/** HAKMEM_HARDEN=1 in a mode: what the protections too dear for release cost, per workload. A run's
 * default variants put it beside the default mode. */
export function hardenVariant(mode: string): HakmemVariant {
  return variant(
    "harden",
    { HAKMEM_MODE: mode, HAKMEM_HARDEN: "1" },
    "hardened: small blocks held back, filled and guarded by canaries; large and 0-byte blocks " +
      "guarded by no-access pages",
  );
}

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

/** The hakmem variants of a run: the ladder's, then the thresholds', then the oracle's, then
 * those of --modes that are not among them (each name once), then hakmem-harden when asked
 * (`harden`). Without any of these: the table's default mode (balanced) and, unless harden is
 * false, hakmem-harden beside it. */
export function hakmemVariants(
  o: {
    modes?: readonly string[];
    ladder?: boolean;
    thresholds?: boolean;
    oracle?: readonly HakmemVariant[];
    harden?: boolean;
  },
  defaultMode: string,
): HakmemVariant[] {
  const chosen = (o.modes && o.modes.length > 0) || o.ladder || o.thresholds || o.oracle;
  const modes = o.modes && o.modes.length > 0 ? o.modes : chosen ? [] : [defaultMode];
  const harden = o.harden ?? !chosen;
  const all = [
    ...(o.ladder ? LADDER : []),
    ...(o.thresholds ? THRESHOLD_VARIANTS : []),
    ...(o.oracle ?? []),
    ...modes.map(modeVariant),
    ...(harden ? [hardenVariant(defaultMode)] : []),
  ];
  return all.filter((v, i) => all.findIndex((w) => w.name === v.name) === i);
}

/** Problems of the variants' variables against the library's options table (a variable it does
 * not have, a value it does not accept), each prefixed with the variant's name. */
export function variantProblems(
  variants: readonly Pick<HakmemVariant, "name" | "env">[],
  table: OptionsTable,
): string[] {
  return variants.flatMap((v) => envProblems(table, v.env).map((p) => `${v.name}: ${p}`));
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

/** The time limit of one run, seconds, when --timeout is not given. hakmem without BigCache (in
 * minimal mode) or hardened (a guarded mapping per large block) maps and faults in every large
 * block afresh: the scenario benches take it about a minute each at the quick scale, where the
 * others take well under a second. With --duration a run may take ten times its target. */
export function defaultTimeout(
  profile: "quick" | "full",
  variants: readonly HakmemVariant[],
  table: OptionsTable,
  durationS: number | null = null,
): number {
  const base = profile === "full"
    ? 600
    : variants.some((v) =>
        effectiveOption(table, v.env, "HAKMEM_BIGCACHE") === "0" ||
        effectiveOption(table, v.env, "HAKMEM_HARDEN") === "1"
      )
    ? 240
    : 60;
  return durationS === null ? base : Math.max(base, Math.ceil(10 * durationS));
}
