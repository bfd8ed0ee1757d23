/** The core's layering (tasks/build/layers.ts, README "Design"): a file includes only its own layer
 * and the layers below; every layer but the top offers its own header; every .c file includes a
 * header of its layer; and no built object uses a function or variable of a higher layer (what
 * flows upward goes through hooks). The include checker itself is tested on a made-up tree, so
 * that a tree that breaks the rule is seen to fail. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { objectSymbols } from "../../tasks/build/elf.ts";
import {
  CORE_LAYERS,
  CORE_SRC,
  coreFiles,
  coreSources,
  layerHeader,
  layerProblems,
  objectName,
} from "../../tasks/build/layers.ts";
import { buildDir } from "../../tasks/lib/targets.ts";

const OBJ_DIR = join(buildDir("x86_64-linux-gnu", "release"), "obj");

/** `ignore` for a test of built objects: not built, except under CI=true (then it fails). */
function notBuilt(dir: string): boolean {
  if (existsSync(dir) || Deno.env.get("CI") === "true") return false;
  console.warn(`note: ${dir} not built; the object check is skipped`);
  return true;
}

function show(p: { file: string; line: number; include: string; why: string }): string {
  return `core/src/${p.file}:${p.line} #include "${p.include}": ${p.why}`;
}

Deno.test("layers: no core file includes a higher layer", async () => {
  const files = new Map<string, string>();
  for (const f of await coreFiles(() => true)) {
    files.set(relative(CORE_SRC, f), await Deno.readTextFile(f));
  }
  assert.ok(files.size > 20, `only ${files.size} core files found`);
  const problems = layerProblems(files, (rel) => existsSync(join(CORE_SRC, rel)));
  assert.deepEqual(problems.map(show), []);
});

Deno.test("layers: each layer but the top has its own header, and every folder has code", () => {
  for (const layer of CORE_LAYERS) {
    const header = layerHeader(layer);
    if (header !== null) assert.ok(existsSync(join(CORE_SRC, header)), `core/src/${header}`);
    const code = [...Deno.readDirSync(join(CORE_SRC, layer))].filter((e) => e.name.endsWith(".c"));
    assert.ok(code.length > 0, `core/src/${layer}/ has no .c file`);
  }
});

Deno.test("layers: the checker catches upward, unknown and missing includes", () => {
  const tree = new Map([
    ["heap/heap.h", '#include "segment/segment.h"\n'],
    ["heap/cache.c", '#include "heap.h"\n#include "large/large.h"\n'],
    ["segment/segment.h", '#include "hakmem.h"\n'],
    ["segment/seg.c", '#include "segment.h"\n#include "nowhere.h"\n'],
    ["large/large.h", '#include "heap/heap.h"\n'],
    ["large/large.c", '#include "api/api.h"\n'],
    ["api/api.h", '#include "large/large.h"\n'],
  ]);
  const present = new Set([...tree.keys(), "../include/hakmem.h"]);
  const problems = layerProblems(tree, (rel) => present.has(rel)).map(show);
  assert.deepEqual(problems, [
    'core/src/heap/cache.c:2 #include "large/large.h": heap may not include large, a higher layer',
    'core/src/segment/seg.c:2 #include "nowhere.h": not found in its folder, core/src or ' +
    "core/include",
    'core/src/large/large.c:1 #include "api/api.h": large may not include api, a higher layer',
    'core/src/large/large.c:0 #include "": includes no header of its layer',
  ]);
});

/** The one call that goes up: os/start.c runs the top's _hak_start once, as a C runtime calls
 * main (README "Design"). */
const UPWARD_CALLS = new Map([["os-start.o", ["_hak_start"]]]);

type Symbols = { defined: string[]; needed: string[] };

/** The built objects' symbols, and the object that defines each symbol. */
async function builtSymbols(): Promise<
  { objects: Map<string, Symbols>; definedIn: Map<string, string> }
> {
  const objects = new Map<string, Symbols>();
  for (const src of await coreSources()) {
    objects.set(objectName(src), await objectSymbols(join(OBJ_DIR, objectName(src))));
  }
  const definedIn = new Map<string, string>();
  for (const [o, s] of objects) for (const name of s.defined) definedIn.set(name, o);
  return { objects, definedIn };
}

const layerOfObject = (o: string) => o.split("-")[0];

Deno.test({
  name: "layers: no object calls a function of a higher layer (the built x86_64 release objects)",
  ignore: notBuilt(OBJ_DIR),
  async fn() {
    const { objects, definedIn } = await builtSymbols();
    const rank = (l: string) => (CORE_LAYERS as readonly string[]).indexOf(l);
    const problems: string[] = [];
    for (const [o, s] of objects) {
      for (const name of s.needed) {
        const from = definedIn.get(name);
        if (from === undefined || rank(layerOfObject(from)) <= rank(layerOfObject(o))) continue;
        if (UPWARD_CALLS.get(o)?.includes(name)) continue;
        problems.push(`${o} uses ${name} of ${from}, a higher layer`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(definedIn.get("_hak_start")?.startsWith("init-"), "_hak_start is the top's");
  },
});

/** The tiers learning may not touch but through the API layer's table `_hak_tiers` (api/api.h). */
const TIERS = ["pagemap", "segment", "heap", "large"];

Deno.test({
  name: "layers: learn/ uses nothing of a tier but through the tiers' table",
  ignore: notBuilt(OBJ_DIR),
  async fn() {
    const { objects, definedIn } = await builtSymbols();
    const problems: string[] = [];
    for (const [o, s] of objects) {
      if (layerOfObject(o) !== "learn") continue;
      for (const name of s.needed) {
        const from = definedIn.get(name);
        if (from !== undefined && TIERS.includes(layerOfObject(from))) {
          problems.push(`${o} uses ${name} of ${from}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok([...objects.keys()].some((o) => layerOfObject(o) === "learn"), "no learn/ object");
  },
});
