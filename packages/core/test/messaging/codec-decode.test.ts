// The decode path's shortcuts read exactly what the general path reads: a time already in
// toISOString's form is taken as it is (every other form is parsed and written again), attributes
// are read by constant names, and every refusal keeps its reason, label and precedence.
import { InvalidMessageError, uuidv7, type MessageEnvelope } from '@eventloom/core';
import { decodeMessage, encodeMessage } from '@eventloom/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  const id = uuidv7();
  return {
    id,
    type: 'OrderCreated',
    schemaVersion: 1,
    time: '2026-12-01T12:00:00.123Z',
    source: 'orders',
    correlationId: id,
    causationId: null,
    subject: 'ord-1',
    partitionKey: 'ord-1',
    data: { orderId: 'ord-1', total: 104.98 },
    metadata: {},
    ...overrides,
  };
}

/** What decoding must make of a time, written as the rule: RFC 3339, then `Date.parse` and `toISOString`. */
function expectedTime(text: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMessageError);
    return (error as Error).message;
  }
  throw new Error('decoded instead of refusing');
}

/** Binary and structured forms of one envelope with its time replaced by `time`. */
function withTime(time: string): { headers: Record<string, string>; body: Uint8Array | string }[] {
  const binary = encodeMessage(envelope());
  const structured = JSON.parse(Buffer.from(encodeMessage(envelope(), { mode: 'structured' }).body).toString('utf8')) as Record<string, unknown>;
  return [
    { headers: { ...binary.headers, 'ce-time': time }, body: binary.body },
    { headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ ...structured, time }) },
  ];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

describe('decodeMessage, the shortcuts of its decode path', () => {
  it('reads a time in the form toISOString writes as that time, and rolls out-of-range fields over as Date.parse does', () => {
    const cases: [string, string | undefined][] = [
      ['2026-12-01T12:00:00.123Z', '2026-12-01T12:00:00.123Z'],
      ['0000-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
      ['2024-02-29T12:00:00.000Z', '2024-02-29T12:00:00.000Z'],
      ['2000-02-29T12:00:00.000Z', '2000-02-29T12:00:00.000Z'],
      // Not a leap year: a century not divisible by 400, and an ordinary year.
      ['2100-02-29T12:00:00.000Z', '2100-03-01T12:00:00.000Z'],
      ['2026-02-29T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
      ['2026-02-30T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
      ['2026-04-31T00:00:00.000Z', '2026-05-01T00:00:00.000Z'],
      ['2024-02-29T24:00:00.000Z', '2024-03-01T00:00:00.000Z'],
      ['2026-12-01T23:59:60.000Z', undefined],
      ['2026-13-01T00:00:00.000Z', undefined],
      ['2026-12-00T00:00:00.000Z', undefined],
      ['2026-12-01t12:00:00.123z', '2026-12-01T12:00:00.123Z'],
      ['2026-12-01T12:00:00.123+02:00', '2026-12-01T10:00:00.123Z'],
      ['2026-12-01T12:00:00Z', '2026-12-01T12:00:00.000Z'],
      ['2026-12-01T12:00:00.1234Z', '2026-12-01T12:00:00.123Z'],
      ['2026-12-01 12:00:00.123Z', '2026-12-01T12:00:00.123Z'],
      ['2026-12-01T12:00:00.12aZ', undefined],
      ['2026-1a-01T12:00:00.123Z', undefined],
    ];
    for (const [text, time] of cases) {
      expect(expectedTime(text)).toBe(time);
      for (const { headers, body } of withTime(text)) {
        if (time === undefined) expect(refusal(() => decodeMessage(headers, body))).toMatch(/time '.*' is not an RFC 3339 time/);
        else expect(decodeMessage(headers, body).time).toBe(time);
      }
    }
  });

  it('reads every time of that shape, in range or not, as the rule says (property)', () => {
    const field = (max: number): fc.Arbitrary<number> => fc.oneof(fc.integer({ min: 0, max }), fc.constantFrom(0, 1, 12, 13, 23, 24, 28, 29, 30, 31, 32, 59, 60));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), field(19), field(39), field(29), field(69), field(69), fc.integer({ min: 0, max: 999 }), (y, mo, d, h, mi, s, ms) => {
        const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`;
        const time = expectedTime(text);
        for (const { headers, body } of withTime(text)) {
          if (time === undefined) expect(refusal(() => decodeMessage(headers, body))).toMatch(/is not an RFC 3339 time/);
          else expect(decodeMessage(headers, body).time).toBe(time);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses attributes of the wrong type in a structured event, naming them without the ce- prefix', () => {
    const base = JSON.parse(Buffer.from(encodeMessage(envelope(), { mode: 'structured' }).body).toString('utf8')) as Record<string, unknown>;
    const structured = (patch: Record<string, unknown>): string =>
      refusal(() => decodeMessage({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...base, ...patch })));
    expect(structured({ specversion: 1 })).toBe('Invalid message: specversion is 1; only CloudEvents 1.0 is read');
    expect(structured({ id: 7 })).toBe('Invalid message: id must be a string, got 7');
    expect(structured({ type: ['t'] })).toMatch(/^Invalid message: type must be a string, got /);
    expect(structured({ source: 'x'.repeat(1025) })).toBe('Invalid message: source is 1025 characters long; the limit is 1024');
    expect(structured({ time: 5 })).toBe('Invalid message: time must be a string, got 5');
    expect(structured({ schemaversion: 1.5 })).toMatch(/^Invalid message: schemaversion must be an integer from 1 to \d+, got 1.5$/);
    expect(structured({ metadata: '"x"' })).toBe('Invalid message: metadata must be a JSON object, got "x"');
    expect(structured({ traceparent: true })).toBe('Invalid message: traceparent must be a string, got true');
    expect(structured({ tenantid: 'x'.repeat(256) })).toBe('Invalid message: tenantid is 256 characters long; the limit is 255');
    expect(structured({ correlationid: 1 })).toBe('Invalid message: correlationid must be a string, got 1');
    expect(structured({ causationid: 1 })).toBe('Invalid message: causationid must be a string, got 1');
    expect(structured({ subject: 1 })).toBe('Invalid message: subject must be a string, got 1');
    expect(structured({ partitionkey: 1 })).toBe('Invalid message: partitionkey must be a string, got 1');
    // Absent, null and '' are all "not given" for the optional ones, as before.
    expect(decodeMessage({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...base, subject: null, causationid: '', time: null }))).toMatchObject({
      subject: null,
      causationId: null,
      time: new Date(0).toISOString(),
    });
  });

  it('refuses over-long binary attributes with their ce- names, and a message with several faults for the first in the order of checks', () => {
    const { headers, body } = encodeMessage(envelope());
    const binary = (patch: Record<string, string>): string => refusal(() => decodeMessage({ ...headers, ...patch }, body));
    expect(binary({ 'ce-subject': 'x'.repeat(256) })).toBe('Invalid message: ce-subject is 256 characters long; the limit is 255');
    expect(binary({ 'ce-partitionkey': 'x'.repeat(256) })).toBe('Invalid message: ce-partitionkey is 256 characters long; the limit is 255');
    expect(binary({ 'ce-time': 'x'.repeat(65) })).toBe('Invalid message: ce-time is 65 characters long; the limit is 64');
    // id before type before source before time before schema version before metadata before the optional ones.
    const faults = { 'ce-id': 'nope', 'ce-type': '', 'ce-source': '', 'ce-time': 'never', 'ce-schemaversion': '0', 'ce-metadata': '[', 'ce-subject': 'x'.repeat(300) };
    expect(binary(faults)).toMatch(/ce-id 'nope' is not a UUID/);
    expect(binary({ ...faults, 'ce-id': uuidv7() })).toBe('Invalid message: ce-type is missing');
    expect(binary({ ...faults, 'ce-id': uuidv7(), 'ce-type': 't' })).toBe('Invalid message: ce-source is missing');
    expect(binary({ ...faults, 'ce-id': uuidv7(), 'ce-type': 't', 'ce-source': 's' })).toBe("Invalid message: ce-time 'never' is not an RFC 3339 time");
    expect(binary({ ...faults, 'ce-id': uuidv7(), 'ce-type': 't', 'ce-source': 's', 'ce-time': '2026-01-01T00:00:00Z' })).toMatch(/ce-schemaversion must be an integer/);
    expect(binary({ ...faults, 'ce-id': uuidv7(), 'ce-type': 't', 'ce-source': 's', 'ce-time': '2026-01-01T00:00:00Z', 'ce-schemaversion': '2' })).toMatch(/^Invalid message: ce-metadata is not JSON/);
    expect(binary({ 'ce-metadata': '{}', 'ce-subject': 'x'.repeat(300) })).toMatch(/ce-subject is 300 characters long/);
  });

  it('reads percent-encoded attributes, the W3C traceparent header, and content types in any case with parameters', () => {
    const original = envelope({ subject: 'a\r\nb%c', metadata: { tenantId: 'acme' } });
    const { headers, body } = encodeMessage(original);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const decoded = decodeMessage({ ...headers, 'content-type': ' Application/JSON; charset=utf-8', traceparent }, body);
    expect(decoded).toEqual({ ...original, metadata: { tenantId: 'acme', traceparent } });
    // Header names of any case next to a broker's own (NATS' Nats-Msg-Id).
    const shouted = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/^ce-/, 'Ce-'), v]));
    expect(decodeMessage({ ...shouted, 'Nats-Msg-Id': original.id }, body)).toEqual(original);
    const structured = encodeMessage(original, { mode: 'structured' });
    expect(decodeMessage({ 'Content-Type': 'Application/CloudEvents+JSON; charset=utf-8' }, structured.body)).toEqual(original);
    // An upper-case id reads as the lower-case one, and is the correlation id when none is given.
    const upper = original.id.toUpperCase();
    const { 'ce-correlationid': _dropped, ...withoutCorrelation } = headers;
    expect(decodeMessage({ ...withoutCorrelation, 'ce-id': upper }, body)).toMatchObject({ id: original.id, correlationId: original.id });
  });
});
