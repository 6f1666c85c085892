import type { Io } from './io.ts';

export async function run(_args: string[], io: Io): Promise<number> {
  io.err('not built yet\n');
  return 2;
}
