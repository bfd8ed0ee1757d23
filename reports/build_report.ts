// Builds the bench report: ONE self-contained index.html that opens offline (file://, no network).
//
//   writeReport(runDir)                     runDir/results.json        -> runDir/index.html
//   writeCompareReport(runA, runB, outDir)  runA + runB results.json   -> outDir/index.html
//
// How: reports/app.ts (browser TypeScript, which imports the statistics of tasks/bench/stats.ts)
// is bundled with esbuild (npm:esbuild, its native binary, through the JS API) into one IIFE
// script. plotly.js (npm:plotly.js-dist-min, its dist file plotly.min.js read as text through
// Deno's npm cache) and the data (a <script type="application/json" id="results">) are inlined
// next to it, so the page has no external reference at all.
//
// ACE traces: when results.json lists `traces` (JSONL files relative to the run directory), each
// file is parsed (reports/trace/trace.ts) and embedded compacted to at most MAX_TRACE_POINTS points
// per series; a file that is missing or unreadable becomes a note on the page.

import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Results, validateResults } from "../tasks/bench/stats.ts";
import type { ReportPayload, TraceEntry } from "./schema.ts";
import { parseTrace } from "./trace/trace.ts";
import { compactTrace, MAX_TRACE_POINTS } from "./trace/compact.ts";

const PLOTLY_PACKAGE = "plotly.js-dist-min";
const PLOTLY = "npm:plotly.js-dist-min@4.1.2/plotly.min.js (deno.json imports)";
const APP = fileURLToPath(new URL("./app.ts", import.meta.url));

/** Reads and validates runDir/results.json. */
export async function readResults(runDir: string): Promise<Results> {
  const file = join(runDir, "results.json");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const errs = validateResults(data);
  if (errs.length > 0) {
    const more = errs.length > 10 ? `\n  … and ${errs.length - 10} more` : "";
    throw new Error(
      `${file}: not a hakmem bench results file (schema 2):\n  ${
        errs.slice(0, 10).join("\n  ")
      }${more}`,
    );
  }
  return data as Results;
}

/** The ACE traces listed in `results` (files relative to runDir), parsed for the page. Never
 * throws: a file that cannot be read becomes an entry with a note. */
export function readTraces(runDir: string, results: Results): Promise<TraceEntry[]> {
  return Promise.all((results.traces ?? []).map(async (ref) => {
    try {
      const text = await Deno.readTextFile(join(runDir, ref.file));
      return { ...ref, trace: compactTrace(parseTrace(text), MAX_TRACE_POINTS), note: null };
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { ...ref, trace: null, note: `cannot read ${ref.file}: ${why}` };
    }
  }));
}

/** esbuild resolves the bare specifiers of deno.json's imports (the page's `zod`) to the files
 * Deno resolves them to (its npm cache). */
const DENO_PACKAGES = {
  name: "deno-packages",
  setup(
    build: { onResolve(o: { filter: RegExp }, f: (a: { path: string }) => { path: string }): void },
  ) {
    build.onResolve({ filter: /^[a-z@][^:]*$/ }, (args) => ({
      path: fileURLToPath(import.meta.resolve(args.path)),
    }));
  },
};

let appBundle: Promise<string> | undefined;

/** reports/app.ts bundled for the browser (one IIFE), built once per process. */
export function bundleApp(): Promise<string> {
  appBundle ??= (async () => {
    const esbuild = await import("esbuild");
    try {
      const out = await esbuild.build({
        entryPoints: [APP],
        bundle: true,
        write: false,
        format: "iife",
        platform: "browser",
        target: "es2020",
        minify: false,
        legalComments: "none",
        logLevel: "silent",
        plugins: [DENO_PACKAGES],
      });
      return out.outputFiles[0].text as string;
    } finally {
      // the esbuild service is a child process: stop it so the caller can exit (and tests do
      // not see a leaked resource)
      await esbuild.stop();
    }
  })();
  appBundle.catch(() => (appBundle = undefined)); // not kept when it failed; the caller sees why
  return appBundle;
}

let plotlyText: Promise<string> | undefined;

/** The text of plotly.min.js from Deno's npm cache (downloaded by Deno when missing). */
export function plotlySource(): Promise<string> {
  plotlyText ??= (async () => {
    try {
      const mod = await import("plotly.js-dist-min/plotly.min.js", {
        with: { type: "text" },
      });
      return mod.default as string;
    } catch (e) {
      // fall back on node resolution inside the npm cache
      try {
        const path = createRequire(import.meta.url).resolve(PLOTLY_PACKAGE);
        return await Deno.readTextFile(path);
      } catch (fallback) {
        throw new Error(
          `cannot load ${PLOTLY}: ${e instanceof Error ? e.message : String(e)} ` +
            `(run \`deno cache reports/build_report.ts\` with network access once)`,
          { cause: fallback },
        );
      }
    }
  })();
  plotlyText.catch(() => (plotlyText = undefined)); // as appBundle
  return plotlyText;
}

/** A <script> element carrying `js`, safe against an early "</script>" inside it. */
function scriptTag(js: string, id: string): string {
  const escaped = js.replace(/<\/script/gi, "<\\/script");
  // "<!--" followed by "<script" would put the HTML parser into the double-escaped state, where
  // "</script>" no longer ends the element: ship such code as a data: URL instead (still inline)
  if (escaped.includes("<!--") && /<script/i.test(escaped)) {
    const b64 = bytesToBase64(new TextEncoder().encode(js));
    return `<script id="${id}" src="data:text/javascript;base64,${b64}"></script>`;
  }
  return `<script id="${id}">${escaped}</script>`;
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 16px 24px 48px; max-width: 1500px; color: #222; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.hint, .sub { color: #666; font-size: 12px; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 24px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
table.kv th { text-align: left; font-weight: 600; padding: 1px 12px 1px 0; color: #444; vertical-align: top; }
table.kv td { padding: 1px 0; }
table.grid { width: 100%; font-size: 13px; }
table.grid th, table.grid td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: top; }
table.grid th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
td.note { font-size: 12px; color: #555; white-space: pre-wrap; }
tr.unavailable td { color: #8a5a00; background: #fff8e6; }
.failed, tr.failed td { color: #b00020; background: #fdecee; font-weight: 600; }
td.partial { background: #fff8e6; }
td.gain, span.gain { color: #0a7a2f; font-weight: 600; }
td.best { outline: 2px solid #222; outline-offset: -2px; }
details summary { cursor: pointer; color: #555; }
td.loss, span.loss { color: #b00020; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; }
.chart { border: 1px solid #eee; border-radius: 4px; min-height: 300px; }
.chart.wide { margin-bottom: 12px; }
.failure { border-left: 4px solid #b00020; background: #fdecee; padding: 6px 10px; margin: 8px 0; }
.failure .what { font-weight: 600; color: #b00020; }
.failure pre { margin: 4px 0 0; white-space: pre-wrap; font-size: 12px; max-height: 220px; overflow: auto; }
.notice { border-left: 4px solid #8a5a00; background: #fff8e6; padding: 6px 10px; margin: 8px 0; }
select { font: inherit; padding: 2px 4px; }
pre.fatal { color: #b00020; background: #fdecee; padding: 8px; white-space: pre-wrap; }
`;

/** The complete page for `payload`. */
export async function renderHtml(payload: ReportPayload): Promise<string> {
  const [plotly, app] = await Promise.all([plotlySource(), bundleApp()]);
  // JSON inside a <script> element: "<" never appears literally, so nothing can end it early
  const data = JSON.stringify(payload).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(payload.title)}</title>
<style>${CSS}</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="results">${data}</script>
${scriptTag(plotly, "plotly")}
${scriptTag(app, "report-app")}
</body>
</html>
`;
}

/** Writes runDir/index.html for the run in runDir (results.json); returns its path. */
export async function writeReport(runDir: string): Promise<string> {
  const dir = resolve(runDir);
  const results = await readResults(dir);
  const traces = await readTraces(dir, results);
  const html = await renderHtml({
    kind: "run",
    title: `hakmem bench report — ${basename(dir)}`,
    source: join(dir, "results.json"),
    results,
    ...(traces.length > 0 ? { traces } : {}),
  });
  const out = join(dir, "index.html");
  await Deno.writeTextFile(out, html);
  return out;
}

/** Writes outDir/index.html comparing run B (runB) against run A (runA); returns its path. */
export async function writeCompareReport(
  runA: string,
  runB: string,
  outDir: string,
): Promise<string> {
  const a = resolve(runA);
  const b = resolve(runB);
  const [ra, rb] = await Promise.all([readResults(a), readResults(b)]);
  const label = (d: string) => `${basename(dirname(d))}/${basename(d)}`;
  const html = await renderHtml({
    kind: "compare",
    title: `hakmem bench comparison — ${basename(b)} vs ${basename(a)}`,
    labelA: label(a),
    labelB: label(b),
    a: ra,
    b: rb,
  });
  const dir = resolve(outDir);
  await Deno.mkdir(dir, { recursive: true });
  const out = join(dir, "index.html");
  await Deno.writeTextFile(out, html);
  return out;
}

if (import.meta.main) {
  const [x, y, z] = Deno.args;
  if (!x || (y && !z)) {
    console.error(
      "usage: deno run -A reports/build_report.ts RUN_DIR\n" +
        "       deno run -A reports/build_report.ts RUN_A RUN_B OUT_DIR",
    );
    Deno.exit(2);
  }
  console.log(y ? await writeCompareReport(x, y, z) : await writeReport(x));
}
