/// <reference lib="dom" />
// The bench report page (browser code, bundled by reports/build_report.ts with esbuild into one
// self-contained index.html). It renders from the payload embedded in the page
// (`globalThis.__HAKMEM_RESULTS__`, else `<script type="application/json" id="results">`): one run,
// or two runs side by side ("compare"). Charts use plotly.js (the global `Plotly`, inlined into the
// page before this script). Statistics come from tasks/bench/stats.ts, the same module the bench
// driver prints its table with, so the page and the terminal agree. One module per section:
// page_header, page_overview, page_oracle, page_ladder, page_workloads, page_memory, page_instructions,
// page_hakmem, page_learning, page_results, page_compare, page_programs (also the whole page of
// `deno task compare`).
//
// When everything is drawn, <body> gets data-render="done" and data-plots="<number of charts>";
// on an error data-render="error" (and the error is shown on the page and in the console).

import type { ReportPayload, Results } from "./schema.ts";
import { appRoot, showError } from "./errors.ts";
import { h, settle } from "./ui.ts";
import { view } from "./view.ts";
import { headerSection } from "./pages/header.ts";
import { overviewSection } from "./pages/overview.ts";
import { headlinesSection } from "./pages/headlines.ts";
import { oracleSection } from "./pages/oracle.ts";
import { ladderSection } from "./pages/ladder.ts";
import { latencySection, workloadSection } from "./pages/workloads.ts";
import { memorySection } from "./pages/memory.ts";
import { instructionsSection } from "./pages/instructions.ts";
import { hakmemSection } from "./pages/hakmem.ts";
import { learningSection } from "./pages/learning.ts";
import { failuresSection, resultsTableSection } from "./pages/results.ts";
import { renderCompare } from "./pages/compare.ts";
import { programsSection, renderCommand } from "./pages/programs.ts";

function renderRun(root: HTMLElement, p: Extract<ReportPayload, { kind: "run" }>): void {
  if (p.results.programs?.mode === "compare") return renderCommand(root, p);
  const v = view(p.results);
  root.append(h("h1", null, p.title), h("p", { class: "hint" }, `source: ${p.source}`));
  root.append(headerSection(p.results));
  const timed = p.results.samples.length > 0;
  const sections = [
    timed ? headlinesSection(v) : null,
    timed ? overviewSection(v) : null,
    timed ? oracleSection(v) : null,
    timed ? ladderSection(v) : null,
    timed ? workloadSection(v) : null,
    timed ? latencySection(v) : null,
    timed ? memorySection(v) : null,
    programsSection(p.results),
    instructionsSection(p.results),
    timed ? hakmemSection(v) : null,
    p.traces && p.traces.length > 0 ? learningSection(v, p.traces) : null,
    timed ? resultsTableSection(v) : null,
    failuresSection(p.results),
  ];
  for (const s of sections) if (s) root.append(s);
}

function loadPayload(): ReportPayload {
  let raw: unknown = globalThis.__HAKMEM_RESULTS__;
  if (raw === undefined) {
    const el = document.getElementById("results");
    if (!el || !el.textContent) throw new Error("no results embedded in the page");
    raw = JSON.parse(el.textContent);
  }
  const o = raw as Record<string, unknown>;
  if (o && (o.kind === "run" || o.kind === "compare")) return o as unknown as ReportPayload;
  // a bare results.json
  return {
    kind: "run",
    title: "hakmem bench report",
    source: "embedded results",
    results: raw as Results,
  };
}

async function main(): Promise<void> {
  const root = appRoot();
  try {
    const p = loadPayload();
    document.title = p.title;
    if (p.kind === "run") renderRun(root, p);
    else renderCompare(root, p);
    await settle();
  } catch (e) {
    showError(e);
  }
}

void main();
