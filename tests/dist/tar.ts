// A reader of gzip'd tar headers, for checking what `deno task dist` wrote byte by byte (the
// extraction itself is left to tar).

import { gunzipSync } from "node:zlib";

export interface TarEntry {
  /** Full name (ustar prefix joined), directories with their trailing slash. */
  name: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtime: number;
  /** "0" file, "5" folder, "x"/"g" pax headers, "L"/"K" GNU long names, ... */
  type: string;
  /** "ustar\0" + "00" for POSIX ustar, "ustar  \0" for the old GNU format. */
  magic: string;
}

export interface GzipHeader {
  /** FLG: FNAME (8), FCOMMENT (16), FEXTRA (4) ... */
  flags: number;
  /** MTIME, seconds; 0 means none. */
  mtime: number;
}

const BLOCK = 512;

function field(h: Uint8Array, off: number, len: number): string {
  const b = h.subarray(off, off + len);
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

function octal(h: Uint8Array, off: number, len: number, what: string): number {
  const s = field(h, off, len).trim();
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar header: ${what} "${s}" is not octal`);
  return parseInt(s, 8);
}

export function gzipHeader(gz: Uint8Array): GzipHeader {
  if (gz[0] !== 0x1f || gz[1] !== 0x8b) throw new Error("not gzip data");
  return { flags: gz[3], mtime: new DataView(gz.buffer, gz.byteOffset).getUint32(4, true) };
}

/** Every header of a .tar.gz, in archive order. */
export function tarEntries(gz: Uint8Array): TarEntry[] {
  const tar = new Uint8Array(gunzipSync(gz));
  const out: TarEntry[] = [];
  for (let off = 0; off + BLOCK <= tar.length;) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break; // end of archive
    const name = field(h, 0, 100);
    const prefix = field(h, 345, 155);
    const e: TarEntry = {
      name: prefix ? `${prefix}/${name}` : name,
      mode: octal(h, 100, 8, "mode"),
      uid: octal(h, 108, 8, "uid"),
      gid: octal(h, 116, 8, "gid"),
      size: octal(h, 124, 12, "size"),
      mtime: octal(h, 136, 12, "mtime"),
      type: String.fromCharCode(h[156]),
      magic: new TextDecoder().decode(h.subarray(257, 265)),
      uname: field(h, 265, 32),
      gname: field(h, 297, 32),
    };
    out.push(e);
    off += BLOCK + Math.ceil(e.size / BLOCK) * BLOCK;
  }
  return out;
}
