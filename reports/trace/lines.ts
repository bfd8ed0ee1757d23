// The lines of an ACE trace (HAKMEM_ACE_TRACE, JSONL): one zod schema per kind gives both the
// line's type and its check. Every line is a JSON object with "t" (seconds since ACE started, not
// negative) and "kind"; the fields each kind needs are required, the others are read leniently:
// a measurement that is missing or not a number reads as null ("not measured"), unknown fields are
// ignored. Pure: bundles for the browser.

import { jsonOrUndefined, z } from "../../tasks/lib/schema.ts";

/** A measurement: a number, or null when the line has none (or not a number). */
const measured = z.number().nullable().catch(null);
/** A text field read the same way. */
const named = z.string().nullable().catch(null);
/** An object of named values; anything else reads as empty. */
const values = z.record(z.string(), z.unknown());

/** Every line: its time and kind. */
const Head = z.object({ t: z.number().nonnegative(), kind: z.string() });

const Start = z.object({
  kind: z.literal("start"),
  pid: measured,
  mode: named,
  fast_ms: measured,
  slow_ms: measured,
});

const Tick = z.object({
  kind: z.literal("tick"),
  loop: z.enum(["fast", "slow"]),
  reward: z.number().nullish().transform((v) => v ?? null),
  metrics: values.catch({}),
  knobs: values.nullish().transform((v) => v ?? {}),
});

const Phase = z.object({
  kind: z.literal("phase"),
  /** Phase changes so far, as the line counts them. */
  changes: z.number().optional().transform((v) => v ?? null),
});

const Decision = z.object({
  kind: z.literal("decision"),
  knob: z.string(),
  /** The class of a per-class knob; absent or null for a global one (-1). */
  cls: z.number().int().nullish().transform((v) => v ?? -1),
  old: measured,
  new: z.number(),
  rule: z.string().catch("?"),
});

const Scavenge = z.object({
  kind: z.literal("scavenge"),
  bytes: z.number(),
  ns: measured,
  budget_ns: measured,
  complete: z.boolean().nullable().catch(null),
});

const Guard = z.object({
  kind: z.literal("guard"),
  guard: z.string(),
  value: measured,
  limit: measured,
});

/** One rating of an "elo" line; entries without a threshold and a rating are left out. */
const Rating = z.object({ threshold: z.number(), rating: z.number(), plays: measured });

const Elo = z.object({
  kind: z.literal("elo"),
  state: z.string(),
  best: measured,
  allocs: measured,
  ratings: z.array(z.unknown()).catch([]).transform((rs) =>
    rs.flatMap((r) => {
      const p = Rating.safeParse(r);
      return p.success ? [p.data] : [];
    })
  ),
});

const KINDS = {
  start: Start,
  tick: Tick,
  phase: Phase,
  decision: Decision,
  scavenge: Scavenge,
  guard: Guard,
  elo: Elo,
} as const;

export type Kind = keyof typeof KINDS;

/** A line that passed the checks of its kind, with its time. */
export type TraceLine = { [K in Kind]: z.infer<(typeof KINDS)[K]> & { t: number } }[Kind];

/** What one line of the text is. */
export type LineRead =
  | { line: TraceLine }
  | { unknownKind: string }
  | { malformed: true };

function isKind(kind: string): kind is Kind {
  return Object.hasOwn(KINDS, kind);
}

/** Reads one non-blank line of a trace. */
export function readLine(text: string): LineRead {
  const o = jsonOrUndefined(text);
  const head = Head.safeParse(o);
  if (!head.success) return { malformed: true };
  const { t, kind } = head.data;
  if (!isKind(kind)) return { unknownKind: kind };
  const body = KINDS[kind].safeParse(o);
  return body.success ? { line: { ...body.data, t } as TraceLine } : { malformed: true };
}
