/** The binding (bindings/hakmem.ts) against the header and the library: every prototype of
 * hakmem.h has an entry whose FFI types follow from the C types, under a comment that spells the
 * prototype; hak_ace_metrics_t's fields are the encoder's; the library exports exactly the
 * table's hak_* symbols and the standard ones, needing no glibc newer than the floor. */
import assert from "node:assert/strict";
import { compareVersions, exportedSymbols, requiredGlibcVersions } from "../../tasks/build/elf.ts";
import {
  ACE_METRICS_FIELDS,
  ACE_METRICS_PER_CLASS,
  ACE_REUSE_BUCKETS,
  HAKMEM_SYMBOL_NAMES,
  HAKMEM_SYMBOLS,
  STD_SYMBOL_NAMES,
} from "../../bindings/hakmem.ts";
import { FLAVOURS, libraryPath, notBuilt } from "./helpers.ts";

const GLIBC_FLOOR = "2.17";
const HEADER = new URL("../../core/include/hakmem.h", import.meta.url);
const BINDING = new URL("../../bindings/hakmem.ts", import.meta.url);

interface Prototype {
  result: string;
  params: string[];
}

const squash = (s: string) => s.replace(/\s+/g, " ").replace(/\s*\*\s*/g, " *").trim();

/** name -> C result type and parameter declarations, from `HAK_API ret name(params);`. */
function prototypes(header: string): Map<string, Prototype> {
  const out = new Map<string, Prototype>();
  for (const m of header.matchAll(/\bHAK_API\s+([^;(]*?)\b(hak_\w+)\s*\(([^)]*)\)\s*;/g)) {
    const params = m[3].trim() === "void" ? [] : m[3].split(",").map(squash);
    out.set(m[2], { result: squash(m[1]), params });
  }
  return out;
}

/** name -> the C prototype in the comment above the binding's entry, parsed like the header's. */
function bindingPrototypes(source: string): Map<string, Prototype> {
  const text = [...source.matchAll(/^\s*\/\/ (.*\bhak_\w+\(.*\))\n\s*hak_\w+:/gm)]
    .map((m) => `HAK_API ${m[1]};`).join("\n");
  return prototypes(text);
}

/** The FFI type of a C declaration (a parameter with its name, or a result type). */
function ffiType(decl: string): string {
  if (decl.includes("*") || decl.includes("[")) return "pointer";
  const type = decl.replace(/\s+\w+$/, "").replace(/^const /, "");
  const map: Record<string, string> = {
    "void": "void",
    "size_t": "usize",
    "int": "i32",
    "unsigned": "u32",
    "int64_t": "i64",
    "uint64_t": "u64",
    "double": "f64",
    "hak_class_knob_t": "u32",
  };
  const t = map[type] ?? map[decl];
  if (t === undefined) throw new Error(`no FFI type for C type "${decl}"`);
  return t;
}

Deno.test("symbols: the binding's table follows hakmem.h's prototypes, each written above its entry", async () => {
  const header = prototypes(await Deno.readTextFile(HEADER));
  assert.ok(header.size > 10, `parsed only ${header.size} functions from hakmem.h`);
  assert.deepEqual(
    [...HAKMEM_SYMBOL_NAMES],
    [...header.keys()],
    "the header's functions, in order",
  );
  const commented = bindingPrototypes(await Deno.readTextFile(BINDING));
  for (const [name, proto] of header) {
    const entry = HAKMEM_SYMBOLS[name as keyof typeof HAKMEM_SYMBOLS];
    assert.deepEqual(
      { params: [...entry.parameters], result: entry.result },
      { params: proto.params.map(ffiType), result: ffiType(proto.result) },
      `FFI types of ${name}`,
    );
    assert.deepEqual(commented.get(name), proto, `the C prototype above ${name}`);
  }
});

Deno.test("symbols: hak_ace_metrics_t has the encoder's fields, in order", async () => {
  const header = await Deno.readTextFile(HEADER);
  const body = /typedef struct hak_ace_metrics \{([^}]*)\} hak_ace_metrics_t;/.exec(header);
  assert.ok(body, "hak_ace_metrics_t not found in hakmem.h");
  const fields = [...body[1].matchAll(/^\s*double (\w+)(\[HAK_ACE_(\w+)\])?;/gm)];
  assert.deepEqual(fields.filter((f) => !f[2]).map((f) => f[1]), [...ACE_METRICS_FIELDS]);
  assert.deepEqual(
    fields.filter((f) => f[3] === "CLASSES").map((f) => f[1]),
    [...ACE_METRICS_PER_CLASS],
  );
  assert.deepEqual(fields.filter((f) => f[3] === "REUSE_BUCKETS").map((f) => f[1]), ["reuse_mb"]);
  const kinds = fields.map((f) => f[3] ?? "");
  assert.deepEqual(
    kinds,
    [...kinds].sort((a, b) =>
      (a === "" ? 0 : a === "CLASSES" ? 1 : 2) -
      (b === "" ? 0 : b === "CLASSES" ? 1 : 2)
    ),
    "scalars, then per-class arrays, then reuse_mb",
  );
  const buckets = /#define HAK_ACE_REUSE_BUCKETS (\d+)/.exec(header);
  assert.equal(Number(buckets?.[1]), ACE_REUSE_BUCKETS);
});

for (const flavour of FLAVOURS) {
  Deno.test({
    name: `symbols[${flavour}]: table == exported hak_* symbols, standard symbols exported`,
    ignore: notBuilt(flavour),
    async fn() {
      const exported = new Set(await exportedSymbols(libraryPath(flavour)));
      const missing = HAKMEM_SYMBOL_NAMES.filter((n) => !exported.has(n));
      assert.deepEqual(missing, [], "table entries the library does not export");
      const extra = [...exported].filter((n) =>
        n.startsWith("hak_") && !HAKMEM_SYMBOL_NAMES.includes(n)
      );
      assert.deepEqual(extra, [], "exported hak_* symbols missing from the FFI table/header");
      const std = STD_SYMBOL_NAMES.filter((n) => !exported.has(n));
      assert.deepEqual(std, [], "standard allocation symbols not exported");
    },
  });

  Deno.test({
    name: `symbols[${flavour}]: required glibc versions <= ${GLIBC_FLOOR}`,
    // a library built by the system's compiler (HAKMEM_TEST_DIST, tasks/build/cc.ts) is built
    // against this machine's glibc: no floor to keep
    ignore: notBuilt(flavour) || Deno.env.get("HAKMEM_TEST_DIST") !== undefined,
    async fn() {
      const versions = await requiredGlibcVersions(libraryPath(flavour));
      console.log(`${flavour}: needs ${versions.join(" ") || "(no versioned glibc symbols)"}`);
      for (const v of versions) {
        const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v);
        assert.ok(m, `non-numeric glibc version requirement ${v}`);
        assert.ok(
          compareVersions(m[1], GLIBC_FLOOR) <= 0,
          `requires ${v}, newer than GLIBC_${GLIBC_FLOOR}`,
        );
      }
    },
  });
}
