// More real programs under LD_PRELOAD=libhakmem.so (python3, git and a threaded C program are in
// preload.test.ts): sqlite3, redis-server driven by redis-cli and redis-benchmark on loopback, and
// gcc compiling and linking real C. Each runs once without and once with hakmem; the results
// (output, or the bytes of the produced object files) must be identical, and hakmem's statistics
// must show that it served the preloaded run.
//
// The packages (sqlite3, redis-server, redis-tools, gcc, libc6-dev) are installed by
// `deno task test` (tasks/test/test.ts TEST_PACKAGES) when it runs as root; a missing one is a
// skip, and a failure under CI=true.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { probeOk } from "../../tasks/lib/deps.ts";
import { assertSuccess, describeRun, run, type RunResult } from "../native/proc.ts";
import { baseEnv, readStats, runBoth, setup, stderrStats, summary, TIMEOUT_MS } from "./harness.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const NATIVE = fileURLToPath(new URL("../native/", import.meta.url));

/** The first probe that is missing, as a skip message, or null when all are there. */
async function missing(needs: [probe: string, deb: string][]): Promise<string | null> {
  for (const [probe, deb] of needs) {
    if (!(await probeOk(probe))) return `${probe} is not installed (Debian package ${deb})`;
  }
  return null;
}

/** A deterministic stream of 32-bit numbers. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
}

const SYLLABLES = ["ka", "ra", "mo", "ti", "an", "el", "su", "do", "ne", "ve", "lo", "pi"];
const WORDS = ["alloc", "free", "slab", "arena", "tiny", "mid", "large", "cache", "page", "heap"];

// ---------------------------------------------------------------------------------------------
// sqlite3

const SQL_CUSTOMERS = 20_000;
const SQL_ORDERS = 150_000;
const SQL_EVENTS = 100_000;
const SQL_TXN = 5_000;

/** The data load: schema, then one INSERT statement per row in transactions of SQL_TXN rows, then
 * a bulk INSERT … SELECT from a recursive CTE. */
function sqliteLoadScript(): string {
  const r = lcg(0x5eed);
  const out: string[] = [
    "PRAGMA foreign_keys = ON;",
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, " +
    "tier INTEGER NOT NULL);",
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL REFERENCES " +
    "customers(id), sku TEXT NOT NULL, qty INTEGER NOT NULL, price REAL NOT NULL, note TEXT);",
    "CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL);",
  ];
  const txn = (rows: number, row: (i: number) => string) => {
    for (let i = 1; i <= rows; i++) {
      if (i % SQL_TXN === 1) out.push("BEGIN;");
      out.push(row(i));
      if (i % SQL_TXN === 0 || i === rows) out.push("COMMIT;");
    }
  };
  const cities = ["Osaka", "Lyon", "Porto", "Tartu", "Quito", "Perth", "Fez", "Oulu", "Cork"];
  txn(SQL_CUSTOMERS, (i) => {
    const n = 2 + (r() % 4);
    let name = "";
    for (let j = 0; j < n; j++) name += SYLLABLES[r() % SYLLABLES.length];
    return `INSERT INTO customers VALUES(${i}, '${name}', '${cities[r() % cities.length]}', ${
      r() % 5
    });`;
  });
  txn(SQL_ORDERS, (i) => {
    const customer = 1 + (r() % SQL_CUSTOMERS);
    const sku = `SKU-${(r() % 5000).toString().padStart(4, "0")}`;
    const qty = 1 + (r() % 50);
    const price = ((r() % 100_000) / 100).toFixed(2);
    const words: string[] = [];
    for (let j = r() % 6; j > 0; j--) words.push(WORDS[r() % WORDS.length]);
    const note = words.length ? `'${words.join(" ")} it''s #${i}'` : "NULL";
    return `INSERT INTO orders(customer, sku, qty, price, note) VALUES(${customer}, '${sku}', ${qty}, ${price}, ${note});`;
  });
  out.push(
    "BEGIN;",
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SQL_EVENTS})`,
    "INSERT INTO events(id, kind, payload) SELECT i,",
    "  CASE i % 4 WHEN 0 THEN 'alloc' WHEN 1 THEN 'free' WHEN 2 THEN 'realloc' ELSE 'trim' END,",
    "  printf('%d:%.*c', i, (i * 7919) % 400, char(97 + i % 26)) FROM n;",
    "COMMIT;",
  );
  return out.join("\n") + "\n";
}

Deno.test("preload: sqlite3 inserts, indexes, joins, LIKE, ORDER BY, window functions", async (t) => {
  const why = await missing([["sqlite3", "sqlite3"]]);
  if (why) return skipOrFail(t, why);
  const s = await setup(t, "release");
  if (!s) return;
  try {
    await Deno.writeTextFile(join(s.tmp, "load.sql"), sqliteLoadScript());
    const dirs = [join(s.tmp, "plain"), join(s.tmp, "hakmem")];
    for (const d of dirs) await Deno.mkdir(d);
    const what = "sqlite3";
    const p = await runBoth(
      [
        "sqlite3",
        "-batch",
        "-bail",
        "test.db",
        `.read ${join(s.tmp, "load.sql")}`,
        `.read ${join(FIXTURES, "sqlite_queries.sql")}`,
      ],
      s.so,
      s.tmp,
      what,
      { cwdPlain: dirs[0], cwdPreloaded: dirs[1] },
    );
    const out = p.plain.stdout;
    if (
      !out.includes(`orders|units|revenue\n${SQL_ORDERS}|`) || !/\nintegrity_check\nok\n/.test(out)
    ) {
      throw new Error(`${what}: unexpected output\n${describeRun(p.plain)}`);
    }
    // The database files must be the same too (same statements, same page layout).
    const [a, b] = await Promise.all(dirs.map((d) => Deno.readFile(join(d, "test.db"))));
    if (!bytesEqual(a, b)) throw new Error(`${what}: the database files differ`);
    console.log(`${out.split("\n").length} lines of output, db ${a.length} bytes; ${summary(p)}`);
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// redis-server on loopback

const REDIS_LIMIT_MS = 60_000;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Redis {
  port: number;
  /** Settles when the server exits (it is killed after REDIS_LIMIT_MS at the latest). */
  exited: Promise<RunResult>;
}

/** Starts redis-server on 127.0.0.1 with no persistence; resolves once it answers PING. */
async function startRedis(dir: string, env: Record<string, string>): Promise<Redis> {
  let last = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    let done: RunResult | null = null;
    const exited = run([
      "redis-server",
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--protected-mode",
      "yes",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--dir",
      dir,
      "--logfile",
      "",
      "--loglevel",
      "warning",
      // threads that read and write client sockets, and frees of big values in a background
      // thread: blocks allocated by one thread and freed by another
      "--io-threads",
      "2",
      "--io-threads-do-reads",
      "yes",
      "--lazyfree-lazy-user-del",
      "yes",
    ], { env: baseEnv(env), timeoutMs: REDIS_LIMIT_MS }).then((r) => (done = r));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && done === null) {
      const ping = await run(["redis-cli", "-h", "127.0.0.1", "-p", String(port), "ping"], {
        env: baseEnv(),
        timeoutMs: 5_000,
      });
      if (ping.stdout.trim() === "PONG") return { port, exited };
      await new Promise((r) => setTimeout(r, 50));
    }
    if (done === null) {
      await cli(port, ["shutdown", "nosave"]);
      done = await exited;
    }
    last = describeRun(done);
  }
  throw new Error(`redis-server did not start:\n${last}`);
}

function cli(port: number, args: string[], stdin?: string): Promise<RunResult> {
  return run(["redis-cli", "-h", "127.0.0.1", "-p", String(port), ...args], {
    env: baseEnv(),
    input: stdin,
    timeoutMs: 30_000,
  });
}

/** Stops the server with SHUTDOWN NOSAVE; it must then exit 0. */
async function stopRedis(r: Redis, what: string): Promise<RunResult> {
  await cli(r.port, ["shutdown", "nosave"]);
  const res = await r.exited;
  assertSuccess(res, `${what}: redis-server after SHUTDOWN NOSAVE`);
  return res;
}

/** Deterministic redis-cli input: strings, counters, lists, hashes, sorted sets, sets, a large
 * string grown in place, Lua, deletes of big values (freed by the lazy-free thread). Only replies
 * whose content does not depend on the server's random hash seed. */
function redisScript(): string {
  const r = lcg(0x7ed15);
  const out: string[] = [];
  const word = () => WORDS[r() % WORDS.length] + (r() % 1000);
  for (let i = 0; i < 3000; i++) {
    const len = 1 + (r() % (i % 10 === 0 ? 3000 : 120));
    out.push(`SET str:${i} ${"v".repeat(len)}${word()}`);
  }
  for (let i = 0; i < 3000; i += 7) out.push(`GET str:${i}`, `STRLEN str:${i}`);
  for (let i = 0; i < 500; i++) {
    out.push(`APPEND str:${i} ${word()}`, `INCRBY ctr:${i % 40} ${r() % 1000}`);
  }
  for (let i = 0; i < 40; i++) out.push(`GET ctr:${i}`);
  for (let l = 0; l < 20; l++) {
    for (let b = 0; b < 10; b++) {
      const items = Array.from({ length: 30 }, () => word());
      out.push(`${b % 2 ? "RPUSH" : "LPUSH"} list:${l} ${items.join(" ")}`);
    }
    out.push(`LLEN list:${l}`, `LRANGE list:${l} 0 15`, `LRANGE list:${l} -10 -1`);
    out.push(`LTRIM list:${l} 5 200`, `LPOP list:${l} 3`, `RPOP list:${l}`, `LINDEX list:${l} 7`);
  }
  for (let h = 0; h < 200; h++) {
    const fields = Array.from({ length: 5 + (h % 40) }, (_, f) => `f${f} ${word()}`);
    out.push(`HSET hash:${h} ${fields.join(" ")}`);
    out.push(`HGET hash:${h} f3`, `HLEN hash:${h}`, `HINCRBY hash:${h} n ${h}`);
    out.push(`HMGET hash:${h} f0 f1 f2 nope`);
  }
  for (let z = 0; z < 10; z++) {
    for (let b = 0; b < 20; b++) {
      const pairs = Array.from({ length: 25 }, () => `${r() % 100000} ${word()}`);
      out.push(`ZADD zset:${z} ${pairs.join(" ")}`);
    }
    out.push(`ZCARD zset:${z}`, `ZRANGE zset:${z} 0 10 WITHSCORES`);
    out.push(`ZRANGEBYSCORE zset:${z} 1000 5000 LIMIT 0 10`, `ZREVRANGE zset:${z} 0 5`);
    out.push(
      `ZINCRBY zset:${z} 7 alloc1`,
      `ZSCORE zset:${z} alloc1`,
      `ZREMRANGEBYRANK zset:${z} 0 9`,
    );
  }
  for (let s = 0; s < 10; s++) {
    const members = Array.from({ length: 150 }, () => word());
    out.push(`SADD set:${s} ${members.join(" ")}`, `SCARD set:${s}`);
    out.push(`SORT set:${s} ALPHA LIMIT 0 12`, `SISMEMBER set:${s} slab5`);
  }
  out.push("SINTERCARD 2 set:0 set:1", "SORT set:0 ALPHA LIMIT 40 10");
  out.push("SUNIONSTORE set:all set:0 set:1 set:2 set:3", "SCARD set:all");
  // a string grown to a few hundred KiB (large tier), then read in pieces
  for (let i = 1; i <= 8; i++) out.push(`SETRANGE big ${i * 40000} ${word()}`, "STRLEN big");
  out.push("GETRANGE big 319990 320010", "BITCOUNT big");
  out.push(
    `EVAL "local t = {} for i = 1, 2000 do t[#t + 1] = redis.call('GET', 'str:' .. (i % 3000)) end return #table.concat(t)" 0`,
  );
  out.push(`EVAL "return redis.call('LRANGE', KEYS[1], 0, 3)" 1 list:4`);
  out.push("UNLINK list:0 list:1 zset:0 set:0 hash:199 big", "EXISTS big list:0 list:2");
  out.push("DEL str:1 str:2 nope", "DBSIZE", "INFO keyspace");
  return out.join("\n") + "\n";
}

const BENCH_TESTS = "ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100";

/** redis-benchmark's bounded, pipelined load from two preloaded threads against the server on
 * `port`; returns its "requests per second" lines, one per test. */
async function redisLoad(port: number, so: string, stats: string, what: string): Promise<string[]> {
  const bench = await run([
    "redis-benchmark",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-n",
    "20000",
    "-c",
    "20",
    "-P",
    "16",
    "-r",
    "10000",
    "-d",
    "64",
    "--threads",
    "2",
    "-q",
    "-t",
    BENCH_TESTS,
  ], {
    env: baseEnv({ LD_PRELOAD: so, HAKMEM_STATS_FILE: stats }),
    timeoutMs: REDIS_LIMIT_MS,
  });
  assertSuccess(bench, `${what}: redis-benchmark`);
  const rps = bench.stdout.split(/[\r\n]/).filter((l) => / requests per second/.test(l));
  const expected = BENCH_TESTS.split(",").length;
  if (rps.length < expected) {
    throw new Error(
      `${what}: redis-benchmark reported ${rps.length} of ${expected} tests\n${describeRun(bench)}`,
    );
  }
  return rps;
}

Deno.test("preload: redis-server with redis-cli and redis-benchmark on loopback", async (t) => {
  const why = await missing([
    ["redis-server", "redis-server"],
    ["redis-cli", "redis-tools"],
    ["redis-benchmark", "redis-tools"],
  ]);
  if (why) return skipOrFail(t, why);
  const s = await setup(t, "release");
  if (!s) return;
  const what = "redis";
  const servers: Redis[] = [];
  try {
    const script = redisScript();
    const dirs = [join(s.tmp, "plain"), join(s.tmp, "hakmem")];
    for (const d of dirs) await Deno.mkdir(d);

    // the same commands to a server without and one with hakmem
    const plain = await startRedis(dirs[0], {});
    servers.push(plain);
    const plainOut = await cli(plain.port, [], script);
    assertSuccess(plainOut, `${what}: redis-cli (server without hakmem)`);
    await stopRedis(plain, `${what} without hakmem`);

    const serverStats = join(s.tmp, "server.json");
    const hak = await startRedis(dirs[1], { LD_PRELOAD: s.so, HAKMEM_STATS_FILE: serverStats });
    servers.push(hak);
    const hakOut = await cli(hak.port, [], script);
    assertSuccess(hakOut, `${what}: redis-cli (server with hakmem)`);
    if (plainOut.stdout !== hakOut.stdout) {
      throw new Error(
        `${what}: replies differ with hakmem preloaded into redis-server\n=== without ===\n${
          describeRun(plainOut)
        }\n=== with ===\n${describeRun(hakOut)}`,
      );
    }
    if (!plainOut.stdout.includes("db0:keys=")) {
      throw new Error(`${what}: unexpected replies\n${describeRun(plainOut)}`);
    }

    const check =
      "GET ctr:0\nLRANGE list:5 0 3\nHGET hash:7 f2\nZRANGE zset:3 0 2\nSTRLEN str:10\n";
    const before = await cli(hak.port, [], check);
    assertSuccess(before, `${what}: redis-cli`);

    // bounded load from a preloaded, two-threaded redis-benchmark, pipelined
    const benchStats = join(s.tmp, "bench.json");
    const rps = await redisLoad(hak.port, s.so, benchStats, what);
    // the server still holds the script's data after the load
    const after = await cli(hak.port, [], check);
    if (after.stdout !== before.stdout) {
      throw new Error(
        `${what}: data changed by the benchmark\n${describeRun(before)}\n${describeRun(after)}`,
      );
    }
    const res = await stopRedis(hak, `${what} with hakmem`);
    servers.length = 0;
    const stats = await readStats(serverStats, `${what}: redis-server`);
    const bstats = await readStats(benchStats, `${what}: redis-benchmark`);
    // every request allocates a client query buffer piece, an argv, a reply: far more than one
    // allocation per command of the benchmark must have gone through hakmem
    if (stats.tiers.tiny.allocs < 20000) {
      throw new Error(
        `${what}: redis-server made only ${stats.tiers.tiny.allocs} tiny allocations`,
      );
    }
    console.log(
      `redis-server tiny=${stats.tiers.tiny.allocs} mid=${stats.tiers.mid.allocs} large=${stats.tiers.large.allocs}, ` +
        `redis-benchmark tiny=${bstats.tiers.tiny.allocs} (${rps.length} tests); ` +
        `server ran ${res.seconds.toFixed(2)} s`,
    );
  } finally {
    for (const r of servers) {
      await cli(r.port, ["shutdown", "nosave"]);
      await r.exited;
    }
    await Deno.remove(s.tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// gcc: the driver, cc1, as, collect2 and ld, all preloaded

/** A large deterministic C file: many functions with loops, switches, structs and tables, so
 * that cc1 -O2 -g works hard (inlining, unrolling, debug info). */
function generatedC(functions: number): string {
  const r = lcg(0xcc1);
  const out: string[] = [
    "#include <stddef.h>",
    "#include <stdint.h>",
    "#include <string.h>",
    "struct rec { uint32_t a, b; uint64_t c; char name[24]; struct rec *next; };",
  ];
  for (let f = 0; f < functions; f++) {
    const k = 3 + (r() % 9);
    const table = Array.from({ length: 16 + (r() % 48) }, () => r() % 65536).join(", ");
    const cases = Array.from(
      { length: k },
      (_, c) => `    case ${c}: acc = acc * ${r() % 97 + 3} + t${f}[(i + ${c}) % n]; break;`,
    ).join("\n");
    out.push(`static const uint16_t t${f}[] = { ${table} };`);
    out.push(
      `uint64_t f${f}(struct rec *head, size_t rounds) {
  const size_t n = sizeof t${f} / sizeof t${f}[0];
  uint64_t acc = ${r()}u;
  for (size_t i = 0; i < rounds; i++) {
    switch ((acc ^ i) % ${k}) {
${cases}
    default: acc ^= i << ${r() % 13}; break;
    }
    for (struct rec *p = head; p; p = p->next) {
      p->c += acc >> ${r() % 17};
      if (memcmp(p->name, "f${f}", ${(String(f).length + 2)}) == 0) acc += p->a * p->b;
    }
  }
  return acc${f > 0 ? ` + f${r() % f}(head, rounds / 2)` : ""};
}`,
    );
  }
  out.push("uint64_t all(struct rec *head) {\n  uint64_t s = 0;");
  for (let f = 0; f < functions; f++) out.push(`  s += f${f}(head, ${1 + (f % 5)});`);
  out.push("  return s;\n}");
  return out.join("\n") + "\n";
}

interface Compile {
  what: string;
  args: (out: string) => string[];
  output: string;
  /** Processes that must have run under hakmem (each prints a stats block): at least this many. */
  minProcesses: number;
}

Deno.test("preload: gcc compiles and links real C with identical output", async (t) => {
  const why = await missing([["gcc", "gcc"], ["/usr/include/stdio.h", "libc6-dev"]]);
  if (why) return skipOrFail(t, why);
  const s = await setup(t, "release");
  if (!s) return;
  try {
    const gen = join(s.tmp, "generated.c");
    await Deno.writeTextFile(gen, generatedC(200));
    const include = join(s.so, "..", "include");
    const jobs: Compile[] = [
      {
        what: "gcc -O2 -c tests/native/mt_churn.c",
        args: (o) => [
          "-std=c11",
          "-O2",
          "-Wall",
          "-Wextra",
          "-Werror",
          "-I",
          include,
          "-c",
          join(NATIVE, "mt_churn.c"),
          "-o",
          o,
        ],
        output: "mt_churn.o",
        minProcesses: 3, // gcc, cc1, as
      },
      {
        what: "gcc -O2 -g -c generated.c (200 functions)",
        args: (o) => ["-std=c11", "-O2", "-g", "-c", gen, "-o", o],
        output: "generated.o",
        minProcesses: 3,
      },
      {
        what: "gcc -O2 fixtures/mt_prog.c -o mt_prog (compile and link)",
        args: (o) => ["-std=c11", "-O2", "-pthread", join(FIXTURES, "mt_prog.c"), "-o", o],
        output: "mt_prog",
        minProcesses: 5, // gcc, cc1, as, collect2, ld
      },
    ];
    const lines: string[] = [];
    const statsFile = join(s.tmp, "gcc.json");
    for (const job of jobs) {
      // Both runs in the same directory with the same argv (-g records the working directory);
      // the output of the run without hakmem is moved aside before the second run.
      const argv = ["gcc", ...job.args(job.output)];
      const out = join(s.tmp, job.output);
      const plain = await run(argv, { env: baseEnv(), cwd: s.tmp, timeoutMs: TIMEOUT_MS });
      assertSuccess(plain, `${job.what} (without hakmem)`);
      await Deno.rename(out, `${out}.plain`);
      const pre = await run(argv, {
        env: baseEnv({ LD_PRELOAD: s.so, HAKMEM_STATS: "1", HAKMEM_STATS_FILE: statsFile }),
        cwd: s.tmp,
        timeoutMs: TIMEOUT_MS,
      });
      assertSuccess(pre, `${job.what} (LD_PRELOAD=${s.so})`);
      const [a, b] = await Promise.all([Deno.readFile(`${out}.plain`), Deno.readFile(out)]);
      if (!bytesEqual(a, b)) {
        throw new Error(`${job.what}: the output ${job.output} differs with hakmem preloaded`);
      }
      // The driver exits last, so the stats file is its own; every process of the pipeline
      // printed its block on the shared stderr.
      await readStats(statsFile, job.what);
      const procs = stderrStats(pre.stderr);
      if (procs.length < job.minProcesses || procs.some((x) => !(x.tiny > 0))) {
        throw new Error(
          `${job.what}: expected at least ${job.minProcesses} hakmem processes with tiny ` +
            `allocations, got ${JSON.stringify(procs)}\n${describeRun(pre)}`,
        );
      }
      if (plain.stderr !== "" || stderrStats(plain.stderr).length > 0) {
        throw new Error(`${job.what}: unexpected diagnostics\n${describeRun(plain)}`);
      }
      const busiest = Math.max(...procs.map((x) => x.tiny));
      lines.push(
        `${job.what}: ${a.length} bytes identical; ${procs.length} hakmem processes, ` +
          `busiest ${busiest} tiny allocs; ${plain.seconds.toFixed(2)} s without, ` +
          `${pre.seconds.toFixed(2)} s with`,
      );
      await Deno.remove(`${out}.plain`);
      await Deno.remove(out);
    }
    console.log(lines.join("\n"));
  } finally {
    await Deno.remove(s.tmp, { recursive: true });
  }
});
