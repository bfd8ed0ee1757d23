/** A freed span (a block past the mid tier, up to 1 MiB) stays with its heap, resident, for the
 * next span of its size, and goes back to the OS once it sat idle for the decay delay
 * (core/src/heap/span.c). Its free reads no clock: the heap's next decay pass dates it. An
 * undated span taken for an old one would go at that pass, well within the delay. Judged by the
 * bytes given back (MADV_DONTNEED, counted); the waits only let the delay pass.
 *
 * The library is a private copy, so the counts are this module's alone. */
import assert from "node:assert/strict";
import { FLAVOURS, hardened, lazyHakmem, memset, notBuilt } from "./helpers.ts";

const KiB = 1024;
/** The span freed and watched. */
const SPAN = 256 * KiB;
/** Spans of another size, allocated and freed: slow paths that look at the heap's clock (every
 * 16th) without taking the watched span. */
const CHURN = 512 * KiB;
const CHURN_PAIRS = 64;
/** The decay delay; a heap's passes come every half of it while it has slow paths. The waits
 * below leave 0.4 of it as a margin for a loaded machine. */
const DELAY_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const flavour of FLAVOURS) {
  const hak = lazyHakmem(flavour);
  Deno.test({
    name: `kept_spans[${flavour}] a freed span stays for the decay delay, then goes back`,
    ignore: notBuilt(flavour),
    async fn() {
      const h = hak();
      if (hardened(h)) return; // every span has a guarded mapping of its own
      const delay = h.optionGet("HAKMEM_DECAY_MS").value;
      const batch = h.optionGet("HAKMEM_MADVISE_BATCH").value;
      assert.equal(h.optionSet("HAKMEM_MADVISE_BATCH", 1).rc, 0); // advise at once: counted
      assert.equal(h.optionSet("HAKMEM_DECAY_MS", DELAY_MS).rc, 0);
      const churn = () => {
        for (let i = 0; i < CHURN_PAIRS; i++) {
          const q = h.malloc(CHURN);
          assert.ok(q !== null);
          h.free(q);
        }
      };
      const given = () => h.stats().counters.madvised_bytes;
      try {
        h.sym.hak_trim(); // nothing idle left resident: what goes below is the spans'
        const p = h.malloc(SPAN);
        assert.ok(p !== null);
        memset(p, 0x5a, SPAN); // resident
        h.free(p);
        const g0 = given();
        // a pass comes within 0.6 of the delay (its period is half of it) and dates the span
        churn();
        await sleep(DELAY_MS * 0.6);
        churn();
        assert.equal(given() - g0, 0, "a span freed less than a delay ago stays resident");
        // passes 0.7 of the delay apart: by 2 delays after its free the span went back
        await sleep(DELAY_MS * 0.7);
        churn();
        await sleep(DELAY_MS * 0.7);
        churn();
        const back = given() - g0;
        assert.ok(back >= SPAN, `${back} bytes given back, the span's ${SPAN} among them`);
      } finally {
        h.optionSet("HAKMEM_DECAY_MS", delay);
        h.optionSet("HAKMEM_MADVISE_BATCH", batch);
      }
    },
  });
}
