// Files whose absence is an answer, not an error: "is it there", "remove it if it is", "read it if
// it is". Only a missing path is taken as absence; any other failure (permissions, I/O, a file
// where a folder should be) is thrown with the path and the cause kept.

/** True for the error a file operation throws when its path does not exist (or a part of it is
 * not a folder). */
export function isMissing(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
}

function failed(what: string, path: string, e: unknown): Error {
  return new Error(`cannot ${what} ${path}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

/** Deno.stat of `path`, or null when it does not exist. */
export async function statIfPresent(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (isMissing(e)) return null;
    throw failed("stat", path, e);
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return (await statIfPresent(path)) !== null;
}

/** Whether `path` exists (blocking; for code that cannot wait). */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw failed("stat", path, e);
  }
}

/** Removes `path` (a folder with everything in it); nothing to do when it does not exist. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!isMissing(e)) throw failed("remove", path, e);
  }
}

/** The text of `path`, or null when it does not exist. */
export async function readTextIfPresent(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (isMissing(e)) return null;
    throw failed("read", path, e);
  }
}

/** Whether `path` is a file that someone may execute. */
export async function isExecutable(path: string): Promise<boolean> {
  const st = await statIfPresent(path);
  return st !== null && st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
}
