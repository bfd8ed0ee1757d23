// The core's layers, lowest first. A file in core/src/<layer>/ includes (and calls) only its own
// layer and the layers before it here; what must flow upward goes through hooks registered at
// start-up (README "Design": the layer map). tests/core/layers.test.ts checks every #include, and
// the build compiles exactly these folders, so a new folder must take its place in this list.

import { basename, dirname, join, relative } from "node:path";
import { ROOT } from "./targets.ts";

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
 * Throws when core/src holds a folder that is not a layer. */
export async function coreFiles(keep: (name: string) => boolean): Promise<string[]> {
  for await (const e of Deno.readDir(CORE_SRC)) {
    if (e.isDirectory && !(CORE_LAYERS as readonly string[]).includes(e.name)) {
      throw new Error(
        `core/src/${e.name}: not a layer folder (layers, lowest first: ${
          CORE_LAYERS.join(", ")
        }; ` +
          "tasks/layers.ts lists them)",
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

/** Object file name of a core source, unique across layers: "heap/cache.c" -> "heap-cache.o". */
export function objectName(src: string): string {
  return `${basename(dirname(src))}-${basename(src).replace(/\.c$/, ".o")}`;
}
