/** Options: environment parsing (each combination in its own subprocess, as
 * options are read once at library start), the runtime setters, and the
 * exported options table (hak_options_table_json) against both: the modes
 * and choices come from the table, the contract values below are SPEC's. */
import assert from "node:assert/strict";
import { run } from "../../tasks/lib/run.ts";
import {
  classKnob,
  EINVAL,
  ENOENT,
  EPERM,
  ERANGE,
  type Flavour,
  FLAVOURS,
  headerVersion,
  lazyHakmem,
  notBuilt,
  type OptionsTable,
  repoRoot,
  withErrno,
} from "./helpers.ts";

const FIXTURE = new URL("./fixtures/print_config.ts", import.meta.url).pathname;

/** Contract defaults (balanced mode). Enumerations by index. */
const DEFAULTS: Record<string, number> = {
  HAKMEM_MODE: 2,
  HAKMEM_STATS: 0,
  HAKMEM_THP: 1,
  HAKMEM_BIGCACHE: 1,
  HAKMEM_BIGCACHE_MB: 16,
  HAKMEM_BIGCACHE_MAX_BLOCK_MB: 64,
  HAKMEM_MADVISE_BATCH: 16,
  HAKMEM_TCACHE: 1,
  HAKMEM_TCACHE_CAP: 128,
  HAKMEM_BUNDLE: 128,
  HAKMEM_REMOTE_DRAIN_THRESHOLD: 256,
  HAKMEM_POOL_TLS_ARENA_MB_INIT: 1,
  HAKMEM_POOL_TLS_ARENA_MB_MAX: 8,
  HAKMEM_POOL_TLS_ARENA_GROWTH_LEVELS: 3,
  HAKMEM_SEGMENT_CACHE: 4,
  HAKMEM_DECAY_MS: 2000,
  HAKMEM_ELO: 1,
  HAKMEM_ACE_ENABLED: 0,
  HAKMEM_ACE_FAST_INTERVAL_MS: 250,
  HAKMEM_ACE_SLOW_INTERVAL_MS: 30000,
  HAKMEM_ACE_LOG_LEVEL: 0,
  HAKMEM_ACE_MAX_P99_LAT_NS: 10_000_000,
  HAKMEM_ACE_MAX_RSS_MB: 16384,
  HAKMEM_ACE_MAX_CPU_PERCENT: 5,
  HAKMEM_ACE_MEMORY_WEIGHT: 20,
  HAKMEM_ACE_SCAVENGE_BUDGET_US: 5000,
  HAKMEM_CRASH_NOTE: 1,
};
const NAMES = [
  ...Object.keys(DEFAULTS),
  "HAKMEM_FREE_POLICY",
  "HAKMEM_POOL_TLS_PREWARM",
  "HAKMEM_HARDEN",
];

interface Printed {
  mode: string;
  version: string;
  config: string;
  options: Record<string, { rc: number; value: string; errno: number }>;
}
interface Run {
  printed: Printed;
  stderr: string;
  /** stderr lines written by hakmem */
  hakLines: string[];
}

/** Runs the fixture with exactly these HAKMEM_* variables (others removed). */
async function runWith(flavour: Flavour, env: Record<string, string>): Promise<Run> {
  const out = await run(
    Deno.execPath(),
    ["run", "-A", "--quiet", FIXTURE, flavour, ...NAMES],
    { scrub: true, env: { HAKMEM_ROOT: repoRoot(), ...env } },
  );
  const { stdout, stderr } = out;
  const what = `${flavour} with ${JSON.stringify(env)}`;
  assert.equal(out.code, 0, `fixture failed (${what}):\n${stderr}`);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  const printed = JSON.parse(line) as Printed;
  const hakLines = stderr.split("\n").filter((l) => l.startsWith("hakmem"));
  return { printed, stderr, hakLines };
}

function opt(run: Run, name: string): number {
  const o = run.printed.options[name];
  assert.ok(o, `option ${name} not printed`);
  assert.equal(o.rc, 0, `hak_option_get(${name}) rc (errno ${o.errno})`);
  return Number(o.value);
}

interface GoodCase {
  env: Record<string, string>;
  mode: string;
  expect: Record<string, number>;
}

const GOOD: GoodCase[] = [
  { env: {}, mode: "balanced", expect: DEFAULTS },
  { env: { HAKMEM_MODE: "balanced" }, mode: "balanced", expect: DEFAULTS },
  {
    env: { HAKMEM_MODE: "minimal" },
    mode: "minimal",
    // SPEC §4: ELO off, BigCache off, batch madvise off, tiny pool off, ACE off, THP off
    expect: {
      HAKMEM_MODE: 0,
      HAKMEM_ELO: 0,
      HAKMEM_BIGCACHE: 0,
      HAKMEM_MADVISE_BATCH: 1,
      HAKMEM_TCACHE: 0,
      HAKMEM_ACE_ENABLED: 0,
      HAKMEM_THP: 0,
      HAKMEM_ACE_LOG_LEVEL: 0,
    },
  },
  {
    env: { HAKMEM_MODE: "fast" },
    mode: "fast",
    expect: {
      HAKMEM_MODE: 1,
      HAKMEM_ELO: 1,
      HAKMEM_BIGCACHE: 1,
      HAKMEM_TCACHE: 1,
      HAKMEM_ACE_ENABLED: 0,
      HAKMEM_THP: 1,
    },
  },
  {
    env: { HAKMEM_MODE: "learning" },
    mode: "learning",
    expect: {
      HAKMEM_MODE: 3,
      HAKMEM_ELO: 2,
      HAKMEM_BIGCACHE: 1,
      HAKMEM_TCACHE: 1,
      HAKMEM_ACE_ENABLED: 1,
      HAKMEM_THP: 1,
      HAKMEM_ACE_LOG_LEVEL: 0, // quiet unless asked, in every mode
    },
  },
  {
    env: { HAKMEM_MODE: "research" },
    mode: "research",
    expect: {
      HAKMEM_MODE: 4,
      HAKMEM_ELO: 2,
      HAKMEM_ACE_ENABLED: 1,
      HAKMEM_THP: 2,
      HAKMEM_BIGCACHE: 1,
      HAKMEM_ACE_LOG_LEVEL: 0,
    },
  },
  {
    // a preset's ACE can be switched off, and any mode's switched on
    env: { HAKMEM_MODE: "learning", HAKMEM_ACE_ENABLED: "0", HAKMEM_ELO: "frozen" },
    mode: "learning",
    expect: { HAKMEM_ACE_ENABLED: 0, HAKMEM_ELO: 1 },
  },
  {
    // an individual variable beats the preset
    env: { HAKMEM_MODE: "minimal", HAKMEM_BIGCACHE: "1" },
    mode: "minimal",
    expect: { HAKMEM_BIGCACHE: 1, HAKMEM_TCACHE: 0 },
  },
  {
    env: { HAKMEM_MODE: "minimal", HAKMEM_TCACHE: "1", HAKMEM_THP: "on" },
    mode: "minimal",
    expect: { HAKMEM_TCACHE: 1, HAKMEM_THP: 2, HAKMEM_BIGCACHE: 0 },
  },
  {
    env: {
      HAKMEM_TCACHE_CAP: "0",
      HAKMEM_BIGCACHE_MB: "128",
      HAKMEM_THP: "off",
      HAKMEM_FREE_POLICY: "immediate",
      HAKMEM_BUNDLE: "256",
    },
    mode: "balanced",
    expect: {
      HAKMEM_TCACHE_CAP: 0,
      HAKMEM_BIGCACHE_MB: 128,
      HAKMEM_THP: 0,
      HAKMEM_FREE_POLICY: 1,
      HAKMEM_BUNDLE: 256,
    },
  },
  {
    env: {
      HAKMEM_TCACHE_CAP: "512",
      HAKMEM_BIGCACHE_MB: "1",
      HAKMEM_MADVISE_BATCH: "1024",
      HAKMEM_SEGMENT_CACHE: "0",
      HAKMEM_POOL_TLS_ARENA_GROWTH_LEVELS: "5",
      HAKMEM_FREE_POLICY: "unmap",
    },
    mode: "balanced",
    expect: {
      HAKMEM_TCACHE_CAP: 512,
      HAKMEM_BIGCACHE_MB: 1,
      HAKMEM_MADVISE_BATCH: 1024,
      HAKMEM_SEGMENT_CACHE: 0,
      HAKMEM_POOL_TLS_ARENA_GROWTH_LEVELS: 5,
      HAKMEM_FREE_POLICY: 2,
    },
  },
];

interface BadCase {
  name: string;
  value: string;
  /** what the warning must mention besides the name and the value (for an
   * enumeration, its choices from the options table too) */
  mentions: string[];
  /** the default the option falls back to (a path option's: its text in the configuration) */
  fallback: number | string;
  defaultText: string;
}

const BAD: BadCase[] = [
  {
    name: "HAKMEM_MODE",
    value: "turbo",
    mentions: [],
    fallback: 2,
    defaultText: "balanced",
  },
  {
    name: "HAKMEM_TCACHE_CAP",
    value: "9999",
    mentions: ["0", "512"],
    fallback: 128,
    defaultText: "128",
  },
  {
    name: "HAKMEM_TCACHE_CAP",
    value: "513",
    mentions: ["512"],
    fallback: 128,
    defaultText: "128",
  },
  {
    name: "HAKMEM_TCACHE_CAP",
    value: "-1",
    mentions: ["512"],
    fallback: 128,
    defaultText: "128",
  },
  {
    name: "HAKMEM_BIGCACHE_MB",
    value: "abc",
    mentions: ["65536"],
    fallback: 16,
    defaultText: "16",
  },
  {
    name: "HAKMEM_BIGCACHE_MB",
    value: "64abc",
    mentions: ["65536"],
    fallback: 16,
    defaultText: "16",
  },
  {
    name: "HAKMEM_BIGCACHE_MB",
    value: "0",
    mentions: ["65536"],
    fallback: 16,
    defaultText: "16",
  },
  {
    name: "HAKMEM_THP",
    value: "maybe",
    mentions: ["off", "auto", "on"],
    fallback: 1,
    defaultText: "auto",
  },
  {
    name: "HAKMEM_BIGCACHE",
    value: "2",
    mentions: ["0", "1"],
    fallback: 1,
    defaultText: "1",
  },
  // One rule for every option: only the spelling the README's table gives. Booleans are 0 or 1,
  // integers plain decimal digits as hakmem prints them, enumerations their names, paths 1 to 511
  // bytes.
  ...["yes", "no", "on", "off", "true", "false", "01", " 1", "1 ", ""].map((value) => ({
    name: "HAKMEM_TCACHE",
    value,
    mentions: ["0|1"],
    fallback: 1,
    defaultText: "1",
  })),
  ...[" 64", "64 ", "+64", "064", "0x40", "1e2", "64k", "", "-0"].map((value) => ({
    name: "HAKMEM_TCACHE_CAP",
    value,
    mentions: ["decimal digits", "512"],
    fallback: 128,
    defaultText: "128",
  })),
  ...["Balanced", " fast", "fast ", "FAST", ""].map((value) => ({
    name: "HAKMEM_MODE",
    value,
    mentions: [],
    fallback: 2,
    defaultText: "balanced",
  })),
  ...["", "x".repeat(512)].map((value) => ({
    name: "HAKMEM_STATS_FILE",
    value,
    mentions: ["a path of 1 to 511 bytes"],
    fallback: "",
    defaultText: "(unset)",
  })),
];

/** How a warning shows a value: quoted when it is empty or has blanks a reader would not see. */
function shown(value: string): string {
  return value === "" || /[ \t\n]/.test(value) ? `"${value}"` : value;
}

function option(table: OptionsTable, name: string) {
  const o = table.options.find((o) => o.name === name);
  assert.ok(o, `${name} is not in the options table`);
  return o;
}

for (const flavour of FLAVOURS) {
  const ignore = notBuilt(flavour);
  const test = (name: string, fn: () => void | Promise<void>) =>
    Deno.test({ name: `options[${flavour}] ${name}`, ignore, fn });
  const hak = lazyHakmem(flavour);

  test("good values, presets and overrides (subprocesses)", async () => {
    const table = hak().optionsTable();
    const runs = await Promise.all(GOOD.map((c) => runWith(flavour, c.env)));
    GOOD.forEach((c, i) => {
      const run = runs[i];
      const what = JSON.stringify(c.env);
      assert.deepEqual(run.hakLines, [], `no hakmem output on stderr for ${what}`);
      assert.equal(run.printed.mode, c.mode, `hak_mode() for ${what}`);
      assert.equal(run.printed.version, `${headerVersion()} ${flavour}`);
      for (const [name, want] of Object.entries(c.expect)) {
        assert.equal(opt(run, name), want, `${name} for ${what}`);
      }
      const config = JSON.parse(run.printed.config);
      assert.equal(typeof config, "object");
      assert.ok(run.printed.config.includes(c.mode), `config JSON names mode ${c.mode}`);
      // a preset alone: every option has the table's default for the mode
      if (Object.keys(c.env).every((k) => k === "HAKMEM_MODE")) {
        for (const name of NAMES) {
          // (the debug build always hardens, whatever the table's default)
          const debugHarden = flavour === "debug" && name === "HAKMEM_HARDEN";
          const want = debugHarden ? 1 : option(table, name).defaults[c.mode];
          assert.equal(opt(run, name), want, `${name} in ${c.mode}: the table says ${want}`);
        }
      }
    });
  });

  test("the options table: modes, choices, ranges and the runtime flag as the library acts", () => {
    const h = hak();
    const table = h.optionsTable();
    assert.deepEqual(option(table, "HAKMEM_MODE").choices, table.modes);
    assert.equal(table.default_mode, "balanced", "SPEC's default preset");
    assert.ok(table.modes.includes(h.mode()), `mode ${h.mode()}`);
    for (const o of table.options) {
      const got = h.optionGet(o.name);
      assert.equal(got.rc, 0, `${o.name} readable`);
      if (o.type === "enum") assert.equal(o.max, o.choices.length - 1, `${o.name} range`);
      if (o.type === "bool") assert.deepEqual([o.min, o.max], [0, 1], `${o.name} range`);
      for (const m of table.modes) assert.ok(m in o.defaults, `${o.name} has a default in ${m}`);
      // start-only options refuse a change; runtime ones accept their own value
      const set = h.optionSet(o.name, got.value);
      if (o.runtime) assert.equal(set.rc, 0, `${o.name} is runtime`);
      else assert.deepEqual([set.rc, set.errno], [-1, EPERM], `${o.name} is read at start only`);
    }
    for (const k of table.class_knobs) {
      const v = BigInt(k.max);
      const orig = h.sym.hak_class_knob_get(k.id, 0);
      assert.equal(h.sym.hak_class_knob_set(k.id, 0, v), 0, `${k.name} = its max`);
      assert.equal(withErrno(() => h.sym.hak_class_knob_set(k.id, 0, v + 1n)).errno, ERANGE);
      assert.equal(h.sym.hak_class_knob_set(k.id, 0, orig), 0);
    }
    // a new thread's cache gets the pre-warm rows (the knob reads them back per class)
    const prewarm = classKnob(h, "prewarm");
    for (const row of table.prewarm) {
      const cls = h.classOf(row.size);
      assert.equal(Number(h.sym.hak_class_knob_get(prewarm, cls)), row.blocks, `${row.size} B`);
    }
  });

  test("bad values: one warning line each, defaults used (subprocesses)", async () => {
    const table = hak().optionsTable();
    const runs = await Promise.all(BAD.map((c) => runWith(flavour, { [c.name]: c.value })));
    BAD.forEach((c, i) => {
      const run = runs[i];
      const what = `${c.name}=${shown(c.value)}`;
      assert.equal(
        run.hakLines.length,
        1,
        `exactly one hakmem line on stderr for ${what}, got:\n${run.stderr}`,
      );
      const line = run.hakLines[0];
      assert.ok(
        line.startsWith(`hakmem: warning: ${what} is not accepted`),
        `warning names ${what}: ${line}`,
      );
      for (const m of [...c.mentions, ...option(table, c.name).choices]) {
        assert.ok(line.includes(m), `warning mentions ${m}: ${line}`);
      }
      assert.ok(line.includes("accepted"), `warning says what is accepted: ${line}`);
      assert.ok(
        line.includes(`using default ${c.defaultText}`),
        `warning names the default ${c.defaultText}: ${line}`,
      );
      const now = typeof c.fallback === "string"
        ? JSON.parse(run.printed.config)[c.name]
        : opt(run, c.name);
      assert.equal(now, c.fallback, `${c.name} falls back to its default`);
      if (c.name === "HAKMEM_MODE") assert.equal(run.printed.mode, "balanced");
    });
  });

  test("two bad values give two warnings, the good one still applies", async () => {
    const run = await runWith(flavour, {
      HAKMEM_MODE: "turbo",
      HAKMEM_BUNDLE: "0",
      HAKMEM_TCACHE_CAP: "64",
    });
    assert.equal(run.hakLines.length, 2, run.stderr);
    assert.ok(run.hakLines.some((l) => l.includes("HAKMEM_MODE=turbo")), run.stderr);
    assert.ok(run.hakLines.some((l) => l.includes("HAKMEM_BUNDLE=0")), run.stderr);
    assert.equal(opt(run, "HAKMEM_TCACHE_CAP"), 64);
    assert.equal(opt(run, "HAKMEM_BUNDLE"), 128);
    assert.equal(run.printed.mode, "balanced");
  });

  test("HAKMEM_HARDEN: 1 hardens the release build; the debug build always does, 0 warns there", async () => {
    const on = await runWith(flavour, { HAKMEM_HARDEN: "1" });
    assert.equal(on.hakLines.length, 0, on.stderr);
    assert.equal(opt(on, "HAKMEM_HARDEN"), 1);
    const off = await runWith(flavour, { HAKMEM_HARDEN: "0" });
    assert.equal(opt(off, "HAKMEM_HARDEN"), flavour === "debug" ? 1 : 0);
    if (flavour === "debug") {
      assert.equal(off.hakLines.length, 1, off.stderr);
      assert.match(off.hakLines[0], /HAKMEM_HARDEN=0 has no effect in the debug build/);
    } else {
      assert.equal(off.hakLines.length, 0, off.stderr);
    }
  });

  // ---- runtime setters (in-process, private instance) ----

  test("hak_option_get/set: unknown names give ENOENT", () => {
    const h = hak();
    for (const name of ["HAKMEM_NOPE", "", "hakmem_mode", "MODE"]) {
      const g = h.optionGet(name);
      assert.equal(g.rc, -1, `hak_option_get(${JSON.stringify(name)})`);
      assert.equal(g.errno, ENOENT);
      const s = h.optionSet(name, 1);
      assert.equal(s.rc, -1, `hak_option_set(${JSON.stringify(name)})`);
      assert.equal(s.errno, ENOENT);
    }
  });

  test("hak_option_set: runtime knobs change, ranges give ERANGE", () => {
    const h = hak();
    const knobs: [string, number, number][] = [
      ["HAKMEM_TCACHE_CAP", 0, 512],
      ["HAKMEM_BUNDLE", 1, 256],
      ["HAKMEM_REMOTE_DRAIN_THRESHOLD", 1, 65536],
      ["HAKMEM_BIGCACHE_MB", 1, 65536],
      ["HAKMEM_MADVISE_BATCH", 1, 1024],
    ];
    for (const [name, min, max] of knobs) {
      const orig = h.optionGet(name);
      assert.equal(orig.rc, 0, `${name} readable`);
      for (const v of [min, max, orig.value]) {
        const s = h.optionSet(name, v);
        assert.equal(s.rc, 0, `hak_option_set(${name}, ${v}) errno ${s.errno}`);
        assert.equal(h.optionGet(name).value, BigInt(v), `${name} reads back ${v}`);
      }
      for (const v of [min - 1, max + 1, -(2n ** 63n), 2n ** 63n - 1n]) {
        const s = h.optionSet(name, v);
        assert.equal(s.rc, -1, `hak_option_set(${name}, ${v}) should fail`);
        assert.equal(s.errno, ERANGE, `hak_option_set(${name}, ${v}) errno`);
        assert.equal(h.optionGet(name).value, orig.value, `${name} unchanged`);
      }
    }
    // allocation keeps working with extreme knob values
    assert.equal(h.optionSet("HAKMEM_TCACHE_CAP", 0).rc, 0);
    for (let i = 0; i < 2000; i++) {
      const p = h.malloc(i % 3000);
      assert.ok(p !== null);
      h.free(p);
    }
    assert.equal(h.optionSet("HAKMEM_TCACHE_CAP", 128).rc, 0);
  });

  test("hak_option_set: start-only options give EPERM", () => {
    const h = hak();
    for (const name of ["HAKMEM_MODE", "HAKMEM_TCACHE", "HAKMEM_POOL_TLS_ARENA_MB_MAX"]) {
      const before = h.optionGet(name);
      assert.equal(before.rc, 0, `${name} readable`);
      const s = h.optionSet(name, before.value);
      assert.equal(s.rc, -1, `hak_option_set(${name}) should fail`);
      assert.equal(s.errno, EPERM, `hak_option_set(${name}) errno`);
      assert.equal(h.optionGet(name).value, before.value);
    }
  });

  test("hak_class_knob_set/get round trip and errors", () => {
    const h = hak();
    const S = h.sym;
    const n = h.classCount();
    for (const cls of [0, Math.floor(n / 2), n - 1]) {
      const knobs = [[classKnob(h, "tcache_cap"), 7], [classKnob(h, "prewarm"), 3]];
      for (const [knob, v] of knobs) {
        const orig = S.hak_class_knob_get(knob, cls);
        assert.ok(orig >= 0n, `knob ${knob} class ${cls} = ${orig}`);
        assert.equal(S.hak_class_knob_set(knob, cls, BigInt(v)), 0, `set knob ${knob} ${cls}`);
        assert.equal(S.hak_class_knob_get(knob, cls), BigInt(v));
        assert.equal(S.hak_class_knob_set(knob, cls, 0n), 0);
        assert.equal(S.hak_class_knob_get(knob, cls), 0n);
        assert.equal(S.hak_class_knob_set(knob, cls, orig), 0);
        assert.equal(S.hak_class_knob_get(knob, cls), orig);
        const bad = withErrno(() => S.hak_class_knob_set(knob, cls, -1n));
        assert.equal(bad.value, -1, `knob ${knob} = -1`);
        assert.equal(bad.errno, ERANGE);
        assert.equal(S.hak_class_knob_get(knob, cls), orig);
      }
    }
    const tooBig = withErrno(() => S.hak_class_knob_set(classKnob(h, "tcache_cap"), 0, 513n));
    assert.equal(tooBig.value, -1, "tcache cap 513");
    assert.equal(tooBig.errno, ERANGE);
    for (const [knob, cls] of [[2, 0], [99, 0], [0xffffffff, 0], [0, n], [1, n + 1000]]) {
      const g = withErrno(() => S.hak_class_knob_get(knob, cls));
      assert.equal(g.value, -1n, `hak_class_knob_get(${knob}, ${cls})`);
      assert.equal(g.errno, EINVAL);
      const s = withErrno(() => S.hak_class_knob_set(knob, cls, 1n));
      assert.equal(s.value, -1, `hak_class_knob_set(${knob}, ${cls})`);
      assert.equal(s.errno, EINVAL);
    }
  });
}
