/**
 * The memory driver's answer to a late dead-letter write, as SQLite's and PostgreSQL's: a delivery
 * whose lease ran out and whose message was claimed again stores nothing and says so with
 * DeliveryLostError, instead of returning a record `deadLetters.get` never finds.
 */
import { DeliveryLostError, uuidv7, type ConsumeSource, type MessageEnvelope } from '@eventloom/core';
import { MemoryTransportDriver, type ReceivedMessage } from '@eventloom/core/adapter';
import { MemoryTransportStorage } from '../../src/messaging/memory/memory-storage.js';
import { describe, expect, it } from 'vitest';

const never = new AbortController().signal;

function envelope(n: number): MessageEnvelope {
  const id = uuidv7();
  return { id, type: 'Ping', data: { n }, schemaVersion: 1, time: new Date().toISOString(), source: 'test', correlationId: id, causationId: null, subject: null, partitionKey: 'k', metadata: {} };
}

describe('memory transport driver: a dead-letter write from a lost delivery', () => {
  it('throws DeliveryLostError, parks nothing, and leaves the message to its new holder, who parks it once', async () => {
    let clock = Date.parse('2026-12-01T12:00:00.000Z');
    const driver = new MemoryTransportDriver(new MemoryTransportStorage({ now: () => clock }), 'shared');
    const source: ConsumeSource = { queue: 'lost' };
    const options = { consumer: 'lost', visibilityTimeoutMs: 1_000, prefetch: 10 };
    await driver.enqueue({ kind: 'queue', name: 'lost' }, [{ envelope: envelope(1), deliverAt: null }]);
    const late = await driver.openReceiver(source, options);
    const holder = await driver.openReceiver(source, options);
    const [lost] = await late.receive(1, never);
    clock += 5_000; // the late receiver's lease has run out
    const [taken] = await holder.receive(1, AbortSignal.timeout(3_000));
    expect(taken?.deliveryCount).toBe(2);
    const verdict = (message: ReceivedMessage) => {
      const at = new Date(clock).toISOString();
      return { message: message.kind === 'envelope' ? message.envelope : null, raw: null, source, consumer: 'lost', reason: 'max-attempts' as const, error: 'Error: boom', stack: null, attempts: message.deliveryCount, firstFailedAt: at, lastFailedAt: at };
    };

    const refused = late.deadLetter(lost!, verdict(lost!));
    await expect(refused).rejects.toBeInstanceOf(DeliveryLostError);
    await expect(refused).rejects.toMatchObject({ code: 'DELIVERY_LOST', transport: 'memory', messageId: lost!.kind === 'envelope' ? lost!.envelope.id : null });
    expect(await driver.deadLetters.list()).toEqual([]);

    const parked = await holder.deadLetter(taken!, verdict(taken!));
    expect(await driver.deadLetters.list()).toEqual([parked]);
    expect(await driver.deadLetters.get(parked.id)).toEqual(parked);
    await driver.close();
  });
});
