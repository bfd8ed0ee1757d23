/** The README's table of environment variables (section "Modes and environment variables")
 * against the library's own options table (hak_options_table_json): every option has a row and
 * no row names an option the library does not have; the "accepted" column is what the parser
 * takes under the one rule (booleans `0` `1`, integers min–max, enumerations their names, paths
 * of 1 to 511 bytes); the default column starts with the balanced default. The parser itself is
 * held to the same rule by options.test.ts ("bad values"). */
import assert from "node:assert/strict";
import { lazyHakmem, notBuilt, type OptionsTable } from "./helpers.ts";

const README = new URL("../../README.md", import.meta.url);

interface Row {
  def: string;
  accepted: string;
}

/** `| \`HAKMEM_X\` | default | accepted | what |` rows, by variable. */
function readmeRows(text: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of text.split("\n")) {
    const m = /^\| `(HAKMEM_[A-Z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|/.exec(line);
    if (m) rows.set(m[1], { def: m[2].trim(), accepted: m[3].trim() });
  }
  return rows;
}

/** How the README writes a bound: 10^k for large powers of ten, else the digits. */
function bound(n: number): string {
  const k = Math.log10(n);
  return n >= 1e9 && Number.isInteger(k) ? `10^${k}` : String(n);
}

type Option = OptionsTable["options"][number];

function acceptedText(o: Option): string {
  switch (o.type) {
    case "bool":
      return "`0` `1`";
    case "enum":
      return `\`${o.choices.join(" ")}\``;
    case "string":
      return "path, 1–511 bytes";
    default:
      return `${bound(o.min)}–${bound(o.max)}`;
  }
}

function defaultText(o: Option, mode: string): string {
  const d = o.defaults[mode];
  if (o.type === "string") return "—";
  if (o.type === "enum") return `\`${o.choices[Number(d)]}\``;
  return String(d);
}

const hak = lazyHakmem("release");

Deno.test({
  name: "options: the README's table lists every option with what the library accepts",
  ignore: notBuilt("release"),
  async fn() {
    const table = hak().optionsTable();
    const rows = readmeRows(await Deno.readTextFile(README));
    assert.deepEqual(
      [...rows.keys()].sort(),
      table.options.map((o) => o.name).sort(),
      "the README's rows are the library's options",
    );
    for (const o of table.options) {
      const row = rows.get(o.name)!;
      assert.equal(row.accepted, acceptedText(o), `${o.name}: accepted`);
      const def = defaultText(o, table.default_mode);
      assert.ok(
        row.def === def || row.def.startsWith(`${def} (`),
        `${o.name}: the default in ${table.default_mode} is ${def}, the README says ${row.def}`,
      );
    }
  },
});
