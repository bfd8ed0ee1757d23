// The C toolchain: zig 0.15.2 (zig cc / zig ar), from PATH or provisioned from PyPI into .cache/,
// plus small process helpers shared by the other tasks.

import { join } from "node:path";
import { constants } from "node:os";
import { ROOT } from "./targets.ts";
import { run } from "./run.ts";

export const ZIG_VERSION = "0.15.2";
/** Where the workbench provisions its own zig (the PyPI "ziglang" wheel unpacked with pip). */
export const ZIG_CACHE_DIR = join(ROOT, ".cache", "zig", ZIG_VERSION);
const ZIG_CACHED_BIN = join(ZIG_CACHE_DIR, "ziglang", "zig");

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Inherit stdout/stderr instead of capturing them. */
  inherit?: boolean;
}

/** Runs a command to completion (tasks/run.ts); never throws for a non-zero exit (only when it
 * cannot start). A child killed by a signal reports code 128 + its number, as a shell would. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: RunOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await run(cmd, args, opts);
  const signals = constants.signals as Record<string, number>;
  const code = r.code ?? 128 + (r.signal ? signals[r.signal] ?? 0 : 0);
  return { code, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and throws (with its output) unless it exits 0. Returns stdout. */
export async function runChecked(cmd: string, args: string[], opts: RunOptions = {}) {
  let res: Awaited<ReturnType<typeof runCommand>>;
  try {
    res = await runCommand(cmd, args, opts);
  } catch (e) {
    throw new Error(`cannot run ${cmd}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.code !== 0) {
    const output = (res.stderr + res.stdout).trim();
    throw new Error(
      `command failed (exit ${res.code}): ${[cmd, ...args].join(" ")}` +
        (output ? `\n${output}` : ""),
    );
  }
  return res.stdout;
}

/** Absolute path of `name` found on PATH, or null. */
export async function which(name: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      const st = await Deno.stat(p);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    const st = await Deno.stat(p);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
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
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  let res: Awaited<ReturnType<typeof runCommand>>;
  try {
    res = await runCommand("python3", [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--no-input",
      "--target",
      tmp,
      `ziglang==${ZIG_VERSION}`,
    ]);
  } catch {
    throw new Error(`no zig: python3 is not available; ${PROVISION_HINT}`);
  }
  if (res.code !== 0 || !(await isExecutable(join(tmp, "ziglang", "zig")))) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const detail = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("\n  ");
    throw new Error(
      `no zig: provisioning ziglang==${ZIG_VERSION} with pip failed; ${PROVISION_HINT}` +
        (detail ? `\n  pip said: ${detail}` : ""),
    );
  }
  await Deno.remove(ZIG_CACHE_DIR, { recursive: true }).catch(() => {});
  try {
    await Deno.rename(tmp, ZIG_CACHE_DIR);
  } catch (e) {
    // Another process finished first: keep its copy when it works.
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
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
