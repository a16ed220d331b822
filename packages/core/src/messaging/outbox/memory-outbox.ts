/** The in-memory outbox (the reference): rows in an array, added through a `MemoryTransaction`. */
import { InvalidArgumentError } from '../../envelope/errors.js';
import { AppendSignal } from '../../event-store/append-signal.js';
import { MemoryTransaction } from '../inbox/memory-transaction.js';
import type { Transport } from '../transport.js';
import { assertOutboxName, prepareOutboxMessages, type Outbox, type OutboxMessage, type OutboxRecord, type OutboxStorage } from './outbox.js';
import { relayOutbox, type OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';

export interface MemoryOutboxOptions {
  /** Default `default`. */
  readonly name?: string;
  readonly clock?: () => Date;
}

export function createMemoryOutbox(options: MemoryOutboxOptions = {}): MemoryOutbox {
  return new MemoryOutbox(options);
}

export class MemoryOutbox implements Outbox<MemoryTransaction> {
  readonly name: string;
  readonly #rows: OutboxRecord[] = [];
  readonly #signal = new AppendSignal();
  readonly #clock: () => Date;
  readonly #storage: OutboxStorage;
  #seq = 0n;
  #lease: { holder: string; epoch: bigint; until: number } | null = null;

  constructor(options: MemoryOutboxOptions = {}) {
    const name = options.name ?? 'default';
    assertOutboxName(name, 'name');
    this.name = name;
    this.#clock = options.clock ?? (() => new Date());
    this.#storage = this.#makeStorage();
  }

  add(tx: MemoryTransaction, messages: OutboxMessage | readonly OutboxMessage[]): readonly string[] {
    if (!(tx instanceof MemoryTransaction)) {
      throw new InvalidArgumentError('tx', 'must be the MemoryTransaction of the unit of work (inMemoryTransaction(async (tx) => …))');
    }
    const prepared = prepareOutboxMessages(messages, this.#clock());
    tx.onCommit(() => {
      for (const message of prepared) this.#rows.push({ seq: ++this.#seq, message });
      this.#signal.notify();
    });
    return prepared.map((message) => message.id);
  }

  startRelay(transport: Transport, options?: OutboxRelayOptions): OutboxRelay {
    return relayOutbox(this.#storage, transport, options);
  }

  async pending(): Promise<number> {
    return this.#rows.length;
  }

  #makeStorage(): OutboxStorage {
    return {
      name: this.name,
      acquire: async (holder, ttlMs) => {
        const now = Date.now();
        const lease = this.#lease;
        if (lease && lease.holder !== holder && lease.until > now) return null;
        const epoch = lease === null ? 1n : lease.holder === holder ? lease.epoch : lease.epoch + 1n;
        this.#lease = { holder, epoch, until: now + ttlMs };
        return epoch;
      },
      release: async (holder) => {
        if (this.#lease?.holder === holder) this.#lease.until = 0;
      },
      peek: async (limit) => this.#rows.slice(0, limit),
      remove: async (lease, seqs) => {
        const held = this.#lease;
        if (!held || held.holder !== lease.holder || held.epoch !== lease.epoch) return false;
        const gone = new Set(seqs);
        for (let i = this.#rows.length - 1; i >= 0; i--) if (gone.has(this.#rows[i]!.seq)) this.#rows.splice(i, 1);
        return true;
      },
      waitForRows: (timeoutMs, signal) => this.#signal.wait(timeoutMs, signal),
      count: async () => this.#rows.length,
    };
  }
}
