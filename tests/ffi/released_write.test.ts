/** A write into a freed block whose page decay gave back is caught when the slab is carved again:
 * a released page reads as zeros until something writes it (core/src/heap/decay.c, recarve). The
 * first block linked on each page is linked before it is checked (reading the page first cost a
 * second page fault), so the write goes to another block's link, and to a block's contents. Each
 * case in its own subprocess. */
import assert from "node:assert/strict";
import { run } from "../../tasks/lib/run.ts";
import { type Flavour, FLAVOURS, hardened, lazyHakmem, notBuilt, repoRoot } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/released_write.ts", import.meta.url).pathname;
const BLOCK = 64n;

function runCase(flavour: Flavour, which: string) {
  return run(Deno.execPath(), ["run", "-A", "--quiet", FIXTURE, flavour, which], {
    scrub: true,
    env: { HAKMEM_ROOT: repoRoot() },
  });
}

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `released_write[${flavour}] a write into a released page stops the process`,
    ignore: notBuilt(flavour),
    async fn() {
      // hardened builds hold freed blocks in a quarantine, filled: decay gives no page of them
      if (hardened(hak())) return;
      for (const which of ["link", "body", "top-body"]) {
        const r = await runCase(flavour, which);
        const m = /ptr=0x([0-9a-f]+) released=(\d+)/.exec(r.stdout);
        assert.ok(m, `${which}: the fixture did not reach the write:\n${r.stderr}`);
        assert.ok(Number(m[2]) > 0, `${which}: trim gave no page back`);
        const line = r.stderr.split("\n").find((l) => l.startsWith("hakmem: "));
        assert.equal(r.signal, "SIGABRT", `${which}: ${r.stdout} ${r.stderr}`);
        assert.ok(line?.includes("page hakmem released"), `${which}: ${r.stderr}`);
        const named = /pointer 0x([0-9a-f]+)/.exec(line ?? "");
        assert.ok(named, `${which}: no pointer named: ${line}`);
        const block = BigInt("0x" + m[1]), at = BigInt("0x" + named[1]);
        assert.ok(at >= block && at < block + BLOCK, `${which}: ${line} is not in 0x${m[1]}`);
      }
    },
  });
}
