// A small reader for ELF64 little-endian shared objects: section headers, the dynamic symbol table,
// symbol version requirements (.gnu.version_r) and DT_NEEDED. Enough to check what libhakmem.so
// exports and which glibc it needs, without binutils.

const SHT_SYMTAB = 2;
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHN_UNDEF = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_FUNC = 2;
const STV_DEFAULT = 0;
const STV_PROTECTED = 3;
const DT_NEEDED = 1;
const SHF_EXECINSTR = 0x4;

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  bind: number;
  type: number;
  visibility: number;
  shndx: number;
}

export interface ElfFile {
  path: string;
  machine: number;
  /** ET_REL 1, ET_EXEC 2, ET_DYN 3. */
  type: number;
  sections: ElfSection[];
  bytes: Uint8Array;
  view: DataView;
}

function cstr(bytes: Uint8Array, off: number): string {
  let end = off;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}

function fail(path: string, why: string): never {
  throw new Error(`${path}: ${why}`);
}

/** Parses the ELF header and section headers of `path`. */
export async function readElf(path: string): Promise<ElfFile> {
  const bytes = await Deno.readFile(path);
  return parseElf(bytes, path);
}

export function parseElf(bytes: Uint8Array, path = "<memory>"): ElfFile {
  if (
    bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) {
    fail(path, "not an ELF file");
  }
  if (bytes[4] !== 2) fail(path, "not ELF64");
  if (bytes[5] !== 1) fail(path, "not little-endian");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(0x10, true);
  const machine = view.getUint16(0x12, true);
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shoff === 0 || shnum === 0) fail(path, "no section headers");
  if (shentsize < 64 || shoff + shnum * shentsize > bytes.length) {
    fail(path, "section header table out of bounds");
  }
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: view.getUint32(o, true),
      type: view.getUint32(o + 4, true),
      flags: view.getBigUint64(o + 8, true),
      addr: view.getBigUint64(o + 16, true),
      offset: Number(view.getBigUint64(o + 24, true)),
      size: Number(view.getBigUint64(o + 32, true)),
      link: view.getUint32(o + 40, true),
      info: view.getUint32(o + 44, true),
      entsize: Number(view.getBigUint64(o + 56, true)),
    });
  }
  const strtab = raw[shstrndx];
  if (!strtab) fail(path, "bad section name table index");
  const sections = raw.map((s) => ({
    name: cstr(bytes, strtab.offset + s.nameOff),
    type: s.type,
    flags: s.flags,
    addr: s.addr,
    offset: s.offset,
    size: s.size,
    link: s.link,
    info: s.info,
    entsize: s.entsize,
  }));
  for (const s of sections) {
    if (s.type !== 8 /* SHT_NOBITS */ && s.offset + s.size > bytes.length) {
      fail(path, `section ${s.name} out of bounds`);
    }
  }
  return { path, machine, type, sections, bytes, view };
}

function symbolsOf(elf: ElfFile, shType: number): ElfSymbol[] {
  const sec = elf.sections.find((s) => s.type === shType);
  if (!sec) return [];
  const strs = elf.sections[sec.link];
  if (!strs) fail(elf.path, `${sec.name} has no string table`);
  const ent = sec.entsize || 24;
  const out: ElfSymbol[] = [];
  for (let o = sec.offset; o + ent <= sec.offset + sec.size; o += ent) {
    const info = elf.view.getUint8(o + 4);
    out.push({
      name: cstr(elf.bytes, strs.offset + elf.view.getUint32(o, true)),
      bind: info >> 4,
      type: info & 0xf,
      visibility: elf.view.getUint8(o + 5) & 3,
      shndx: elf.view.getUint16(o + 6, true),
      value: elf.view.getBigUint64(o + 8, true),
      size: elf.view.getBigUint64(o + 16, true),
    });
  }
  return out;
}

/** All entries of .dynsym (index 0, the null symbol, included). */
export function dynamicSymbols(elf: ElfFile): ElfSymbol[] {
  return symbolsOf(elf, SHT_DYNSYM);
}

/**
 * Names of the symbols `path` exports: defined in .dynsym, GLOBAL or WEAK binding, default (or
 * protected) visibility. Sorted, without version suffixes.
 */
export async function exportedSymbols(path: string): Promise<string[]> {
  const elf = await readElf(path);
  const names = dynamicSymbols(elf)
    .filter((s) =>
      s.name !== "" && s.shndx !== SHN_UNDEF &&
      (s.bind === STB_GLOBAL || s.bind === STB_WEAK) &&
      (s.visibility === STV_DEFAULT || s.visibility === STV_PROTECTED)
    )
    .map((s) => s.name);
  return [...new Set(names)].sort();
}

/** The global symbols a relocatable object (.o) defines and those it needs from others. Sorted. */
export async function objectSymbols(
  path: string,
): Promise<{ defined: string[]; needed: string[] }> {
  const syms = symbolsOf(await readElf(path), SHT_SYMTAB).filter((s) =>
    s.name !== "" && (s.bind === STB_GLOBAL || s.bind === STB_WEAK)
  );
  const names = (keep: (s: ElfSymbol) => boolean) =>
    [...new Set(syms.filter(keep).map((s) => s.name))].sort();
  return {
    defined: names((s) => s.shndx !== SHN_UNDEF),
    needed: names((s) => s.shndx === SHN_UNDEF),
  };
}

/** Names of the undefined symbols `path` needs from other objects. Sorted. */
export async function importedSymbols(path: string): Promise<string[]> {
  const elf = await readElf(path);
  const names = dynamicSymbols(elf)
    .filter((s) => s.name !== "" && s.shndx === SHN_UNDEF)
    .map((s) => s.name);
  return [...new Set(names)].sort();
}

/** Version requirements from .gnu.version_r: for each needed file, the version names. */
export function versionNeeds(elf: ElfFile): { file: string; versions: string[] }[] {
  const sec = elf.sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (!sec) return [];
  const strs = elf.sections[sec.link];
  if (!strs) fail(elf.path, ".gnu.version_r has no string table");
  const v = elf.view;
  const out: { file: string; versions: string[] }[] = [];
  let off = sec.offset;
  for (let i = 0; i < sec.info; i++) {
    if (off + 16 > sec.offset + sec.size) fail(elf.path, ".gnu.version_r truncated");
    const cnt = v.getUint16(off + 2, true);
    const file = cstr(elf.bytes, strs.offset + v.getUint32(off + 4, true));
    const versions: string[] = [];
    let aux = off + v.getUint32(off + 8, true);
    for (let j = 0; j < cnt; j++) {
      if (aux + 16 > sec.offset + sec.size) fail(elf.path, ".gnu.version_r aux truncated");
      versions.push(cstr(elf.bytes, strs.offset + v.getUint32(aux + 8, true)));
      const next = v.getUint32(aux + 12, true);
      if (next === 0) break;
      aux += next;
    }
    out.push({ file, versions });
    const next = v.getUint32(off + 12, true);
    if (next === 0) break;
    off += next;
  }
  return out;
}

/** Numeric comparison of dotted versions ("2.17" < "2.2.5" is false: 17 > 2). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The GLIBC_x.y version names `path` requires (any needed glibc library), e.g. ["GLIBC_2.2.5",
 * "GLIBC_2.3.2"], sorted by version. GLIBC_PRIVATE is listed last when present.
 */
export async function requiredGlibcVersions(path: string): Promise<string[]> {
  const elf = await readElf(path);
  const names = new Set<string>();
  for (const need of versionNeeds(elf)) {
    for (const v of need.versions) if (v.startsWith("GLIBC_")) names.add(v);
  }
  const numeric = (s: string) => /^GLIBC_\d+(\.\d+)*$/.test(s);
  const list = [...names];
  return [
    ...list.filter(numeric).sort((a, b) => compareVersions(a.slice(6), b.slice(6))),
    ...list.filter((s) => !numeric(s)).sort(),
  ];
}

/** Highest numeric version in a list of GLIBC_x.y names ("2.14"), or null for none. */
export function maxGlibcVersion(versions: string[]): string | null {
  let best: string | null = null;
  for (const v of versions) {
    const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v);
    if (m && (best === null || compareVersions(m[1], best) > 0)) best = m[1];
  }
  return best;
}

/** DT_NEEDED entries of the dynamic section (the shared libraries `path` links against). */
export async function neededLibraries(path: string): Promise<string[]> {
  const elf = await readElf(path);
  const dyn = elf.sections.find((s) => s.type === SHT_DYNAMIC);
  if (!dyn) return [];
  const strs = elf.sections[dyn.link];
  if (!strs) return [];
  const out: string[] = [];
  for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.size; o += 16) {
    const tag = elf.view.getBigInt64(o, true);
    if (tag === 0n) break;
    if (tag === BigInt(DT_NEEDED)) {
      out.push(cstr(elf.bytes, strs.offset + Number(elf.view.getBigUint64(o + 8, true))));
    }
  }
  return out;
}

export interface LseHit {
  /** Virtual address of the instruction. */
  addr: bigint;
  word: number;
  /** Function containing it, when the symbol table tells. */
  func: string | null;
}

/** True for an AArch64 instruction word from the ARMv8.1 LSE atomics: CAS*, CASP*, SWP*, LD<op>*
 * and ST<op>* (encoded as LD<op> with Rt = zr). */
export function isLseInstruction(w: number): boolean {
  // Atomic memory operations (LDADD, LDCLR, LDEOR, LDSET, LD[SU]MAX/MIN, SWP; and LDAPR, v8.3).
  if (((w & 0x3f200c00) >>> 0) === 0x38200000) return true;
  // CAS, CASA, CASL, CASAL (B/H/W/X): o2=1, o1=1, Rt2=11111.
  if (((w & 0x3fa07c00) >>> 0) === 0x08a07c00) return true;
  // CASP*: bit31=0, o2=0, o1=1, Rt2=11111 (LDXP/STXP have bit31=1).
  if (((w & 0xbfa07c00) >>> 0) === 0x08207c00) return true;
  return false;
}

/**
 * LSE atomic instructions in the executable sections of an AArch64 object, outside the compiler's
 * outline-atomics helpers (`__aarch64_*`, which pick LSE or LL/SC by HWCAP at run time). An empty
 * result means the code runs on a plain ARMv8.0 CPU.
 */
export async function aarch64LseInstructions(path: string): Promise<LseHit[]> {
  const elf = await readElf(path);
  if (elf.machine !== EM_AARCH64) fail(path, "not an AArch64 ELF file");
  const funcs = [...symbolsOf(elf, SHT_SYMTAB), ...dynamicSymbols(elf)]
    .filter((s) => s.type === STT_FUNC && s.shndx !== SHN_UNDEF && s.size > 0n);
  const funcAt = (addr: bigint) =>
    funcs.find((f) => addr >= f.value && addr < f.value + f.size)?.name ?? null;
  const hits: LseHit[] = [];
  for (const sec of elf.sections) {
    if ((sec.flags & BigInt(SHF_EXECINSTR)) === 0n || sec.type === 8) continue;
    for (let i = 0; i + 4 <= sec.size; i += 4) {
      const w = elf.view.getUint32(sec.offset + i, true);
      if (!isLseInstruction(w)) continue;
      const addr = sec.addr + BigInt(i);
      const func = funcAt(addr);
      if (func?.startsWith("__aarch64_")) continue;
      hits.push({ addr, word: w, func });
    }
  }
  return hits;
}
