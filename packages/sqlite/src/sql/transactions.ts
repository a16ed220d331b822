/** Transaction control. IMMEDIATE takes the write lock up front, so a write never fails half-way on it. */

export const BEGIN = 'BEGIN IMMEDIATE';
export const COMMIT = 'COMMIT';
export const ROLLBACK = 'ROLLBACK';
export const SAVEPOINT = 'SAVEPOINT append';
export const RELEASE = 'RELEASE append';
export const ROLLBACK_TO = 'ROLLBACK TO append';
