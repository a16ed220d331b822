/** The compiled decoders of reads with fields against the plain ones, for every field set. */
import { EVENT_FIELDS } from '@eventloom/core';
import { normalizeFields } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';
import { fieldPlan } from '../src/field-rows.js';

const columns: Record<string, unknown> = {
  position: 7n,
  id: '0190a0b0-0000-7000-8000-000000000001',
  stream_id: 'order-1',
  stream_version: 3n,
  type: 'OrderPaid',
  data: '{"amount":5,"nested":{"a":[1,"x"]}}',
  time: '2026-01-01T00:00:00.000Z',
};

describe('field-rows (SQLite)', () => {
  it('compiled and plain decoders agree on every field set, both kinds of read, with and without an envelope', () => {
    for (let mask = 1; mask < 1 << EVENT_FIELDS.length; mask++) {
      const fields = EVENT_FIELDS.filter((_, i) => (mask & (1 << i)) !== 0);
      const selection = normalizeFields(fields)!;
      for (const kind of ['log', 'stream'] as const) {
        const compiled = fieldPlan(selection, kind);
        const plain = fieldPlan(selection, kind, false);
        expect(compiled.columns).toBe(plain.columns);
        for (const envelope of [null, '[2,{"tenantId":"t"},"corr","cause","svc"]']) {
          const row = compiled.columns.split(', ').map((column) => (column === 'envelope' ? envelope : columns[column]));
          const a = compiled.decode(row, 'order-1');
          const b = plain.decode(row, 'order-1');
          expect(Object.keys(a)).toEqual(fields);
          expect(a).toStrictEqual(b);
        }
      }
    }
  });
});
