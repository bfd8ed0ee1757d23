// validateResults: the shape check of a results.json (schema 2, tasks/bench_stats.ts), used by
// the report builder before it trusts a file and by the tests. Pure (bundles for the browser).

import { validatePrograms } from "./programs_schema.ts";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const numOrNull = (v: unknown) => v === null || num(v);
const str = (v: unknown) => typeof v === "string";
const strOrNull = (v: unknown) => v === null || str(v);
const strArray = (v: unknown) => Array.isArray(v) && v.every(str);

/** A path inside the run directory (the report reads it). */
function insideRun(v: unknown): boolean {
  return str(v) && v !== "" && !(v as string).startsWith("/") &&
    !(v as string).split("/").includes("..");
}

/** Problems with the shape of a parsed results.json (empty when it is a valid schema-2 file). */
export function validateResults(x: unknown): string[] {
  const errs: string[] = [];
  const check = (cond: boolean, what: string) => {
    if (!cond) errs.push(what);
  };
  /** Checks every element of x[key] (an array) with `each`. */
  const list = (o: Obj, key: string, each: (e: Obj, at: string) => void) => {
    const xs = o[key];
    if (!Array.isArray(xs)) return errs.push(`${key}: array`);
    xs.forEach((
      e: unknown,
      i,
    ) => (isObj(e) ? each(e, `${key}[${i}]`) : errs.push(`${key}[${i}]: object`)));
  };
  if (!isObj(x)) return ["results is not an object"];
  if (x.schema === 1) {
    return ["schema 1 (written before the peers and memory results): run the bench again"];
  }
  check(x.schema === 2, "schema must be 2");
  check(str(x.created) && !Number.isNaN(Date.parse(x.created as string)), "created: ISO date");
  const m = x.machine;
  if (!isObj(m)) errs.push("machine: object");
  else {
    for (const k of ["cpu", "kernel", "glibc", "zig", "deno"]) check(str(m[k]), `machine.${k}`);
    check(Number.isInteger(m.cores) && (m.cores as number) > 0, "machine.cores");
    check(strOrNull(m.commit), "machine.commit");
  }
  const p = x.params;
  if (!isObj(p)) errs.push("params: object");
  else {
    check(p.profile === "quick" || p.profile === "full", "params.profile");
    for (const k of ["benches", "allocators", "modes"]) {
      check(strArray(p[k]), `params.${k}: string[]`);
    }
    for (const k of ["repeat", "threads", "seed"]) check(Number.isInteger(p[k]), `params.${k}`);
    check(numOrNull(p.duration_s), "params.duration_s");
    check(p.calibrated_with === undefined || str(p.calibrated_with), "params.calibrated_with");
    check(str(p.baseline), "params.baseline");
    check(typeof p.instructions === "boolean", "params.instructions");
  }
  list(x, "allocators", (a, at) => {
    check(str(a.name), `${at}.name`);
    check(["glibc", "hakmem", "peer"].includes(a.kind as string), `${at}.kind`);
    check(typeof a.available === "boolean", `${at}.available`);
    for (const k of ["lib", "note", "version", "source", "build"]) {
      check(strOrNull(a[k]), `${at}.${k}`);
    }
    if (a.builds !== undefined) {
      list(a, "builds", (b, bt) => {
        check(str(b.kind), `${at}.${bt}.kind`);
        for (const k of ["lib", "compiler", "flags", "note"]) {
          check(strOrNull(b[k]), `${at}.${bt}.${k}`);
        }
      });
    }
    const c = a.build_choice;
    if (c !== undefined && c !== null) {
      check(isObj(c) && str(c.kind) && str(c.why), `${at}.build_choice: {kind, why, fallback}`);
    }
  });
  if (x.peer_parity !== undefined) {
    list(x, "peer_parity", (r, at) => {
      check(str(r.peer) && str(r.measured), `${at}.peer/measured`);
      check(numOrNull(r.geomean), `${at}.geomean`);
      check(r.faster === null || r.faster === "upstream" || r.faster === "zig", `${at}.faster`);
      for (const k of ["upstream", "zig"]) {
        check(isObj(r[k]) && str((r[k] as Obj).lib), `${at}.${k}.lib`);
      }
      list(r, "workloads", (w, wt) => {
        check(str(w.id), `${at}.${wt}.id`);
        for (const k of ["upstream", "zig", "ratio"]) check(numOrNull(w[k]), `${at}.${wt}.${k}`);
      });
    });
  }
  list(x, "benches", (b, at) => {
    for (const k of ["id", "program", "title", "description"]) check(str(b[k]), `${at}.${k}`);
    check(strArray(b.args), `${at}.args`);
    check(b.metric === "ops_per_s" || b.metric === "ns_per_op", `${at}.metric`);
    check(typeof b.higher_is_better === "boolean", `${at}.higher_is_better`);
    check(strOrNull(b.memory_key), `${at}.memory_key`);
  });
  list(x, "samples", (s, at) => {
    check(str(s.bench) && str(s.allocator), `${at}.bench/allocator`);
    check(Number.isInteger(s.round), `${at}.round`);
    check(typeof s.ok === "boolean" && typeof s.timed_out === "boolean", `${at}.ok`);
    check(s.exit === null || Number.isInteger(s.exit), `${at}.exit`);
    check(s.signal === null || Number.isInteger(s.signal), `${at}.signal`);
    check(str(s.stderr_tail), `${at}.stderr_tail`);
    check(numOrNull(s.value), `${at}.value`);
    check(s.result === null || isObj(s.result), `${at}.result`);
    check(s.hakmem === null || isObj(s.hakmem), `${at}.hakmem`);
    for (const k of ["wall_s", "user_s", "sys_s", "maxrss_kib", "minflt", "majflt"]) {
      check(num(s[k]), `${at}.${k}`);
    }
    if (s.ok === true) check(num(s.value), `${at}.value (ok sample)`);
    const r = s.rss;
    if (r !== null) {
      const curveOk = isObj(r) && Array.isArray(r.curve) &&
        r.curve.every((c: unknown) => Array.isArray(c) && c.length === 2 && c.every(num));
      check(
        isObj(r) && num(r.sample_ms) && num(r.peak_kib) && num(r.mib_s) && curveOk,
        `${at}.rss (null or {sample_ms, peak_kib, mib_s, curve: [t, KiB][]})`,
      );
    }
  });
  if (x.traces !== undefined) {
    list(x, "traces", (t, at) => {
      check(str(t.bench) && str(t.allocator), `${at}.bench/allocator`);
      check(Number.isInteger(t.round) && (t.round as number) >= 0, `${at}.round`);
      check(insideRun(t.file), `${at}.file (relative, inside the run directory)`);
    });
  }
  const o = x.oracle;
  if (o !== undefined) {
    if (!isObj(o)) errs.push("oracle: object");
    else {
      check(str(o.grid) && str(o.balanced) && str(o.learning), "oracle.grid/balanced/learning");
      check(strArray(o.fixed), "oracle.fixed: string[]");
      list(o, "axes", (a, at) => {
        check(str(a.option), `oracle.${at}.option`);
        check(Array.isArray(a.values) && a.values.every(num), `oracle.${at}.values: number[]`);
      });
    }
  }
  if (x.programs !== undefined) errs.push(...validatePrograms(x.programs));
  const ins = x.instructions;
  if (ins !== undefined) {
    if (!isObj(ins)) errs.push("instructions: object");
    else {
      list(ins, "workloads", (w, at) => {
        for (const k of ["id", "title", "op", "program"]) {
          check(str(w[k]), `instructions.${at}.${k}`);
        }
        check(strArray(w.args), `instructions.${at}.args`);
        check(num(w.scale) && (w.scale as number) > 0, `instructions.${at}.scale`);
      });
      list(ins, "counts", (c, at) => {
        check(str(c.workload) && str(c.allocator), `instructions.${at}.workload/allocator`);
        check(typeof c.ok === "boolean" && str(c.note), `instructions.${at}.ok/note`);
        check(numOrNull(c.per_op), `instructions.${at}.per_op`);
        for (const k of ["ir", "ops"]) {
          const v = c[k];
          check(
            Array.isArray(v) && v.length === 2 && v.every(numOrNull),
            `instructions.${at}.${k}`,
          );
        }
        if (c.ok === true) check(num(c.per_op), `instructions.${at}.per_op (ok count)`);
      });
    }
  }
  return errs;
}
