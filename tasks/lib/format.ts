// How numbers read, in the terminal and on the report page alike (both import this): ratios as
// "1.50×", memory in binary units, counts with thousands separators, a missing figure as "—".
// Pure: bundles for the browser.

/** What a figure that is not there (null, or not a finite number) reads as. */
export const MISSING = "—";

function present(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && Number.isFinite(v);
}

/** A ratio: "1.50×"; two significant digits below 0.1 ("0.042×"), and a third when two would
 * read 1.00 for a ratio that is not 1 ("0.998×"). */
export function fmtRatio(r: number | null | undefined): string {
  if (!present(r)) return MISSING;
  if (r < 0.1) return `${r.toPrecision(2)}×`;
  const two = r.toFixed(2);
  return `${two === "1.00" && r !== 1 ? r.toFixed(3) : two}×`;
}

/** KiB in binary units: "12 KiB", "1.5 MiB", "2.00 GiB"; `compact` for table columns: "12K",
 * "1.5M", "2.00G". */
export function fmtKiB(kib: number | null | undefined, compact = false): string {
  if (!present(kib)) return MISSING;
  const unit = (u: string) => (compact ? u : ` ${u}iB`);
  if (kib >= 1024 * 1024) return `${(kib / 1024 / 1024).toFixed(2)}${unit("G")}`;
  if (kib >= 1024) return `${(kib / 1024).toFixed(1)}${unit("M")}`;
  return `${Math.round(kib)}${unit("K")}`;
}

/** Bytes in binary units (fmtKiB). */
export function fmtBytes(b: number | null | undefined, compact = false): string {
  return present(b) ? fmtKiB(b / 1024, compact) : MISSING;
}

/** A number with `digits` significant digits and a k/M/G suffix from 10^4 on. */
export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (!present(v)) return MISSING;
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(digits)} G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(digits)} M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(digits)} k`;
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  return v.toPrecision(digits);
}

/** A count with thousands separators: "1,234,567". */
export function fmtInt(v: number | null | undefined): string {
  return present(v) ? Math.round(v).toLocaleString("en-US") : MISSING;
}

/** A change in per cent, signed: "+3.2 %". */
export function fmtPct(p: number | null | undefined): string {
  return present(p) ? `${p > 0 ? "+" : ""}${p.toFixed(1)} %` : MISSING;
}

/** A duration in seconds as "42s", "3m07s", "1h05m". */
export function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}
