// The workbench's one schema library (npm:zod): its schemas give both the TypeScript types and
// the validation of what programs write (results.json, hakmem's statistics, ACE traces, the
// programs' result lines). This module holds what every schema user shares: problems worded as
// "where: what was expected, got what", and JSON text that may not be JSON. Pure: bundles for
// the browser.

import { z } from "zod";

export { z };

const SHOWN_CHARS = 60;

/** A value as a problem shows it: JSON, cut short. */
function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v); // a value JSON cannot write (a cycle, a BigInt): its plain text will do
  }
  return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s;
}

/** "samples[3].rss.curve[0]" from a zod path. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** The value at `path` inside `root` (undefined where there is none). */
function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** One issue as one line: where, what was expected, and the value found there (`root`: the
 * whole value checked, for the checks of an object that name one of its fields). */
export function issueText(issue: z.core.$ZodIssue, prefix = "", root?: unknown): string {
  const where = prefix + pathText(issue.path);
  // zod's messages read "Invalid input: expected number, received string": keep what was
  // expected; the value found follows
  const expected = issue.message.replace(/^Invalid (input|option|value):\s*/, "")
    .replace(/, received \w+$/, "");
  const found = issue.code === "custom" && root !== undefined
    ? at(root, issue.path)
    : "input" in issue
    ? issue.input
    : undefined;
  return `${where || "(the whole value)"}: ${expected}, got ${shown(found)}`;
}

/** The problems of `value` against `schema`, one line each (empty when it fits). */
export function problemsOf(schema: z.ZodType, value: unknown, prefix = ""): string[] {
  const r = schema.safeParse(value, { reportInput: true });
  return r.success ? [] : r.error.issues.map((i) => issueText(i, prefix, value));
}

/** `value` parsed by `schema`; throws naming `what` and every problem. */
export function parseAs<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${issueText(i, "", value)}`);
  throw new Error(`${what} is not what was expected:\n${lines.join("\n")}`, { cause: r.error });
}

/** JSON.parse of `text`, or undefined when it is not JSON (a line of a program's output may be
 * anything). */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: the caller's schema says what it wanted instead
  }
}

/** JSON.parse of `text`; throws naming `what` and keeping the parser's error. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** A path inside a run directory: relative, without "..". */
export const insideRun = z.string().refine(
  (v) => v !== "" && !v.startsWith("/") && !v.split("/").includes(".."),
  "a relative path inside the run directory",
);
