/**
 * What a store gives the outbox/inbox conformance suite. One fixture shape for memory, SQLite
 * and PostgreSQL: the store's inbox and outboxes, its event store (for the event-store relay), a
 * transport, and the user's own side: a transaction of the store's kind and a table to write
 * side effects in, so the suite can count how often an effect happened.
 */
import type { EventStore, Inbox, Outbox, Transport } from '@eventloom/core';

export interface OutboxInboxFixture<Tx> {
  readonly store: EventStore;
  readonly transport: Transport;
  readonly inbox: Inbox<Tx>;
  /** The store's outbox named `name` (each test uses its own names). */
  outbox(name: string): Promise<Outbox<Tx>> | Outbox<Tx>;
  /** Runs `fn` in a transaction of the user's own (commit when it returns, roll back when it throws). */
  transaction<R>(fn: (tx: Tx) => Promise<R> | R): Promise<R>;
  /** Writes one side-effect row for `key` with `tx` (inside a transaction). */
  write(tx: Tx, key: string): Promise<void> | void;
  /** Side-effect rows written for `key` and committed. */
  count(key: string): Promise<number>;
  /** Releases what `create` made; called after each test. */
  cleanup(): Promise<void>;
}

export interface OutboxInboxFactory<Tx> {
  create(): Promise<OutboxInboxFixture<Tx>>;
}

export interface SuiteContext<Tx> {
  readonly name: string;
  /** A fresh fixture, cleaned up after the current test. */
  create(): Promise<OutboxInboxFixture<Tx>>;
}
