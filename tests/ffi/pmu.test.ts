/** The PMU reader: which source runs is chosen at run time in the x86_64 build (rdpmc when the
 * kernel lets user space read the counter, read(2) when only the fd works, "unavailable" when
 * perf_event_open is refused) and is "compiled-out" in the nopmu build. The expectation comes
 * from an independent perf_event_open probe made here through libc. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../tasks/lib/run.ts";
import { repoRoot } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/pmu_source.ts", import.meta.url).pathname;
const SYS_PERF_EVENT_OPEN = 298n; // x86_64
const PERF_FLAG_FD_CLOEXEC = 8n;

/** Opens the same event hakmem opens (hardware cache misses, user space only). */
function perfEventOpens(): boolean {
  const libc = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "buffer", "i64", "i64", "i64", "i64"], result: "i64" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const attr = new DataView(new ArrayBuffer(64)); // PERF_ATTR_SIZE_VER0
    attr.setUint32(0, 0, true); // PERF_TYPE_HARDWARE
    attr.setUint32(4, 64, true); // size
    attr.setBigUint64(8, 3n, true); // PERF_COUNT_HW_CACHE_MISSES
    attr.setBigUint64(40, (1n << 5n) | (1n << 6n), true); // exclude_kernel | exclude_hv
    const fd = libc.symbols.syscall(
      SYS_PERF_EVENT_OPEN,
      new Uint8Array(attr.buffer),
      0n,
      -1n,
      -1n,
      PERF_FLAG_FD_CLOEXEC,
    );
    if (fd < 0n) return false;
    libc.symbols.close(Number(fd));
    return true;
  } finally {
    libc.close();
  }
}

async function pmuOf(target: string, pmuEnv: string): Promise<{ pmu: string; llc: number }> {
  const lib = join(repoRoot(), "dist", target, "release", "libhakmem.so");
  if (!existsSync(lib)) throw new Error(`${lib} is not built: run deno task build`);
  const out = await run(Deno.execPath(), ["run", "-A", FIXTURE, lib], {
    scrub: true,
    env: { HAKMEM_PMU: pmuEnv },
  });
  assert.equal(out.code, 0, `fixture failed: ${out.stderr}`);
  const stats = JSON.parse(out.stdout.trim().split("\n").pop()!);
  return { pmu: stats.pmu, llc: stats.llc_misses };
}

Deno.test("pmu: x86_64 build picks its source at run time", async () => {
  const opens = perfEventOpens();
  const { pmu, llc } = await pmuOf("x86_64-linux-gnu", "on");
  console.log(`perf_event_open here: ${opens ? "allowed" : "refused"}; hakmem chose: ${pmu}`);
  if (opens) {
    assert.ok(pmu === "rdpmc" || pmu === "read", `PMU readable but hakmem chose ${pmu}`);
  } else {
    assert.equal(pmu, "unavailable", "perf_event_open is refused here: the fallback must run");
    assert.equal(llc, 0);
  }
});

Deno.test("pmu: off unless requested", async () => {
  assert.equal((await pmuOf("x86_64-linux-gnu", "off")).pmu, "off");
});

Deno.test("pmu: the nopmu build has the reader compiled out", async () => {
  assert.equal((await pmuOf("x86_64-linux-gnu-nopmu", "on")).pmu, "compiled-out");
});
