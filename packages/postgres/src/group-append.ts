/**
 * Group commit for appends without inline handlers. A tenant's appends take turns at its log head
 * (`sql/log-heads.ts`), which each holds until its commit is flushed, so appends cannot share a
 * flush unless they share a transaction. Here an append made while another of this store is in
 * flight waits, and everything that waited goes together in one transaction, one round trip each,
 * through `append_or_error`: a failure (a version conflict, say) undoes only that append and is
 * answered to its caller alone. A lone append is still one statement in its own transaction.
 */
import type { AppendResult, PreparedAppend } from '@eventloom/core';
import { appendOn, appendResult, appendValues, recordedResult, type AppendContext, type JsonArrays } from './append.js';
import { run, type StoreDatabase } from './database.js';
import { toStoreError, type ErrorContext } from './errors.js';

/** Appends in one transaction at most: bounds how long the head is held and how much one failure of the connection takes with it. */
const MAX_BATCH = 64;

interface Job {
  readonly prepared: PreparedAppend;
  readonly json: JsonArrays;
  readonly context: AppendContext;
  readonly errorContext: ErrorContext;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** An error `append_or_error` answered, shaped as the driver's error so that `toStoreError` maps it alike. */
function answeredError(row: readonly unknown[]): Error {
  const [, , , , code, message, detail, constraint] = row as (string | null)[];
  return Object.assign(new Error(message ?? 'append failed'), {
    code: code ?? undefined,
    detail: detail ?? undefined,
    constraint: constraint ?? undefined,
  });
}

export class GroupAppender {
  readonly #db: StoreDatabase;
  readonly #waiting: Job[] = [];
  #busy = false;

  constructor(db: StoreDatabase) {
    this.#db = db;
  }

  append(prepared: PreparedAppend, json: JsonArrays, context: AppendContext, errorContext: ErrorContext): Promise<AppendResult> {
    if (!this.#busy) {
      this.#busy = true;
      return this.#db.withClient(errorContext, (client) => appendOn(client, prepared, json, context)).finally(() => this.#next());
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ prepared, json, context, errorContext, resolve, reject });
    });
  }

  #next(): void {
    const batch = this.#waiting.splice(0, MAX_BATCH);
    if (batch.length === 0) {
      this.#busy = false;
      return;
    }
    void this.#run(batch).finally(() => this.#next());
  }

  async #run(batch: readonly Job[]): Promise<void> {
    if (batch.length === 1) {
      const job = batch[0]!;
      await this.#db.withClient(job.errorContext, (client) => appendOn(client, job.prepared, job.json, job.context)).then(job.resolve, job.reject);
      return;
    }
    let outcomes: (AppendResult | Error)[];
    try {
      outcomes = await this.#db.withClient(batch[0]!.errorContext, async (client) => {
        await client.query('BEGIN');
        try {
          const answers: (AppendResult | Error)[] = [];
          for (const job of batch) {
            const [row] = await run(client, job.context.queries.appendOrError, appendValues(job.prepared, job.context, job.json));
            const [firstPosition, firstVersion, idempotent, time, code] = row as [bigint, bigint, boolean, string, string | null];
            if (code !== null) answers.push(answeredError(row!));
            else if (idempotent) answers.push(await recordedResult(client, job.prepared, job.context, firstVersion));
            else answers.push(appendResult(job.prepared, job.context, firstPosition, firstVersion, time));
          }
          await client.query('COMMIT');
          return answers;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // The transaction as a whole failed (the connection, say): each caller hears it in its own terms.
      for (const job of batch) job.reject(toStoreError(error, job.errorContext));
      return;
    }
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof Error) job.reject(toStoreError(outcome, job.errorContext));
      else job.resolve(outcome);
    });
  }
}
