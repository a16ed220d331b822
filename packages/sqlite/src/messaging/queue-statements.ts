/** The transport's statements, prepared once per connection. */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../open-database.js';
import * as sql from './queue-sql.js';

export type ClaimedRow = [seq: number, attempts: number, firstFailedAt: string | null, partitionKey: string | null, envelope: string];

export class QueueStatements {
  readonly begin: Statement;
  readonly commit: Statement;
  readonly rollback: Statement;
  readonly savepoint: Statement;
  readonly releaseSavepoint: Statement;
  readonly rollbackToSavepoint: Statement;
  readonly anyClaimable: Statement;
  readonly claim: Statement;
  readonly nextAvailable: Statement;
  readonly insertQueueMessage: Statement;
  readonly insertTopicMessage: Statement;
  readonly insertRedriven: Statement;
  readonly declareGroup: Statement;
  readonly ack: Statement;
  readonly retry: Statement;
  readonly release: Statement;
  readonly extend: Statement;
  readonly takeForDeadLetter: Statement;
  readonly insertDeadLetter: Statement;
  readonly cancelInQueue: Statement;
  readonly cancelInGroup: Statement;
  readonly cancelInTopic: Statement;
  readonly dataVersion: Statement;

  constructor(db: SqliteDatabase) {
    const prepare = (text: string): Statement => db.prepare(text);
    this.begin = prepare('BEGIN IMMEDIATE');
    this.commit = prepare('COMMIT');
    this.rollback = prepare('ROLLBACK');
    this.savepoint = prepare('SAVEPOINT eventloom_queue');
    this.releaseSavepoint = prepare('RELEASE eventloom_queue');
    this.rollbackToSavepoint = prepare('ROLLBACK TO eventloom_queue');
    this.anyClaimable = prepare(sql.ANY_CLAIMABLE).pluck();
    this.claim = prepare(sql.CLAIM).raw(true);
    this.nextAvailable = prepare(sql.NEXT_AVAILABLE).pluck();
    this.insertQueueMessage = prepare(sql.INSERT_QUEUE_MESSAGE);
    this.insertTopicMessage = prepare(sql.INSERT_TOPIC_MESSAGE);
    this.insertRedriven = prepare(sql.INSERT_REDRIVEN);
    this.declareGroup = prepare(sql.DECLARE_GROUP);
    this.ack = prepare(sql.ACK);
    this.retry = prepare(sql.RETRY);
    this.release = prepare(sql.RELEASE);
    this.extend = prepare(sql.EXTEND);
    this.takeForDeadLetter = prepare(sql.TAKE_FOR_DEAD_LETTER).pluck();
    this.insertDeadLetter = prepare(sql.INSERT_DEAD_LETTER);
    this.cancelInQueue = prepare(sql.CANCEL_IN_QUEUE);
    this.cancelInGroup = prepare(sql.CANCEL_IN_GROUP);
    this.cancelInTopic = prepare(sql.CANCEL_IN_TOPIC);
    this.dataVersion = prepare(sql.DATA_VERSION).pluck();
  }
}
