import { cpus } from 'node:os';

/** The median of a list (the upper one of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Nearest-rank percentile (`p` in 0–100): p99 of 2500 samples is the 2475th smallest. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** What the figures were measured on: they only compare within one run on one machine. */
export function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, node ${process.version}, ${process.platform}/${process.arch}`;
}

/** One line of a figures table: what, the figure, and the goal it is held to (if any). */
export interface Row {
  readonly figure: string;
  readonly value: string;
  readonly goal?: string;
  /** Undefined for figures without a goal (context, baselines). */
  readonly met?: boolean;
}

export function printTable(title: string, rows: readonly Row[]): void {
  const width = Math.max(...rows.map((r) => r.figure.length));
  const valueWidth = Math.max(...rows.map((r) => r.value.length));
  const goalWidth = Math.max(4, ...rows.map((r) => r.goal?.length ?? 0));
  console.log(`\n${title}`);
  for (const r of rows) {
    const verdict = r.met === undefined ? '' : r.met ? 'met' : 'MISSED';
    console.log(
      `  ${r.figure.padEnd(width)}  ${r.value.padStart(valueWidth)}  ${(r.goal ?? '').padEnd(goalWidth)}  ${verdict}`,
    );
  }
}

export const ms = (value: number, digits = 2) => `${value.toFixed(digits)} ms`;
