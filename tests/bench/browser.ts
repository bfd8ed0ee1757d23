// Headless Chromium for the report tests: Debian's /usr/bin/chromium (installed with apt when
// missing and we are root) driven by playwright-core, every request other than the page's own
// file refused, so a page that reaches out fails. Shared by report_browser.test.ts and the
// programs/compare tests.

import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { skipOrFail } from "../../tasks/lib/ci.ts";
import { ensurePackages, probeOk } from "../../tasks/lib/deps.ts";
import { removeIfPresent } from "../../tasks/lib/files.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Makes sure Chromium is there (installing it when root with apt); false when it is not. */
export async function haveChromium(t: Deno.TestContext): Promise<boolean> {
  if (await probeOk(CHROMIUM)) return true;
  try {
    await ensurePackages([{ deb: "chromium", why: "renders the bench report", probe: CHROMIUM }]);
    return true;
  } catch (e) {
    skipOrFail(t, e instanceof Error ? e.message : String(e));
    return false;
  }
}

export interface PageReport {
  errors: string[];
  blocked: string[];
  render: string | null;
  plotsDeclared: number;
  plotsDrawn: number;
  text: string;
}

export type Browser = Awaited<ReturnType<typeof chromium.launchPersistentContext>>;
export type Page = Awaited<ReturnType<Browser["newPage"]>>;

/** Opens `html` (a file path) in `ctx`, waits for the report to finish, returns what it saw. */
export async function openReport(
  ctx: Browser,
  html: string,
  screenshot: string,
): Promise<PageReport> {
  const { page, errors, blocked } = await openPage(ctx, html);
  const info = await inspect(page, screenshot);
  await page.close();
  return { errors, blocked, ...info };
}

/** Opens `html` in a new page of `ctx` and waits for the report to finish; `errors` and `blocked`
 * keep collecting while the page is open. */
export async function openPage(
  ctx: Browser,
  html: string,
): Promise<{ page: Page; errors: string[]; blocked: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const blocked: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // the page must be self-contained: any request other than the file itself is refused
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("about:")) {
      return route.continue();
    }
    blocked.push(url);
    return route.abort();
  });
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(pathToFileURL(html).href, { waitUntil: "load", timeout: 60_000 });
  await page.waitForSelector("body[data-render]", { timeout: 60_000 });
  return { page, errors, blocked };
}

/** What the report in `page` shows once it has finished drawing; takes a screenshot. */
export async function inspect(
  page: Page,
  screenshot: string,
): Promise<Omit<PageReport, "errors" | "blocked">> {
  await page.waitForSelector("body[data-render]:not([data-render=drawing])", { timeout: 60_000 });
  // evaluated in the page (a string: this module is not type-checked against the DOM); a chart
  // is drawn when its SVG holds a bar, a line or a marker
  const info = await page.evaluate(`(() => {
    const plots = [...document.querySelectorAll(".js-plotly-plot")];
    return {
      render: document.body.dataset.render ?? null,
      plotsDeclared: Number(document.body.dataset.plots ?? "-1"),
      plotsDrawn: plots.filter((p) => p.querySelector("svg.main-svg") !== null && p.querySelector(".barlayer .point path, .scatterlayer .trace path.js-line, .scatterlayer .trace .points path.point") !== null).length,
      text: document.body.innerText,
    };
  })()`) as Omit<PageReport, "errors" | "blocked">;
  await page.screenshot({ path: screenshot, fullPage: true });
  return info;
}

export async function withBrowser(fn: (ctx: Browser) => Promise<void>): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "hakmem-chromium-" });
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  try {
    await fn(ctx);
  } finally {
    await ctx.close();
    await removeIfPresent(profile);
  }
}

export function assertClean(r: PageReport, what: string): void {
  assert.deepEqual(r.errors, [], `${what}: console or page errors`);
  assert.deepEqual(r.blocked, [], `${what}: the page requested external resources`);
  assert.deepEqual(r.render, "done", `${what}: the page did not finish rendering:\n${r.text}`);
}
