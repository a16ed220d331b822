/** Removes a store's schema and role: for tests, and for tearing a deployment down on purpose. */
import { InvalidArgumentError } from '@eventloom/core';
import { toStoreError } from './errors.js';
import { namesFor } from './names.js';
import { connectPlain } from './session.js';

/**
 * Drops the schema with everything in it, and the store's role together with what that role owns
 * or was granted in this database (for instance tables its inline projections created elsewhere).
 * Irreversible: every event of every tenant in the schema is gone.
 */
export async function dropPostgresEventStore(options: { connectionString: string; schema: string }): Promise<void> {
  if (typeof options?.connectionString !== 'string') throw new InvalidArgumentError('connectionString', 'must be a string');
  const names = namesFor(options.schema);
  const context = { operation: `dropping the store in schema ${names.schema}` };
  let client;
  try {
    client = await connectPlain(options.connectionString);
  } catch (error) {
    throw toStoreError(error, context);
  }
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${names.qschema} CASCADE`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [names.role]);
    if (rowCount) {
      await client.query(`DROP OWNED BY ${names.qrole}`);
      await client.query(`DROP ROLE ${names.qrole}`);
    }
  } catch (error) {
    throw toStoreError(error, context);
  } finally {
    await client.end().catch(() => undefined);
  }
}
