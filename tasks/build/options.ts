// The options table of a built library (hak_options_table_json), for the workbench: read through
// the binding (bindings/hakmem.ts) in a child process, so the workbench itself never loads an
// allocator. Tools list modes and options from here instead of re-typing them; the pure helpers
// below answer questions about a table (what a mode sets, which modes learn, what a value means).

import { fileURLToPath } from "node:url";
import { type OptionDef, type OptionsTable, parseOptionsTable } from "../../bindings/hakmem.ts";
import { buildLibrary, libraryFiles } from "./build.ts";
import { existsSync } from "../lib/files.ts";
import { endText, runSync } from "../lib/run.ts";
import type { Flavour, TargetName } from "../lib/targets.ts";

export type { OptionDef, OptionsTable };

const BINDING = fileURLToPath(new URL("../../bindings/hakmem.ts", import.meta.url));
const HOST_TARGET: TargetName = "x86_64-linux-gnu";

/** The table of dist/<target>/<flavour>/libhakmem.so (a host target), or null when it is not
 * built; throws, saying why, when the library is there but its table cannot be read. */
export function builtOptionsTable(
  target: TargetName = HOST_TARGET,
  flavour: Flavour = "release",
): OptionsTable | null {
  const so = libraryFiles(target, flavour).so;
  if (!existsSync(so)) return null;
  const what = `the options table of ${so} (bindings/hakmem.ts options)`;
  const r = runSync(Deno.execPath(), ["run", "-A", "--quiet", BINDING, "options", so]);
  if (r.code !== 0) {
    throw new Error(`cannot read ${what}: ${endText(r)}\n${r.stderr.trim()}`);
  }
  return parseOptionsTable(r.stdout, what);
}

/** The table of the x86_64 release library, built first when it is missing or stale. */
export async function optionsTable(): Promise<OptionsTable> {
  await buildLibrary(HOST_TARGET, "release");
  const table = builtOptionsTable(HOST_TARGET, "release");
  if (table === null) throw new Error(`${libraryFiles(HOST_TARGET, "release").so} was not built`);
  return table;
}

/** A help paragraph naming the modes of the built library. */
export function modesHelp(): string {
  let table: OptionsTable | null;
  try {
    table = builtOptionsTable();
  } catch (e) {
    // help still prints; it says why the modes are not listed
    return `\nHAKMEM_MODE values: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (table === null) {
    return "\nHAKMEM_MODE values: build the library (deno task build) to list them.";
  }
  return `\nHAKMEM_MODE values (hak_options_table_json): ${table.modes.join(", ")}; ` +
    `unset: ${table.default_mode}.`;
}

/** The option named `name` (its environment variable), or undefined. */
export function optionDef(table: OptionsTable, name: string): OptionDef | undefined {
  return table.options.find((o) => o.name === name);
}

/** What option `name` is set to by `env` (its text), else by the mode `env` selects (an
 * enumeration's default as its choice's name); null for an option the table lacks. */
export function effectiveOption(
  table: OptionsTable,
  env: Readonly<Record<string, string>>,
  name: string,
): string | null {
  if (env[name] !== undefined) return env[name];
  const def = optionDef(table, name);
  if (!def) return null;
  const v = def.defaults[env.HAKMEM_MODE ?? table.default_mode];
  if (v === undefined) return null;
  return def.type === "enum" && typeof v === "number" ? def.choices[v] ?? String(v) : String(v);
}

/** Whether a program run with `env` learns: ACE runs (HAKMEM_ACE_ENABLED) or ELO learns the
 * large-block threshold (HAKMEM_ELO=learn), as set by `env` or by the mode it selects. */
export function learns(table: OptionsTable, env: Readonly<Record<string, string>>): boolean {
  return effectiveOption(table, env, "HAKMEM_ACE_ENABLED") === "1" ||
    effectiveOption(table, env, "HAKMEM_ELO") === "learn";
}

/** The modes that learn (learns() of their defaults), in the table's order. */
export function learningModes(table: OptionsTable): string[] {
  return table.modes.filter((m) => learns(table, { HAKMEM_MODE: m }));
}

/** Why `value` is not acceptable for `def`, or null when it is (an enumeration takes a choice's
 * name, a boolean 0 or 1, an integer one in the option's range). */
export function optionValueProblem(def: OptionDef, value: string): string | null {
  if (def.type === "string") return null;
  if (def.type === "enum") {
    if (def.choices.includes(value)) return null;
    return `not one of ${def.choices.join(", ")}`;
  }
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < def.min || n > def.max) {
    return `not an integer in ${def.min}..${def.max}`;
  }
  return null;
}

/** Problems with the variables of `env` against the table: unknown options, bad values. */
export function envProblems(table: OptionsTable, env: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const def = optionDef(table, name);
    const why = def ? optionValueProblem(def, value) : "not an option of this library";
    if (why) out.push(`${name}=${value}: ${why}`);
  }
  return out;
}
