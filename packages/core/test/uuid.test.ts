import { isUuid, uuidv7 } from '@eventloom/core';
import { describe, expect, it } from 'vitest';

describe('uuidv7', () => {
  it('makes unique, well-formed, strictly increasing ids', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the time in its first 48 bits', () => {
    const at = Date.UTC(2026, 10, 26, 12, 0, 0);
    const id = uuidv7(at + 1_000_000);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(at + 1_000_000);
  });
});
