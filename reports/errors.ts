/// <reference lib="dom" />
// The report page's root element and how it shows an error (on the page and in the console,
// with body[data-render=error] for the tests).

import { h } from "./ui.ts";

export function appRoot(): HTMLElement {
  return document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
}

/** Shows `e` on the page and in the console, and marks the page as failed. */
export function showError(e: unknown): void {
  const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
  appRoot().prepend(h("pre", { class: "fatal" }, `The report could not be rendered:\n${msg}`));
  document.body.dataset.render = "error";
  console.error(e);
}
