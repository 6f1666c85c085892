import { describe, expect, it } from 'vitest';
import { freePort } from '../../../functions/local/ports.ts';

/**
 * Regression: two test files starting at once in parallel workers picked the same random port
 * (EADDRINUSE when the second listener started); one gateway could get the same port twice.
 */
describe('freePort', () => {
  it('never hands out a port twice in one process, and draws from this worker’s own slice', async () => {
    const ports = [];
    for (let i = 0; i < 40; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    const pool = Number(process.env.VITEST_POOL_ID);
    expect(pool).toBeGreaterThanOrEqual(1);
    const size = Math.floor(12_000 / 8);
    const first = 20_000 + ((pool - 1) % 8) * size;
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(first);
      expect(port).toBeLessThan(first + size);
    }
  });
});
