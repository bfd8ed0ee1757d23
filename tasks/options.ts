// The options table of a built library (hak_options_table_json), for the workbench: read through
// the binding (bindings/hakmem.ts) in a child process, so the workbench itself never loads an
// allocator. Tools list modes and options from here instead of re-typing them.

import { fileURLToPath } from "node:url";
import type { OptionsTable } from "../bindings/hakmem.ts";
import { libraryFiles } from "./build.ts";
import type { Flavour, TargetName } from "./targets.ts";

const BINDING = fileURLToPath(new URL("../bindings/hakmem.ts", import.meta.url));

/** The table of dist/<target>/<flavour>/libhakmem.so (a host target), or null when it is not
 * built or cannot be read. */
export function builtOptionsTable(
  target: TargetName = "x86_64-linux-gnu",
  flavour: Flavour = "release",
): OptionsTable | null {
  const so = libraryFiles(target, flavour).so;
  try {
    Deno.statSync(so);
  } catch {
    return null;
  }
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", BINDING, "options", so],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) return null;
  return JSON.parse(new TextDecoder().decode(out.stdout)) as OptionsTable;
}

/** A help paragraph naming the modes of the built library. */
export function modesHelp(): string {
  const table = builtOptionsTable();
  if (table === null) {
    return "\nHAKMEM_MODE values: build the library (deno task build) to list them.";
  }
  return `\nHAKMEM_MODE values (hak_options_table_json): ${table.modes.join(", ")}; ` +
    `unset: ${table.default_mode}.`;
}
