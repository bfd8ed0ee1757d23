// The library's version, as core/include/hakmem.h defines it (HAKMEM_VERSION_*): one source for
// `deno task dist` and the tests. No process is run here, so a test's Worker can import it.

/** "1.0.0" from the HAKMEM_VERSION_MAJOR/MINOR/PATCH defines in `text`, the text of the header
 * `header` (named in the error when one is missing). */
export function versionOfHeader(text: string, header: string): string {
  const part = (name: string) => {
    const m = new RegExp(`^#define HAKMEM_VERSION_${name}\\s+(\\d+)\\s*$`, "m").exec(text);
    if (!m) throw new Error(`${header}: no "#define HAKMEM_VERSION_${name} <number>" line`);
    return m[1];
  };
  return ["MAJOR", "MINOR", "PATCH"].map(part).join(".");
}
