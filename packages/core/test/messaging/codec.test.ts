// The one CloudEvents codec against the official cloudevents SDK, both ways, and its refusals.
import { InvalidMessageError, MemoryEventStore, collect, toCloudEvent, uuidv7, type MessageEnvelope } from '@eventloom/core';
import { CLOUD_EVENT_ATTRIBUTES, decodeMessage, encodeMessage, headerValue } from '@eventloom/core/adapter';
import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  const id = uuidv7();
  return {
    id,
    type: 'UserRegistered',
    schemaVersion: 2,
    time: '2026-12-01T12:00:00.123Z',
    source: 'registration',
    correlationId: 'corr-1',
    causationId: 'cause-1',
    subject: 'user-ünïcode 1',
    partitionKey: 'user-1',
    data: { email: 'ada@example.com', tags: ['a', 'b'], nested: { deep: [1, 2, { x: null }] }, text: 'naïve — “quoted” 100% 🙂' },
    metadata: { tenantId: 'acme', traceparent: TRACEPARENT, note: 'line\nbreak' },
    ...overrides,
  };
}

/** What an HTTP receiver does with our headers before the SDK reads them: percent-decoding. */
function forSdk(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, decodeURIComponent(v)]));
}

describe('CloudEvents codec', () => {
  it('round-trips every envelope field in binary and structured mode', () => {
    const original = envelope();
    for (const mode of ['binary', 'structured'] as const) {
      const { headers, body } = encodeMessage(original, { mode });
      expect(decodeMessage(headers, body)).toEqual(original);
    }
    const bare = envelope({ causationId: null, subject: null, partitionKey: null, metadata: {}, data: null });
    for (const mode of ['binary', 'structured'] as const) {
      const { headers, body } = encodeMessage(bare, { mode });
      expect(decodeMessage(headers, body)).toEqual(bare);
    }
  });

  it('writes binary mode as ce-* headers with a JSON body', () => {
    const original = envelope();
    const { headers, body } = encodeMessage(original);
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': original.id,
      'ce-type': 'UserRegistered',
      'ce-source': 'registration',
      'ce-time': original.time,
      'ce-subject': 'user-ünïcode 1',
      'ce-correlationid': 'corr-1',
      'ce-causationid': 'cause-1',
      'ce-schemaversion': '2',
      'ce-partitionkey': 'user-1',
      'ce-traceparent': TRACEPARENT,
      traceparent: TRACEPARENT,
      'ce-tenantid': 'acme',
    });
    // A line break inside a header value would end the header on NATS (and HTTP): it travels encoded.
    expect(headers['ce-metadata']).not.toMatch(/[\r\n]/);
    expect(JSON.parse(decodeURIComponent(headers['ce-metadata']!))).toEqual(original.metadata);
    expect(JSON.parse(Buffer.from(body).toString('utf8'))).toEqual(original.data);
  });

  it('is read by the SDK: our binary and structured messages parse into the same CloudEvent', () => {
    const original = envelope();
    for (const mode of ['binary', 'structured'] as const) {
      const { headers, body } = encodeMessage(original, { mode });
      const event = HTTP.toEvent({ headers: forSdk(headers), body: Buffer.from(body).toString('utf8') }) as CloudEvent<unknown>;
      expect(event.validate()).toBe(true);
      expect(event).toMatchObject({
        specversion: '1.0',
        id: original.id,
        type: original.type,
        source: original.source,
        subject: original.subject,
        time: original.time,
        correlationid: 'corr-1',
        causationid: 'cause-1',
        partitionkey: 'user-1',
        traceparent: TRACEPARENT,
        tenantid: 'acme',
      });
      expect(Number(event.schemaversion)).toBe(2);
      expect(event.data).toEqual(original.data);
      expect(JSON.parse(event.metadata as string)).toEqual(original.metadata);
    }
  });

  it('reads what the SDK writes, in binary and structured mode', () => {
    const sdkEvent = new CloudEvent({
      type: 'OrderPlaced',
      source: 'https://shop.example/orders',
      subject: 'order-1',
      data: { orderId: '1', total: 12.5, lines: [{ sku: 'ä', n: 2 }] },
      correlationid: 'conv-9',
      causationid: 'cmd-9',
      schemaversion: 3,
      partitionkey: 'order-1',
      traceparent: TRACEPARENT,
      metadata: JSON.stringify({ userId: 'u1' }),
    } as ConstructorParameters<typeof CloudEvent>[0]);
    expect(sdkEvent.validate()).toBe(true);
    for (const message of [HTTP.binary(sdkEvent), HTTP.structured(sdkEvent)]) {
      const decoded = decodeMessage(message.headers, message.body as string);
      expect(decoded).toEqual({
        id: sdkEvent.id,
        type: 'OrderPlaced',
        schemaVersion: 3,
        time: new Date(sdkEvent.time!).toISOString(),
        source: 'https://shop.example/orders',
        correlationId: 'conv-9',
        causationId: 'cmd-9',
        subject: 'order-1',
        partitionKey: 'order-1',
        data: { orderId: '1', total: 12.5, lines: [{ sku: 'ä', n: 2 }] },
        metadata: { userId: 'u1', traceparent: TRACEPARENT },
      });
    }
  });

  it('fills in what a minimal SDK event leaves out', () => {
    const sdkEvent = new CloudEvent({ type: 'Ping', source: 'elsewhere', data: { n: 1 } });
    const decoded = decodeMessage(HTTP.binary(sdkEvent).headers, HTTP.binary(sdkEvent).body as string);
    expect(decoded).toMatchObject({ id: sdkEvent.id, schemaVersion: 1, correlationId: sdkEvent.id, causationId: null, subject: null, partitionKey: null, metadata: {} });
  });

  it('reads header names in any case, and numbers and bytes as header values', () => {
    const original = envelope();
    const { headers, body } = encodeMessage(original);
    const shouted: Record<string, unknown> = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    shouted['CE-SCHEMAVERSION'] = 2;
    shouted['CE-TYPE'] = Buffer.from('UserRegistered');
    expect(decodeMessage(shouted, body)).toEqual(original);
  });

  it('round-trips arbitrary text in every attribute and arbitrary JSON data (property)', () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(text, text, text, fc.jsonValue(), fc.constantFrom('binary' as const, 'structured' as const), (type, subject, key, data, mode) => {
        const original = envelope({ type, subject, partitionKey: key, correlationId: `${key}%`, data: JSON.parse(JSON.stringify(data)) as unknown, metadata: { k: subject } });
        const { headers, body } = encodeMessage(original, { mode });
        for (const value of Object.values(headers)) expect(value).not.toMatch(/[\r\n\0]/);
        expect(decodeMessage(headers, body)).toEqual(original);
      }),
      { numRuns: 300 },
    );
  });

  it("names attributes as the store's toCloudEvent does, so a published event and a message read alike", async () => {
    const store = new MemoryEventStore();
    await store.appendToStream('order-1', [{ type: 'OrderPlaced', data: {}, causationId: 'c', metadata: { tenantId: 't', traceparent: TRACEPARENT } }]);
    const [event] = await collect(store.readStream('order-1'));
    const names = new Set<string>([...Object.values(CLOUD_EVENT_ATTRIBUTES), 'data', 'streamversion', 'sequence']);
    expect(Object.keys(toCloudEvent(event!)).filter((key) => !names.has(key))).toEqual([]);
    // And an event's CloudEvent, sent as a structured message, decodes to the same envelope fields.
    const structured = Buffer.from(JSON.stringify(toCloudEvent(event!)));
    expect(decodeMessage({ 'content-type': 'application/cloudevents+json' }, structured)).toMatchObject({
      id: event!.id,
      type: 'OrderPlaced',
      subject: 'order-1',
      correlationId: event!.correlationId,
      causationId: 'c',
      metadata: event!.metadata,
    });
  });

  it('keeps printable text as it is in headers and encodes only control characters and %', () => {
    expect(headerValue('plain ASCII "quoted"')).toBe('plain ASCII "quoted"');
    expect(headerValue('ünï 🙂')).toBe('ünï 🙂');
    expect(headerValue('a\r\nb%c')).toBe('a%0D%0Ab%25c');
    expect(headerValue('half \ud800 pair')).toBe('half %EF%BF%BD pair');
  });

  describe('refuses what it cannot read, saying why', () => {
    const good = (): { headers: Record<string, string>; body: Uint8Array } => {
      const { headers, body } = encodeMessage(envelope());
      return { headers: { ...headers }, body };
    };
    const cases: [string, (m: { headers: Record<string, string>; body: Uint8Array }) => { headers: Record<string, unknown>; body: Uint8Array | string }, RegExp][] = [
      ['no ce- headers, not structured', () => ({ headers: { 'content-type': 'text/plain' }, body: 'hello' }), /not a CloudEvent: no ce-specversion header, and content-type is 'text\/plain'/],
      ['no headers at all', () => ({ headers: {}, body: '{}' }), /content-type is missing/],
      ['another specversion', (m) => ({ ...m, headers: { ...m.headers, 'ce-specversion': '0.3' } }), /ce-specversion is "0.3"; only CloudEvents 1.0/],
      ['no ce-id', (m) => ({ ...m, headers: { ...m.headers, 'ce-id': '' } }), /ce-id is missing/],
      ['an id that is not a UUID', (m) => ({ ...m, headers: { ...m.headers, 'ce-id': 'order-1' } }), /ce-id 'order-1' is not a UUID/],
      ['no ce-type', (m) => ({ ...m, headers: Object.fromEntries(Object.entries(m.headers).filter(([k]) => k !== 'ce-type')) }), /ce-type is missing/],
      ['no ce-source', (m) => ({ ...m, headers: Object.fromEntries(Object.entries(m.headers).filter(([k]) => k !== 'ce-source')) }), /ce-source is missing/],
      ['a time that is not RFC 3339', (m) => ({ ...m, headers: { ...m.headers, 'ce-time': 'yesterday' } }), /ce-time 'yesterday' is not an RFC 3339 time/],
      ['a time without a zone', (m) => ({ ...m, headers: { ...m.headers, 'ce-time': '2026-01-01T00:00:00' } }), /not an RFC 3339 time/],
      ['a schema version that is not a positive integer', (m) => ({ ...m, headers: { ...m.headers, 'ce-schemaversion': '-1' } }), /ce-schemaversion must be an integer from 1/],
      ['metadata that is not JSON', (m) => ({ ...m, headers: { ...m.headers, 'ce-metadata': '{nope' } }), /ce-metadata is not JSON/],
      ['metadata that is not an object', (m) => ({ ...m, headers: { ...m.headers, 'ce-metadata': '[1]' } }), /ce-metadata must be a JSON object/],
      ['a body that is not JSON', (m) => ({ ...m, body: 'not json' }), /the body \(the data\) is not JSON/],
      ['a body that is not UTF-8', (m) => ({ ...m, body: Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]) }), /not valid UTF-8/],
      ['data that is not JSON by content type', (m) => ({ ...m, headers: { ...m.headers, 'content-type': 'application/octet-stream' } }), /content-type is 'application\/octet-stream'; Eventloom messages carry JSON/],
      ['a structured body that is not JSON', () => ({ headers: { 'content-type': 'application/cloudevents+json' }, body: '{' }), /a structured CloudEvent\) is not JSON/],
      ['a structured body that is not an object', () => ({ headers: { 'content-type': 'application/cloudevents+json' }, body: '[]' }), /must be a JSON object/],
      ['structured binary data', () => ({ headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '1.0', id: uuidv7(), type: 't', source: 's', data_base64: 'AA==' }) }), /data_base64/],
      ['a structured event without an id', () => ({ headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '1.0', type: 't', source: 's' }) }), /^Invalid message: id is missing$/],
    ];
    for (const [what, make, reason] of cases) {
      it(what, () => {
        const { headers, body } = make(good());
        let caught: unknown;
        try {
          decodeMessage(headers, body);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(InvalidMessageError);
        expect((caught as InvalidMessageError).code).toBe('INVALID_MESSAGE');
        expect((caught as Error).message).toMatch(reason);
      });
    }
  });
});
