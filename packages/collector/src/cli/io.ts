/** What a command may touch: injected so tests run the CLI in-process. */
export interface CliIo {
  /** `isTTY` (a terminal) makes `sessions --watch` redraw a table instead of printing lines. */
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborting it stops `serve` as SIGINT would. Default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
  /** Working directory for relative paths. Default: `process.cwd()`. */
  cwd?: string;
}

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
