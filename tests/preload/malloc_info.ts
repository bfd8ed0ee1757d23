// malloc_info's document, read strictly (any XML error throws) and walked by glibc's element
// names; shared by the FFI and the preload tests of the entry points.

import { DOMParser, type Element } from "@xmldom/xmldom";
import type { Mallinfo } from "../../bindings/hakmem.ts";

export { type Mallinfo, MALLINFO_FIELDS } from "../../bindings/hakmem.ts";

export interface MallocInfo {
  /** the root's attributes */
  version: string;
  /** `<total type=… count=… size=…/>` directly under <malloc>, by type */
  totals: Record<string, { count: number; size: number }>;
  /** `<system type=… size=…/>` and `<aspace …/>` under <malloc>, by type */
  system: Record<string, number>;
  aspace: Record<string, number>;
  /** the <heap> elements: nr and their own system/aspace/total figures */
  heaps: { nr: string; totals: Record<string, { count: number; size: number }> }[];
  /** hakmem's element: its attributes, each tier's fields, the counters */
  hakmem: {
    attrs: Record<string, string>;
    tiers: Record<string, Record<string, number>>;
    counters: Record<string, number>;
  };
}

function attrs(e: Element): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < e.attributes.length; i++) {
    const a = e.attributes.item(i)!;
    out[a.name] = a.value;
  }
  return out;
}

function numbers(a: Record<string, string>, skip: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a)) {
    if (skip.includes(k)) continue;
    if (!/^\d+$/.test(v)) throw new Error(`attribute ${k}="${v}" is not a count`);
    out[k] = Number(v);
  }
  return out;
}

function children(e: Element, name: string): Element[] {
  const out: Element[] = [];
  for (let n = e.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).tagName === name) out.push(n as Element);
  }
  return out;
}

function totals(e: Element): Record<string, { count: number; size: number }> {
  return Object.fromEntries(
    children(e, "total").map((t) => {
      const a = numbers(attrs(t), ["type"]);
      return [t.getAttribute("type")!, { count: a.count, size: a.size }];
    }),
  );
}

function sized(e: Element, name: string): Record<string, number> {
  return Object.fromEntries(
    children(e, name).map((s) => [s.getAttribute("type")!, Number(s.getAttribute("size"))]),
  );
}

/** Parses malloc_info's text; throws on any XML error or a root other than <malloc>. */
export function parseMallocInfo(text: string): MallocInfo {
  const doc = new DOMParser({
    onError: (level: string, msg: string) => {
      throw new Error(`malloc_info XML ${level}: ${msg}\n${text}`);
    },
  }).parseFromString(text, "text/xml");
  const root = doc.documentElement;
  if (root === null || root.tagName !== "malloc") throw new Error(`no <malloc> root:\n${text}`);
  const hak = children(root, "hakmem")[0];
  return {
    version: root.getAttribute("version") ?? "",
    totals: totals(root),
    system: sized(root, "system"),
    aspace: sized(root, "aspace"),
    heaps: children(root, "heap").map((h) => ({
      nr: h.getAttribute("nr") ?? "",
      totals: totals(h),
    })),
    hakmem: {
      attrs: hak ? attrs(hak) : {},
      tiers: Object.fromEntries(
        (hak ? children(hak, "tier") : []).map((t) => [
          t.getAttribute("name")!,
          numbers(attrs(t), ["name"]),
        ]),
      ),
      counters: hak ? numbers(attrs(children(hak, "counters")[0]), []) : {},
    },
  };
}

/** What hakmem's mallinfo2 says for these statistics (README "Statistics"), all but keepcost
 * (BigCache's idle bytes, which the statistics do not list). `counters` holds bytes_mapped,
 * peak_mapped and segments. */
export function mallinfoOf(
  tiers: Record<string, Record<string, number>>,
  counters: Record<string, number>,
): Omit<Mallinfo, "keepcost"> {
  const large = tiers.large;
  const arena = Math.max(0, counters.bytes_mapped - large.bytes_in_use);
  const uordblks = tiers.tiny.bytes_in_use + tiers.mid.bytes_in_use;
  return {
    arena,
    ordblks: counters.segments,
    smblks: 0,
    hblks: large.allocs - large.frees,
    hblkhd: large.bytes_in_use,
    usmblks: counters.peak_mapped,
    fsmblks: 0,
    uordblks,
    fordblks: Math.max(0, arena - uordblks),
  };
}
