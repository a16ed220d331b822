/**
 * The transport's dead letters, in `queue_dead_letters` of the same file. Dead-lettering removes
 * the message from its queue in the same transaction (the receiver's `deadLetter`); redrive puts
 * each back on its queue or group and removes it here in one transaction, so an interrupted
 * redrive leaves every dead letter either here or back on its queue, never both, never neither.
 */
import type { DeadLetter, DeadLetterFilter, DeadLetterQueue } from '@eventloom/core';
import type { Statement } from 'better-sqlite3';
import { DEAD_LETTER_COLUMNS } from './queue-sql.js';
import type { QueueStatements } from './queue-statements.js';
import { decodeDeadLetter, type DeadLetterRow } from './rows.js';
import { filterSql } from './dead-letter-filter.js';

export interface DeadLetterAccess {
  /** A read on the connection (waits for its transactions, typed errors). */
  read<T>(doing: string, work: () => T): Promise<T>;
  /** A write in the transport's group commit. */
  write<T>(doing: string, work: (statements: QueueStatements) => T): Promise<T>;
  prepare(sql: string): Statement;
  parse<T>(json: string, what: string): T;
  assertOpen(): void;
  now(): number;
}

export class SqliteDeadLetterQueue implements DeadLetterQueue {
  readonly #statements = new Map<string, Statement>();

  constructor(private readonly access: DeadLetterAccess) {}

  async list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]> {
    this.access.assertOpen();
    const { where, order, params } = filterSql(filter);
    const statement = this.#statement(`SELECT ${DEAD_LETTER_COLUMNS} FROM queue_dead_letters ${where} ${order}`, true);
    const rows = await this.access.read('listing dead letters', () => statement.all(params) as DeadLetterRow[]);
    return rows.map((row) => decodeDeadLetter(row, this.access.parse));
  }

  async get(id: string): Promise<DeadLetter | null> {
    this.access.assertOpen();
    if (typeof id !== 'string') return null;
    const statement = this.#statement(`SELECT ${DEAD_LETTER_COLUMNS} FROM queue_dead_letters WHERE id = ?`, true);
    const row = await this.access.read(`reading dead letter ${id}`, () => statement.get(id) as DeadLetterRow | undefined);
    return row === undefined ? null : decodeDeadLetter(row, this.access.parse);
  }

  redrive(filter?: DeadLetterFilter): Promise<number> {
    this.access.assertOpen();
    const { where, order, params } = filterSql(filter);
    const select = this.#statement(`SELECT ${DEAD_LETTER_COLUMNS} FROM queue_dead_letters ${where} ${order}`, true);
    const remove = this.#statement('DELETE FROM queue_dead_letters WHERE seq = ?', false);
    return this.access.write('redriving dead letters', (s) => {
      const now = this.access.now();
      let count = 0;
      for (const row of select.all(params) as DeadLetterRow[]) {
        const letter = decodeDeadLetter(row, this.access.parse);
        const [seq, , destination, group, , message, raw] = row;
        // An undecodable message goes back as the bytes it was; its consumer will dead-letter it again if it still cannot read it.
        const envelope = message ?? (raw === null ? null : (letter.raw?.body ?? null));
        if (envelope === null) continue;
        s.insertRedriven.run({
          destination,
          group,
          id: letter.message?.id ?? letter.id,
          partitionKey: letter.message?.partitionKey ?? null,
          visibleAt: now,
          envelope,
        });
        remove.run(seq);
        count++;
      }
      return count;
    });
  }

  purge(filter?: DeadLetterFilter): Promise<number> {
    this.access.assertOpen();
    const { where, order, params } = filterSql(filter);
    const statement = this.#statement(`DELETE FROM queue_dead_letters WHERE seq IN (SELECT seq FROM queue_dead_letters ${where} ${order})`, false);
    return this.access.write('purging dead letters', () => statement.run(params).changes);
  }

  #statement(sql: string, raw: boolean): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.access.prepare(sql);
      if (raw) statement.raw(true);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
