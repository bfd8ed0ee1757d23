/** The FFI symbol table against what libhakmem.so really exports. */
import assert from "node:assert/strict";
import { compareVersions, exportedSymbols, requiredGlibcVersions } from "../../tasks/elf.ts";
import {
  FLAVOURS,
  HAKMEM_SYMBOL_NAMES,
  libraryPath,
  notBuilt,
  STD_SYMBOL_NAMES,
} from "./hakmem_ffi.ts";

const GLIBC_FLOOR = "2.17";

/** hak_* names declared in the public header (a cross-check of the table). */
async function headerFunctions(): Promise<string[]> {
  const header = new URL("../../core/include/hakmem.h", import.meta.url);
  const text = await Deno.readTextFile(header);
  const names = [...text.matchAll(/\bHAK_API\s+[^;(]*?\b(hak_\w+)\s*\(/g)].map((m) => m[1]);
  return [...new Set(names)].sort();
}

Deno.test("symbols: the FFI table mirrors every function of hakmem.h", async () => {
  const declared = await headerFunctions();
  assert.ok(declared.length > 10, `parsed only ${declared.length} functions from hakmem.h`);
  assert.deepEqual([...HAKMEM_SYMBOL_NAMES].sort(), declared);
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
    ignore: notBuilt(flavour),
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
