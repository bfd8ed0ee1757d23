// hakmem as packagers build it, for `deno task bench --instructions`: the release library built by
// the system's gcc and by clang (tasks/build/cc.ts, with CPPFLAGS, CFLAGS and LDFLAGS of the
// environment), counted next to the zig build (hakmem-<mode>) so a compiler's cost on the fast
// paths shows. They take part in the callgrind counts only, not in the timed rounds.

import { buildWithCc, envFlags } from "../build/cc.ts";
import type { Allocator } from "./runner.ts";
import { which } from "../lib/toolchain.ts";

/** Allocator name → the compilers tried for it, first found wins. */
export const BENCH_COMPILERS: readonly { name: string; cc: readonly string[] }[] = [
  { name: "hakmem-gcc", cc: ["gcc"] },
  { name: "hakmem-clang", cc: ["clang", "clang-19"] },
];

/** The per-compiler allocators, each under `mode`; one whose compiler is missing or whose build
 * fails is unavailable with the reason. */
export async function compilerAllocators(
  mode: string,
  commit: string | null,
): Promise<Allocator[]> {
  const env = envFlags();
  const out: Allocator[] = [];
  for (const c of BENCH_COMPILERS) {
    const base: Allocator = {
      name: c.name,
      kind: "hakmem",
      lib: null,
      available: false,
      note: null,
      env: { HAKMEM_MODE: mode },
      version: commit ? commit.slice(0, 12) : null,
      source: null,
      build: null,
    };
    let cc: string | null = null;
    for (const name of c.cc) if (cc === null && await which(name)) cc = name;
    if (cc === null) {
      out.push({ ...base, note: `no ${c.cc.join(" or ")} on PATH` });
      continue;
    }
    try {
      const b = await buildWithCc({ cc, flavours: ["release"], env });
      const flags = [...env.cppflags, ...env.cflags, ...env.ldflags].join(" ");
      out.push({
        ...base,
        lib: b.so.release,
        available: true,
        note: `HAKMEM_MODE=${mode}; built by ${b.compiler.version}`,
        source: `this repository${commit ? ` at ${commit}` : ""}, ${b.compiler.target} release`,
        build: `${cc} (deno task build --cc ${cc})${flags ? `, environment flags: ${flags}` : ""}`,
      });
    } catch (e) {
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      out.push({ ...base, note: `the ${cc} build failed: ${why}` });
    }
  }
  return out;
}
