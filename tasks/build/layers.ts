// The core's layers, lowest first. A file in core/src/<layer>/ includes (and calls) only its own
// layer and the layers before it here; what must flow upward goes through hooks registered at
// start-up (README "Design": the layer map). tests/core/layers.test.ts checks every #include, and
// the build compiles exactly these folders, so a new folder must take its place in this list.

import { basename, dirname, join, relative } from "node:path";
import { ROOT } from "../lib/targets.ts";

export const CORE_LAYERS = [
  "os",
  "pagemap",
  "segment",
  "heap",
  "large",
  "api",
  "learn",
  "init",
] as const;
export type CoreLayer = typeof CORE_LAYERS[number];

export const CORE_SRC = join(ROOT, "core", "src");
export const CORE_INCLUDE = join(ROOT, "core", "include");

async function filesIn(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && keep(e.name)) out.push(join(dir, e.name));
  }
  return out.sort();
}

/** Every file of the core (core/src/<layer>/*) that `keep` accepts, layer by layer, lowest first.
 * Throws when core/src holds anything but the layer folders. */
export async function coreFiles(keep: (name: string) => boolean): Promise<string[]> {
  for await (const e of Deno.readDir(CORE_SRC)) {
    if (!e.isDirectory || !(CORE_LAYERS as readonly string[]).includes(e.name)) {
      throw new Error(
        `core/src/${e.name}: not a layer folder (layers, lowest first: ${
          CORE_LAYERS.join(", ")
        }; ` +
          "tasks/build/layers.ts lists them)",
      );
    }
  }
  const out: string[] = [];
  for (const layer of CORE_LAYERS) out.push(...(await filesIn(join(CORE_SRC, layer), keep)));
  return out;
}

/** The C sources of the library, lowest layer first. */
export function coreSources(): Promise<string[]> {
  return coreFiles((n) => n.endsWith(".c"));
}

/** Layer of a file under core/src, or null for a file elsewhere. */
export function layerOf(path: string): CoreLayer | null {
  const rel = relative(CORE_SRC, path);
  if (rel.startsWith("..") || !rel.includes("/")) return null;
  const layer = rel.split("/")[0];
  return (CORE_LAYERS as readonly string[]).includes(layer) ? layer as CoreLayer : null;
}

/** The header each layer offers the layers above it; the top (init) offers none. */
export function layerHeader(layer: CoreLayer): string | null {
  return layer === "init" ? null : `${layer}/${layer}.h`;
}

export interface IncludeProblem {
  file: string;
  line: number;
  include: string;
  why: string;
}

/**
 * The #include "…" lines of core files that break the layering: an include of a higher layer, of a
 * file that does not exist, or of something outside core/src and core/include; and a .c file that
 * does not include a header of its own layer (the top, init, has none). `files` maps paths relative to core/src to their
 * text; `exists` says whether a path relative to core/src (or "../include/…") is there.
 */
export function layerProblems(
  files: ReadonlyMap<string, string>,
  exists: (rel: string) => boolean,
): IncludeProblem[] {
  const rank = (l: string) => (CORE_LAYERS as readonly string[]).indexOf(l);
  const problems: IncludeProblem[] = [];
  for (const [file, text] of files) {
    const layer = file.split("/")[0];
    if (rank(layer) < 0) {
      problems.push({ file, line: 0, include: "", why: `${layer}/ is not a layer` });
      continue;
    }
    let ownHeader = false;
    text.split("\n").forEach((line, i) => {
      const m = /^\s*#\s*include\s+"([^"]+)"/.exec(line);
      if (!m) return;
      const inc = m[1];
      const here = join(dirname(file), inc);
      const target = exists(here)
        ? here
        : exists(inc)
        ? inc
        : exists(`../include/${inc}`)
        ? `../include/${inc}`
        : null;
      const at = { file, line: i + 1, include: inc };
      if (target === null) {
        problems.push({ ...at, why: "not found in its folder, core/src or core/include" });
        return;
      }
      if (target.startsWith("../include/")) return; // the public header: anyone may include it
      const to = target.split("/")[0];
      if (rank(to) < 0) problems.push({ ...at, why: `${to}/ is not a layer` });
      else if (rank(to) > rank(layer)) {
        problems.push({ ...at, why: `${layer} may not include ${to}, a higher layer` });
      }
      if (to === layer && target.endsWith(".h")) ownHeader = true;
    });
    if (file.endsWith(".c") && !ownHeader && layerHeader(layer as CoreLayer) !== null) {
      problems.push({ file, line: 0, include: "", why: `includes no header of its layer` });
    }
  }
  return problems;
}

/** Object file name of a core source, unique across layers: "heap/cache.c" -> "heap-cache.o". */
export function objectName(src: string): string {
  return `${basename(dirname(src))}-${basename(src).replace(/\.c$/, ".o")}`;
}
