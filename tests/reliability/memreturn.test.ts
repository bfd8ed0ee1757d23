// Memory goes back: tests/reliability/memreturn.c has four threads allocate ~200 MiB of mixed
// blocks (every tier, every page written), free everything (half from another thread) and exit;
// then it samples RSS after the frees, after one more small allocation, and after hak_trim().
// The test asserts that RSS after hak_trim() is back within 8 MiB of the start and prints every
// figure (the ones before the trim show what the heap keeps by itself).

import { buildReliabilityProgram, commandOf, hostTarget } from "../../tasks/test/soak.ts";
import type { Flavour } from "../../tasks/lib/targets.ts";
import { describeRun, run } from "../native/proc.ts";

const SLACK_MIB = 8;

interface Figures {
  start_kib: number;
  peak_kib: number;
  after_free_kib: number;
  after_activity_kib: number;
  after_trim_kib: number;
  content_ok: boolean;
  ok: boolean;
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

for (const flavour of ["release", "debug"] as readonly Flavour[]) {
  Deno.test(`memory goes back ${flavour}: RSS after free + hak_trim() within ${SLACK_MIB} MiB of the start`, async () => {
    const target = hostTarget();
    const exe = await buildReliabilityProgram("memreturn", target, flavour);
    const r = await run([...commandOf(target, exe), String(SLACK_MIB)], {
      scrub: true,
      timeoutMs: 120_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (r.timedOut || r.signal !== null || !line) {
      throw new Error(`memreturn (${flavour}) did not finish\n${describeRun(r)}`);
    }
    const f = JSON.parse(line) as Figures;
    console.log(
      `memreturn ${flavour}: start ${mib(f.start_kib)}, peak ${mib(f.peak_kib)}, after free ` +
        `${mib(f.after_free_kib)}, after one more allocation ${mib(f.after_activity_kib)}, ` +
        `after hak_trim() ${mib(f.after_trim_kib)}\n${line}`,
    );
    if (!f.content_ok) throw new Error(`memreturn (${flavour}): block contents were damaged`);
    if (!f.ok || r.code !== 0) {
      throw new Error(
        `memreturn (${flavour}): RSS after hak_trim() is ${mib(f.after_trim_kib)}, more than ` +
          `${SLACK_MIB} MiB above the start (${mib(f.start_kib)})\n${describeRun(r)}`,
      );
    }
  });
}
