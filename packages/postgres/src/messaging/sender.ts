/**
 * Group commit for sends. A send made while another of this transport is in flight waits, and
 * everything that waited goes in one statement and one commit: commits, not rows, are what a
 * queue on PostgreSQL pays for (issue 9: 445 msgs/s with a transaction per message). A lone send
 * is one statement in its own transaction. Should a group fail for something other than the
 * connection, each of its sends runs alone, so one bad send fails only its own caller.
 */
import { InvalidArgumentError, type Destination } from '@eventloom/core';
import type { PreparedMessage } from '@eventloom/core/adapter';
import { hasLoneSurrogate } from '../names.js';
import { TransportUnavailableError } from '@eventloom/core';
import { queueKey } from './destinations.js';
import type { QueueDatabase } from './queue-database.js';

/** Rows in one statement at most (a topic's rows count once per message here; its groups multiply them). */
const MAX_GROUP_MESSAGES = 2_000;

interface Job {
  readonly destination: Destination;
  readonly messages: readonly PreparedMessage[];
  resolve(): void;
  reject(error: unknown): void;
}

interface Columns {
  destinations: (string | null)[];
  topics: (string | null)[];
  ids: string[];
  keys: (string | null)[];
  times: (string | null)[];
  envelopes: string[];
}

// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;

function assertStorableKey(key: string | null): void {
  if (key !== null && (NUL.test(key) || hasLoneSurrogate(key))) {
    throw new InvalidArgumentError('partitionKey', 'must not contain U+0000 or half of a surrogate pair (PostgreSQL text cannot hold it)');
  }
}

export class QueueSender {
  #waiting: Job[] = [];
  #inFlight = false;

  constructor(
    private readonly db: QueueDatabase,
    private readonly statement: string,
    private readonly committed: () => void,
  ) {}

  enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    for (const message of messages) assertStorableKey(message.envelope.partitionKey);
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ destination, messages, resolve, reject });
      if (!this.#inFlight) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#waiting.length > 0) {
        const group: Job[] = [];
        let size = 0;
        while (this.#waiting.length > 0 && (group.length === 0 || size + this.#waiting[0]!.messages.length <= MAX_GROUP_MESSAGES)) {
          const job = this.#waiting.shift()!;
          size += job.messages.length;
          group.push(job);
        }
        await this.#run(group);
      }
    } finally {
      this.#inFlight = false;
    }
  }

  async #run(group: readonly Job[]): Promise<void> {
    try {
      await this.#insert(group);
      this.committed();
      for (const job of group) job.resolve();
    } catch (error) {
      if (group.length === 1 || error instanceof TransportUnavailableError) {
        for (const job of group) job.reject(error);
        return;
      }
      for (const job of group) await this.#run([job]);
    }
  }

  async #insert(group: readonly Job[]): Promise<void> {
    const c: Columns = { destinations: [], topics: [], ids: [], keys: [], times: [], envelopes: [] };
    for (const { destination, messages } of group) {
      const queue = destination.kind === 'queue' ? queueKey(destination.name) : null;
      const topic = destination.kind === 'topic' ? destination.name : null;
      for (const { envelope, deliverAt } of messages) {
        c.destinations.push(queue);
        c.topics.push(topic);
        c.ids.push(envelope.id);
        c.keys.push(envelope.partitionKey);
        c.times.push(deliverAt ? deliverAt.toISOString() : null);
        c.envelopes.push(JSON.stringify(envelope));
      }
    }
    const first = group[0]!.destination;
    const operation = group.length === 1 ? `a send to ${first.kind} ${first.name}` : `a group of ${group.length} sends`;
    await this.db.rows(operation, this.statement, [c.destinations, c.topics, c.ids, c.keys, c.times, c.envelopes], true);
  }
}
