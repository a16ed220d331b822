/** The compiled decoders of reads with fields against the plain ones, for every field set (no server needed). */
import { EVENT_FIELDS } from '@eventloom/core';
import { normalizeFields } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';
import { fieldPlan } from '../src/field-rows.js';

/** A value per column expression's leading name, as node-postgres hands them out (NULL for the usual three). */
function cell(expression: string, usual: boolean): unknown {
  const name = expression.startsWith('nullif(') ? expression.slice(7, expression.indexOf(',')) : expression;
  const values: Record<string, unknown> = {
    position: 7n,
    id: '0190a0b0-0000-7000-8000-000000000001',
    stream_id: 'order-1',
    stream_version: 3n,
    type: 'OrderPaid',
    schema_version: usual ? null : 2,
    data: { amount: 5 },
    metadata: usual ? null : { tenantId: 't' },
    correlation_id: 'corr',
    causation_id: usual ? null : 'cause',
    time: '2026-01-01T00:00:00.000Z',
    source: usual ? null : 'svc',
  };
  return values[name];
}

describe('field-rows (PostgreSQL)', () => {
  it('compiled and plain decoders agree on every field set, both kinds of read, at an offset, with usual and unusual values', () => {
    for (let mask = 1; mask < 1 << EVENT_FIELDS.length; mask++) {
      const fields = EVENT_FIELDS.filter((_, i) => (mask & (1 << i)) !== 0);
      const selection = normalizeFields(fields)!;
      for (const kind of ['log', 'stream'] as const) {
        const compiled = fieldPlan(selection, kind);
        const plain = fieldPlan(selection, kind, false);
        expect(compiled.columns).toBe(plain.columns);
        for (const usual of [true, false]) {
          const row = ['stream-row', 'x', 'y', ...compiled.columns.split(', ').map((c) => cell(c, usual))];
          const a = compiled.decode(row, 3, 'order-1');
          expect(Object.keys(a)).toEqual(fields);
          expect(a).toStrictEqual(plain.decode(row, 3, 'order-1'));
        }
      }
    }
  });
});
