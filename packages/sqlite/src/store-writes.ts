import type { ConnectionLock } from './connection-lock.js';

/** What the store's side tables (checkpoints, snapshots) need to write like the store does. */
export interface StoreWrites {
  /** Waited for before every statement: a transaction open across an await owns the connection. */
  readonly connection: ConnectionLock;
  /** The file, for error messages. */
  readonly filename: string;
  /** How long a write waits for another process's lock. */
  readonly busyTimeoutMs: number;
  /** Throws when an inline handler is running: the store's writes are refused there (`inline-reentry.ts`). */
  readonly refuseInsideHandler: (method: string) => void;
}
