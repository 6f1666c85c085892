import type { Io } from '../../cli/io.ts';

/** An `Io` that keeps what a command writes, for in-process CLI tests. */
export interface CapturedIo extends Io {
  readonly stdout: string;
  readonly stderr: string;
  /** stdout then stderr. */
  readonly output: string;
}

export function captureIo(): CapturedIo {
  let stdout = '';
  let stderr = '';
  return {
    out: (text) => {
      stdout += text;
    },
    err: (text) => {
      stderr += text;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get output() {
      return stdout + stderr;
    },
  };
}
