/**
 * The memory transport's "database": queues, topic groups and dead letters. Several
 * `MemoryTransport`s on one storage behave like processes on one queue database — what one
 * claims the others cannot, and what a crashed one held comes back after its lease.
 */
import { uuidv7 } from '../../envelope/uuid.js';
import { matchesDeadLetter } from '../dead-letter-filter.js';
import { DeliveryLostError } from '../delivery-lost.js';
import type { DeadLetter, DeadLetterFilter } from '../dead-letters.js';
import type { DeadLetterDraft, PreparedMessage } from '../driver.js';
import type { ConsumeSource, Destination } from '../message.js';
import { Lane, type Entry } from './lane.js';

export interface MemoryTransportStorageOptions {
  /** The clock of visibility timeouts, delays and retries, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

export class MemoryTransportStorage {
  readonly now: () => number;
  readonly #queues = new Map<string, Lane>();
  readonly #topics = new Map<string, Map<string, Lane>>();
  readonly #deadLetters = new Map<string, DeadLetter>();

  constructor(options: MemoryTransportStorageOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** The lane of `source`, created when missing (queues exist from their first use, groups from their declaration). */
  lane(source: ConsumeSource): Lane {
    if ('queue' in source) {
      let lane = this.#queues.get(source.queue);
      if (lane === undefined) {
        lane = new Lane(this.now);
        this.#queues.set(source.queue, lane);
      }
      return lane;
    }
    let groups = this.#topics.get(source.topic);
    if (groups === undefined) {
      groups = new Map();
      this.#topics.set(source.topic, groups);
    }
    let lane = groups.get(source.group);
    if (lane === undefined) {
      lane = new Lane(this.now);
      groups.set(source.group, lane);
    }
    return lane;
  }

  /**
   * Stores `messages` all at once: on a queue once, on a topic once per existing group (none:
   * nobody gets them). True when a lane they went to is crowded (see `Lane.crowded`).
   */
  enqueue(destination: Destination, messages: readonly PreparedMessage[]): boolean {
    const now = this.now();
    const lanes = destination.kind === 'queue' ? [this.lane({ queue: destination.name })] : [...(this.#topics.get(destination.name)?.values() ?? [])];
    let crowded = false;
    for (const lane of lanes) {
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        const { envelope } = message;
        lane.add(envelope.id, message, envelope.partitionKey, message.deliverAt === null ? null : message.deliverAt.getTime(), now);
      }
      lane.changed();
      if (lane.crowded) crowded = true;
    }
    return crowded;
  }

  /** Bytes as a broker would hand them over, for tests of what the consumer does with bad input. */
  enqueueRaw(source: ConsumeSource, headers: Readonly<Record<string, string>>, body: Uint8Array, partitionKey: string | null = null): void {
    const lane = this.lane(source);
    lane.add(uuidv7(), { kind: 'raw', headers: { ...headers }, body: Uint8Array.from(body), partitionKey }, partitionKey, null, this.now());
    lane.changed();
  }

  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): boolean {
    if ('queue' in destination) return this.#queues.get(destination.queue)?.cancelScheduled(messageId) ?? false;
    const groups = this.#topics.get(destination.topic);
    if (groups === undefined) return false;
    if ('group' in destination) return groups.get(destination.group)?.cancelScheduled(messageId) ?? false;
    let cancelled = false;
    for (const lane of groups.values()) if (lane.cancelScheduled(messageId)) cancelled = true;
    return cancelled;
  }

  /** Moves a claimed entry to the dead letters in one step. */
  deadLetter(lane: Lane, entry: Entry, claim: number, draft: DeadLetterDraft): DeadLetter {
    // A stale claim (the lease ran out and the message was claimed again) records nothing, and
    // says so: a record returned here would be one `deadLetters.get` never finds.
    if (!lane.remove(entry, claim)) throw new DeliveryLostError('memory', draft.message?.id ?? null, 'dead-lettering');
    const deadLetter: DeadLetter = { id: uuidv7(this.now()), ...draft };
    this.#deadLetters.set(deadLetter.id, deadLetter);
    return deadLetter;
  }

  listDeadLetters(filter: DeadLetterFilter): DeadLetter[] {
    const out: DeadLetter[] = [];
    const limit = filter.limit ?? Infinity;
    for (const deadLetter of this.#deadLetters.values()) {
      if (out.length >= limit) break;
      if (matchesDeadLetter(deadLetter, filter)) out.push(deadLetter);
    }
    return out;
  }

  getDeadLetter(id: string): DeadLetter | null {
    return this.#deadLetters.get(id) ?? null;
  }

  /** Back to where they were consumed from, attempts reset; in one step each, so never both here and there. */
  redrive(filter: DeadLetterFilter): number {
    const matching = this.listDeadLetters(filter);
    const touched = new Set<Lane>();
    for (const deadLetter of matching) {
      const lane = this.lane(deadLetter.source);
      if (deadLetter.message !== null) {
        lane.add(deadLetter.message.id, { envelope: deadLetter.message }, deadLetter.message.partitionKey, null, this.now());
      } else if (deadLetter.raw !== null) {
        lane.add(uuidv7(), { kind: 'raw', headers: deadLetter.raw.headers, body: Buffer.from(deadLetter.raw.body, 'utf8'), partitionKey: null }, null, null, this.now());
      }
      this.#deadLetters.delete(deadLetter.id);
      touched.add(lane);
    }
    for (const lane of touched) lane.changed();
    return matching.length;
  }

  purge(filter: DeadLetterFilter): number {
    const matching = this.listDeadLetters(filter);
    for (const deadLetter of matching) this.#deadLetters.delete(deadLetter.id);
    return matching.length;
  }

  /** Messages waiting (not acked, dead-lettered or cancelled) on `source`, claimed ones included. */
  depth(source: ConsumeSource): number {
    if ('queue' in source) return this.#queues.get(source.queue)?.size ?? 0;
    return this.#topics.get(source.topic)?.get(source.group)?.size ?? 0;
  }
}
