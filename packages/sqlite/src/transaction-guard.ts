/**
 * What handlers get instead of the raw connection: the same better-sqlite3 API, usable only while
 * the transaction that handed it out is open. Transactions stay open across their handlers' awaits
 * (connection-lock.ts serializes them), but a promise a handler leaves running can touch the
 * connection after the append or batch committed or rolled back; on the raw connection its
 * statements would then commit on their own (autocommit), outside the transaction they belong to.
 * Through the guard they throw TransactionClosedError and change nothing.
 *
 * A statement prepared through a guard stays usable in later transactions of the same owner (the
 * same projection, the same inline handler), so handlers may prepare once and keep it — but never
 * outside one. The scope stack below says which transactions are open: a scope stays open across
 * its handler's awaits, and closes when the handler has settled.
 */
import { InvalidArgumentError, TransactionClosedError } from '@eventloom/core';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './open-database.js';

/** The transactions open on each connection right now, innermost last. */
const openScopes = new WeakMap<SqliteDatabase, TransactionScope[]>();

/** One transaction's permission to use its connection; closed when the transaction ends. */
export class TransactionScope {
  readonly #db: SqliteDatabase;
  readonly #owners = new Set<unknown>();
  readonly #describe: string;
  #open = true;

  /** `describe` says what the transaction was, for the error: e.g. `the append to order-1`. */
  constructor(db: SqliteDatabase, describe: string) {
    this.#db = db;
    this.#describe = describe;
    let stack = openScopes.get(db);
    if (!stack) openScopes.set(db, (stack = []));
    stack.push(this);
  }

  get open(): boolean {
    return this.#open;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    const stack = openScopes.get(this.#db);
    const at = stack?.lastIndexOf(this) ?? -1;
    if (at >= 0) stack!.splice(at, 1);
  }

  /** The connection as `owner` may use it inside this transaction. */
  guard(owner: unknown): SqliteDatabase {
    this.#owners.add(owner);
    return guardDatabase(this.#db, this, owner);
  }

  assertOpen(): void {
    if (!this.#open) throw this.closedError();
  }

  closedError(): TransactionClosedError {
    return new TransactionClosedError(
      `${this.#describe} has committed or rolled back, and this handle belonged to it. A handler's SQL belongs to its ` +
        'transaction until the handler settles: await every write in the handler, and leave nothing running that uses db after it',
    );
  }

  /** Whether a statement `owner` prepared earlier may run now: inside a transaction `owner` is part of. */
  static admits(db: SqliteDatabase, owner: unknown): boolean {
    const stack = openScopes.get(db);
    return stack !== undefined && stack.some((scope) => scope.#owners.has(owner));
  }
}

const DATABASE_METHODS = new Set<PropertyKey>([
  'exec',
  'pragma',
  'function',
  'aggregate',
  'table',
  'backup',
  'serialize',
  'loadExtension',
  'defaultSafeIntegers',
  'unsafeMode',
]);

function guardDatabase(db: SqliteDatabase, scope: TransactionScope, owner: unknown): SqliteDatabase {
  const guarded: SqliteDatabase = new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (source: string) => {
          scope.assertOpen();
          return guardStatement(target.prepare(source), scope, owner, target);
        };
      }
      if (property === 'transaction') {
        return (fn: (...args: unknown[]) => unknown) => guardTransaction(target.transaction(fn), scope);
      }
      if (property === 'close') {
        return () => {
          throw new InvalidArgumentError('db', "belongs to the store; a handler must not close it");
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!DATABASE_METHODS.has(property)) return (value as (...args: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        scope.assertOpen();
        const result: unknown = (value as (...args: unknown[]) => unknown).apply(target, args);
        return result === target ? guarded : result;
      };
    },
  });
  return guarded;
}

type TransactionFunction = ReturnType<SqliteDatabase['transaction']>;

function guardTransaction(transaction: TransactionFunction, scope: TransactionScope): TransactionFunction {
  const wrap =
    (run: (...args: unknown[]) => unknown) =>
    (...args: unknown[]): unknown => {
      scope.assertOpen();
      return run(...args);
    };
  return Object.assign(wrap(transaction), {
    deferred: wrap(transaction.deferred),
    immediate: wrap(transaction.immediate),
    exclusive: wrap(transaction.exclusive),
  }) as unknown as TransactionFunction;
}

const EXECUTING = new Set<PropertyKey>(['run', 'get', 'all', 'iterate']);
const CHAINING = new Set<PropertyKey>(['pluck', 'raw', 'expand', 'safeIntegers', 'bind']);

function guardStatement(statement: Statement, scope: TransactionScope, owner: unknown, db: SqliteDatabase): Statement {
  const guarded: Statement = new Proxy(statement, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (EXECUTING.has(property)) {
        return (...args: unknown[]) => {
          if (!scope.open && !TransactionScope.admits(db, owner)) throw scope.closedError();
          return method.apply(target, args);
        };
      }
      if (CHAINING.has(property)) {
        return (...args: unknown[]) => {
          const result = method.apply(target, args);
          return result === target ? guarded : result;
        };
      }
      return method.bind(target);
    },
  });
  return guarded;
}
