/**
 * Group commit. A tenant's appends take turns at its log head (`sql/log-heads.ts`), which each
 * holds until its commit is flushed, so appends cannot share a flush unless they share a
 * transaction. Here an append made while another of this store is in flight waits, and everything
 * that waited goes together in one statement (`appendGroup`: one round trip and, without inline
 * handlers, one commit), each append through `append_or_error`: a failure (a version conflict,
 * say) undoes only that append and is answered to its caller alone. A round trip per append, as
 * before, kept the head locked for all of them (16 writers: 17 round trips per group). A lone
 * append without inline handlers is still one call of `append` in its own transaction.
 *
 * Appends with inline handlers group too: after the group's appends, each handler runs once for
 * all of the group's new appends (an inline projection locks and reads its state once, and writes
 * its checkpoint once, per group). A handler that fails on one append fails that append alone: the
 * group is rolled back and run again without it. Rolling back is rare (a handler bug, bad data)
 * and costs one more group; the other way, a savepoint around each append's handler work, would
 * cost two round trips per append on every group, and could not undo the failed append's events
 * without leaving a gap in the positions the later appends of the group took.
 */
import { StoreCorruptError, type AppendResult, type RecordedEvent } from '@eventloom/core';
import type { PreparedAppend } from '@eventloom/core/adapter';
import type pg from 'pg';
import { appendGroupValues, appendOn, appendResult, recordedResult, type AppendContext, type JsonArrays } from './append.js';
import { run, type StoreDatabase } from './database.js';
import { isConnectionError, isRetryable, toStoreError, type ErrorContext } from './errors.js';
import type { InlineHandler, InlineSkipped, PostgresAppendResult } from './postgres-event-store.js';

/** Appends in one transaction at most: bounds how long the head is held and how much one failure of the connection takes with it. */
const MAX_BATCH = 64;

/**
 * An inline handler that takes a group's appends at once: `appends[i]` is the events of one new
 * append, in position order. Answers, per append, why it left that append undone, if it did. To fail
 * one append, it throws `InlineAppendFailure` naming it; anything else fails the whole group.
 */
export type GroupInlineHandler = (
  appends: readonly (readonly RecordedEvent[])[],
  client: pg.PoolClient,
) => Promise<readonly (InlineSkipped | undefined)[]>;

/** Where an `InlineHandler` keeps its group form (`withGroupForm`). */
const GROUP_FORM = Symbol('eventloom.postgres.groupInlineHandler');

type WithGroupForm = InlineHandler & { readonly [GROUP_FORM]?: GroupInlineHandler };

/** A group handler's failure on `appends[index]`: that append fails with `cause`; the rest of the group is run again without it. */
export class InlineAppendFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`inline handler failed on append #${index}`);
  }
}

/** `handler`, which the store calls once per append when it groups nothing, carrying `group` for the groups. */
export function withGroupForm(handler: InlineHandler, group: GroupInlineHandler): InlineHandler {
  return Object.assign(handler, { [GROUP_FORM]: group });
}

/** The group form of a handler; one without runs once per append, in order. */
function groupFormOf(handler: WithGroupForm): GroupInlineHandler {
  const group = handler[GROUP_FORM];
  if (group) return group;
  return async (appends, client) => {
    const answers: (InlineSkipped | undefined)[] = [];
    for (let i = 0; i < appends.length; i++) {
      try {
        answers.push((await handler(appends[i]!, client)) ?? undefined);
      } catch (cause) {
        throw new InlineAppendFailure(i, cause);
      }
    }
    return answers;
  };
}

interface Job {
  readonly prepared: PreparedAppend;
  readonly json: JsonArrays;
  readonly context: AppendContext;
  readonly errorContext: ErrorContext;
  readonly handlers: readonly InlineHandler[];
  resolve(result: PostgresAppendResult): void;
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

function sameHandlers(a: readonly InlineHandler[], b: readonly InlineHandler[]): boolean {
  return a.length === b.length && a.every((handler, i) => handler === b[i]);
}

/** A group's transaction: each append's outcome, or the one append an inline handler failed on. */
type GroupOutcome = { readonly answers: (PostgresAppendResult | Error)[] } | { readonly failed: number; readonly cause: unknown };

export class GroupAppender {
  readonly #db: StoreDatabase;
  readonly #waiting: Job[] = [];
  #busy = false;

  constructor(db: StoreDatabase) {
    this.#db = db;
  }

  append(
    prepared: PreparedAppend,
    json: JsonArrays,
    context: AppendContext,
    errorContext: ErrorContext,
    handlers: readonly InlineHandler[] = [],
  ): Promise<PostgresAppendResult> {
    if (!this.#busy && handlers.length === 0) {
      this.#busy = true;
      return this.#db.withClient(errorContext, (client) => appendOn(client, prepared, json, context)).finally(() => this.#settled(true));
    }
    const queued = new Promise<PostgresAppendResult>((resolve, reject) => {
      this.#waiting.push({ prepared, json, context, errorContext, handlers, resolve, reject });
    });
    if (!this.#busy) {
      this.#busy = true;
      this.#next();
    }
    return queued;
  }

  #next(): void {
    const first = this.#waiting[0];
    if (!first) {
      this.#busy = false;
      return;
    }
    // A group runs one set of handlers: it ends where an append registered with others waits.
    let size = 1;
    while (size < MAX_BATCH && size < this.#waiting.length && sameHandlers(this.#waiting[size]!.handlers, first.handlers)) size++;
    const batch = this.#waiting.splice(0, size);
    void this.#run(batch).finally(() => this.#settled(batch.length === 1));
  }

  /**
   * After a batch. The callers it answered append again within this turn of the event loop;
   * waiting for the next turn lets them join one group, where taking the queue at once sent the
   * one that waited alone and the rest after it (16 writers: groups of 1 and 15 in turn, two
   * commits per 16 appends). A lone append with no one waiting goes idle at once: sequential
   * appends wait for nothing.
   */
  #settled(alone: boolean): void {
    if (alone && this.#waiting.length === 0) {
      this.#busy = false;
      return;
    }
    setImmediate(() => this.#next());
  }

  async #run(batch: readonly Job[]): Promise<void> {
    const handlers = batch[0]!.handlers;
    if (batch.length === 1 && handlers.length === 0) {
      const job = batch[0]!;
      await this.#db.withClient(job.errorContext, (client) => appendOn(client, job.prepared, job.json, job.context)).then(job.resolve, job.reject);
      return;
    }
    const groups = handlers.map(groupFormOf);
    let jobs = batch;
    while (jobs.length > 0) {
      let outcome: GroupOutcome;
      try {
        outcome = await this.#db.withClient(jobs[0]!.errorContext, (client) => this.#group(client, jobs, groups));
      } catch (error) {
        const lost = isConnectionError(error) || (error instanceof Error && isConnectionError(error.cause));
        if (groups.length > 0 && jobs.length > 1 && !lost) {
          // Rolled back, and pinned on no one append (the read models' held-back writes, sent for
          // the whole group, failed, say): each alone finds out whose it was. Not after a lost
          // connection: the commit may have gone through.
          for (const job of jobs) await this.#run([job]);
          return;
        }
        // The transaction as a whole failed: each caller hears it in its own terms.
        for (const job of jobs) job.reject(toStoreError(error, job.errorContext));
        return;
      }
      if ('failed' in outcome) {
        const failed = jobs[outcome.failed]!;
        failed.reject(toStoreError(outcome.cause, failed.errorContext));
        jobs = jobs.filter((job) => job !== failed);
        continue;
      }
      const { answers } = outcome;
      jobs.forEach((job, i) => {
        const answer = answers[i]!;
        if (answer instanceof Error) job.reject(toStoreError(answer, job.errorContext));
        else job.resolve(answer);
      });
      return;
    }
  }

  /** Each job's answer from one `appendGroup` statement, in the jobs' order. */
  async #appendAll(client: pg.PoolClient, jobs: readonly Job[]): Promise<(PostgresAppendResult | Error)[]> {
    const rows = await run(client, jobs[0]!.context.queries.appendGroup, appendGroupValues(jobs));
    if (rows.length !== jobs.length || rows.some((row, i) => row[8] !== BigInt(i + 1))) {
      throw new StoreCorruptError(`The group append answered ${rows.length} rows for ${jobs.length} appends, or out of order`);
    }
    const answers: (PostgresAppendResult | Error)[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const row = rows[i]!;
      const [firstPosition, firstVersion, idempotent, time, code] = row as [bigint, bigint, boolean, string, string | null];
      if (code !== null) answers.push(answeredError(row));
      else if (idempotent) answers.push(await recordedResult(client, job.prepared, job.context, firstVersion));
      else answers.push(appendResult(job.prepared, job.context, firstPosition, firstVersion, time));
    }
    return answers;
  }

  async #group(client: pg.PoolClient, jobs: readonly Job[], groups: readonly GroupInlineHandler[]): Promise<GroupOutcome> {
    // Without handlers the one statement is its own transaction: one round trip, one commit.
    if (groups.length === 0) return { answers: await this.#appendAll(client, jobs) };
    await client.query('BEGIN');
    try {
      const answers = await this.#appendAll(client, jobs);
      // Exact retries were handled when first appended: handlers see only new appends.
      const fresh: number[] = [];
      answers.forEach((answer, i) => {
        if (!(answer instanceof Error) && !answer.idempotent) fresh.push(i);
      });
      const events = fresh.map((i) => (answers[i] as AppendResult).events);
      const skipped = new Map<number, InlineSkipped[]>();
      for (const group of groups) {
        let outcomes: readonly (InlineSkipped | undefined)[];
        try {
          outcomes = events.length === 0 ? [] : await group(events, client);
        } catch (error) {
          if (!(error instanceof InlineAppendFailure)) throw error;
          // Not the append's fault: a deadlock or serialization failure runs the group again
          // (`withClient`), and a lost connection fails it whole.
          if (isRetryable(error.cause) || isConnectionError(error.cause)) throw error.cause;
          await client.query('ROLLBACK');
          return { failed: fresh[error.index]!, cause: error.cause };
        }
        outcomes.forEach((reason, j) => {
          if (!reason) return;
          const i = fresh[j]!;
          skipped.set(i, [...(skipped.get(i) ?? []), reason]);
        });
      }
      for (const [i, reasons] of skipped) answers[i] = { ...(answers[i] as AppendResult), inlineSkipped: reasons };
      await client.query('COMMIT');
      return { answers };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
