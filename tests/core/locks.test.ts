/** The core's locks are taken and released in one construct (core/src/os/os.h): a HAK_LOCKED
 * block releases its lock when the block ends, so no block may leave by return or
 * goto (that would keep the lock), and a lock is taken by name only where it is handed over: the
 * fork handlers' functions that do nothing else. The checker is tested on made-up code, so a
 * source that breaks a rule is seen to fail. */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { CORE_SRC, coreFiles } from "../../tasks/build/layers.ts";

/** The source with comments, strings and character literals blanked (same length and lines). */
function codeOnly(src: string): string {
  return src.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g,
    (m) => m.replace(/[^\n]/g, " "),
  );
}

/** Index just past the brace that closes the one opened at `open`. */
function closing(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === "{") depth++;
    else if (code[i] === "}" && --depth === 0) return i + 1;
  }
  return code.length;
}

const lineOf = (code: string, at: number) => code.slice(0, at).split("\n").length;

/** Each function body at file level: [start, end) including its braces. */
function functionBodies(code: string): [number, number][] {
  const bodies: [number, number][] = [];
  for (let i = 0; i < code.length; i++) {
    if (code[i] !== "{") continue;
    const end = closing(code, i);
    if (/\)\s*$/.test(code.slice(Math.max(0, i - 200), i))) bodies.push([i, end]);
    i = end - 1;
  }
  return bodies;
}

/** What breaks the rules in one file's source, as "file:line what". */
export function lockProblems(file: string, src: string): string[] {
  const code = codeOnly(src);
  const problems: string[] = [];
  for (const m of code.matchAll(/\bHAK_LOCKED\s*\(/g)) {
    const open = code.indexOf("{", m.index);
    const block = code.slice(open, closing(code, open));
    for (const j of block.matchAll(/\b(return|goto)\b/g)) {
      problems.push(`${file}:${lineOf(code, open + j.index)} ${j[1]} inside a locked block`);
    }
  }
  const bodies = functionBodies(code);
  for (const m of code.matchAll(/\bhak_(?:spin_)?lock\s*\(/g)) {
    const body = bodies.find(([s, e]) => s < m.index && m.index < e);
    const text = body ? code.slice(body[0] + 1, body[1] - 1).trim() : "";
    if (!/^hak_(?:spin_)?lock\s*\([^;]*\);$/.test(text)) {
      problems.push(`${file}:${lineOf(code, m.index)} a lock taken outside HAK_LOCKED`);
    }
  }
  return problems;
}

Deno.test("locks: no locked block returns, and locks are taken by name only to be handed over", async () => {
  const problems: string[] = [];
  let blocks = 0;
  for (const f of await coreFiles((name) => name.endsWith(".c"))) {
    const src = await Deno.readTextFile(f);
    blocks += [...src.matchAll(/\bHAK_LOCKED\s*\(/g)].length;
    problems.push(...lockProblems(relative(CORE_SRC, f), src));
  }
  assert.deepEqual(problems, []);
  assert.ok(blocks > 40, `only ${blocks} locked blocks found`);
});

Deno.test("locks: the checker catches a return out of a block and a lock taken by hand", () => {
  const src = [
    "static int f(void) {",
    "    HAK_LOCKED(&m) {",
    '        if (x) return 1; /* "return" in a comment or string is fine */',
    "        while (y) { break; }",
    "    }",
    "    hak_lock(&m);",
    "    g++;",
    "    hak_unlock(&m);",
    "    return 0;",
    "}",
    "void handover_lock(void) { hak_lock(&m); }",
    "void spin(void) { HAK_LOCKED(&l) { goto out; } out:; }",
  ].join("\n");
  assert.deepEqual(lockProblems("x.c", src), [
    "x.c:3 return inside a locked block",
    "x.c:12 goto inside a locked block",
    "x.c:6 a lock taken outside HAK_LOCKED",
  ]);
});
