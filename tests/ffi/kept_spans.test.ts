/** A freed span (a block past the mid tier, up to 1 MiB) stays with its heap, resident, for the
 * next span of its size, and goes back to the OS once it sat idle for the decay delay
 * (core/src/heap/span.c). Its free reads no clock: the heap's next decay pass dates it. An
 * undated span taken for an old one would go at that pass, well within the delay.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { expectGivenBackInTime } from "./decay_watch.ts";
import { FLAVOURS, hardened, lazyHakmem, memset, notBuilt } from "./helpers.ts";

const KiB = 1024;
/** The span freed and watched (not the size decay_watch churns). */
const SPAN = 256 * KiB;

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `kept_spans[${flavour}] a freed span stays for the decay delay, then goes back`,
    ignore: notBuilt(flavour),
    async fn() {
      const h = hak();
      if (hardened(h)) return; // every span has a guarded mapping of its own
      await expectGivenBackInTime(h, "a span", SPAN, () => {
        const p = h.malloc(SPAN);
        assert.ok(p !== null);
        memset(p, 0x5a, SPAN); // resident
        h.free(p);
      });
    },
  });
}
