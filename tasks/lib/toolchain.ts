// The C toolchain: zig 0.15.2 (zig cc / zig ar), from PATH or provisioned from PyPI into .cache/.

import { join } from "node:path";
import { ROOT } from "./targets.ts";
import { CannotRun, run, runChecked } from "./run.ts";
import { isExecutable, removeIfPresent } from "./files.ts";

export const ZIG_VERSION = "0.15.2";
/** Where the workbench provisions its own zig (the PyPI "ziglang" wheel unpacked with pip). */
export const ZIG_CACHE_DIR = join(ROOT, ".cache", "zig", ZIG_VERSION);
const ZIG_CACHED_BIN = join(ZIG_CACHE_DIR, "ziglang", "zig");

/** Absolute path of `name` found on PATH, or null. */
export async function which(name: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    if (await isExecutable(p)) return p;
  }
  return null;
}

/** Environment for zig processes: its caches live under .cache/ so a clean clone is hermetic. */
export function zigEnv(): Record<string, string> {
  return {
    ZIG_GLOBAL_CACHE_DIR: join(ROOT, ".cache", "zig-global"),
    ZIG_LOCAL_CACHE_DIR: join(ROOT, ".cache", "zig-local"),
  };
}

async function versionOf(zig: string): Promise<string> {
  return (await runChecked(zig, ["version"], { env: zigEnv() })).trim();
}

const PROVISION_HINT = `install zig ${ZIG_VERSION} on PATH, or python3 with pip (Debian: ` +
  `apt-get install python3-pip) so the workbench can fetch ziglang==${ZIG_VERSION} from PyPI`;

async function provisionZig(): Promise<void> {
  console.error(
    `[toolchain] zig not on PATH: fetching ziglang==${ZIG_VERSION} from PyPI into ` +
      `${ZIG_CACHE_DIR}`,
  );
  // Install into a private directory, then rename: an interrupted or concurrent provisioning never
  // leaves a half-filled cache behind.
  const tmp = `${ZIG_CACHE_DIR}.tmp-${Deno.pid}`;
  await removeIfPresent(tmp);
  let res: Awaited<ReturnType<typeof run>>;
  try {
    res = await run("python3", [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--no-input",
      "--target",
      tmp,
      `ziglang==${ZIG_VERSION}`,
    ]);
  } catch (e) {
    if (!(e instanceof CannotRun)) throw e;
    throw new Error(`no zig: python3 is not available; ${PROVISION_HINT}`, { cause: e });
  }
  if (res.code !== 0 || !(await isExecutable(join(tmp, "ziglang", "zig")))) {
    await removeIfPresent(tmp);
    const detail = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("\n  ");
    throw new Error(
      `no zig: provisioning ziglang==${ZIG_VERSION} with pip failed; ${PROVISION_HINT}` +
        (detail ? `\n  pip said: ${detail}` : ""),
    );
  }
  await removeIfPresent(ZIG_CACHE_DIR);
  try {
    await Deno.rename(tmp, ZIG_CACHE_DIR);
  } catch (e) {
    // Another process finished first: keep its copy when it works.
    await removeIfPresent(tmp);
    if (!(await isExecutable(ZIG_CACHED_BIN))) throw e;
  }
}

async function locateZig(): Promise<string> {
  const onPath = await which("zig");
  if (onPath) {
    const v = await versionOf(onPath);
    console.error(`[toolchain] zig ${v} from PATH (${onPath})`);
    if (v !== ZIG_VERSION) {
      console.error(`[toolchain] warning: the workbench is pinned to zig ${ZIG_VERSION}`);
    }
    return onPath;
  }
  if (!(await isExecutable(ZIG_CACHED_BIN))) await provisionZig();
  const v = await versionOf(ZIG_CACHED_BIN);
  if (v !== ZIG_VERSION) {
    throw new Error(
      `${ZIG_CACHED_BIN} reports version ${v}, expected ${ZIG_VERSION}; ` +
        `delete ${ZIG_CACHE_DIR} and retry`,
    );
  }
  console.error(`[toolchain] zig ${v} (${ZIG_CACHED_BIN})`);
  return ZIG_CACHED_BIN;
}

let zigPromise: Promise<string> | undefined;

/** Path of the zig binary to use: `zig` from PATH, else the pinned one under .cache/ (fetched on
 * first use). Throws one clear message when neither can be had. */
export function zigPath(): Promise<string> {
  zigPromise ??= locateZig().catch((e) => {
    zigPromise = undefined;
    throw e;
  });
  return zigPromise;
}

let versionPromise: Promise<string> | undefined;

/** `zig version` of the zig that zigPath() picks. */
export function zigVersion(): Promise<string> {
  versionPromise ??= zigPath().then(versionOf).catch((e) => {
    versionPromise = undefined;
    throw e;
  });
  return versionPromise;
}
