/**
 * Consumer groups across processes: three member processes share 200 streams; one is killed
 * with SIGKILL mid-run. Every event must be handled, each stream's events in order, and the dead
 * member's partitions taken over once its lease runs out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { GroupConfigMismatchError, type RecordedEvent } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, migrate, MIGRATIONS, namesFor, openPostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, uniqueSchema, type TestStore } from './support.js';

const memberScript = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url));
const STREAMS = 200;
const ROUNDS = 10;

interface Handled {
  seq: string;
  member: string;
  partition: number;
  stream_id: string;
  version: string;
}

function startMember(schema: string, group: string, memberId: string, table: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=eventloom-source', '--import', 'tsx', memberScript, connectionString, schema, group, memberId, table],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`member ${memberId} exited with ${code} before joining: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!postgresUrl)('consumer groups across processes', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore();
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('3 members, one killed mid-run: every event of 200 streams handled, per-stream order kept', async () => {
    const { store, schema } = test;
    const admin = await adminClient();
    const table = `"${schema}".handled`;
    await admin.query(`CREATE TABLE ${table} (
      seq bigserial PRIMARY KEY, member text, partition int, stream_id text, version bigint, event_id uuid)`);
    const members: ChildProcess[] = [];
    const appendRound = async (round: number): Promise<void> => {
      for (let s = 0; s < STREAMS; s += 20) {
        await Promise.all(
          Array.from({ length: 20 }, (_, k) =>
            store.appendToStream(`item-${s + k}`, [{ type: 'Touched', data: { round } }], { expectedVersion: BigInt(round) }),
          ),
        );
      }
    };
    const handledCount = async (member?: string): Promise<number> => {
      const { rows } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${table} ${member ? 'WHERE member = $1' : ''}`,
        member ? [member] : [],
      );
      return Number(rows[0]!.n);
    };
    try {
      for (let round = 0; round < ROUNDS / 2; round++) await appendRound(round);
      for (const id of ['m1', 'm2', 'm3']) members.push(await startMember(schema, 'billing', id, table));
      const [victim] = members;
      await until(async () => (await handledCount('m1')) >= 30, 60_000, 'the victim to handle some events');
      victim!.kill('SIGKILL');
      await exited(victim!);
      for (let round = ROUNDS / 2; round < ROUNDS; round++) await appendRound(round);

      const expected = STREAMS * ROUNDS;
      await until(
        async () => {
          const { rows } = await admin.query<{ n: string }>(`SELECT count(DISTINCT event_id) AS n FROM ${table}`);
          return Number(rows[0]!.n) >= expected;
        },
        90_000,
        `all ${expected} events to be handled`,
      );
      for (const member of members.slice(1)) member.kill('SIGTERM');
      expect(await Promise.all(members.slice(1).map(exited))).toEqual([0, 0]);

      const { rows } = await admin.query<Handled>(`SELECT seq, member, partition, stream_id, version FROM ${table} ORDER BY seq`);
      // Per stream: a version is handled only after the one before it (repeats after a takeover allowed).
      const highest = new Map<string, number>();
      const partitionOf = new Map<string, number>();
      for (const row of rows) {
        const version = Number(row.version);
        const seen = highest.get(row.stream_id) ?? 0;
        if (version > seen + 1) throw new Error(`${row.stream_id} v${version} handled before v${seen + 1}`);
        highest.set(row.stream_id, Math.max(seen, version));
        const partition = partitionOf.get(row.stream_id);
        if (partition !== undefined && partition !== row.partition) throw new Error(`${row.stream_id} moved partitions`);
        partitionOf.set(row.stream_id, row.partition);
      }
      expect(highest.size).toBe(STREAMS);
      expect([...highest.values()].every((v) => v === ROUNDS)).toBe(true);
      // The victim's partitions went to the survivors, who handled events after the kill.
      const victimPartitions = new Set(rows.filter((r) => r.member === 'm1').map((r) => r.partition));
      expect(victimPartitions.size).toBeGreaterThan(0);
      const takenOver = rows.filter((r) => r.member !== 'm1' && victimPartitions.has(r.partition));
      expect(takenOver.length).toBeGreaterThan(0);
      // Repeats only within the documented bound: one batch (10) per partition taken over.
      const duplicates = rows.length - expected;
      expect(duplicates).toBeLessThanOrEqual(victimPartitions.size * 10);
    } finally {
      for (const member of members) member.kill('SIGKILL');
      await admin.end();
    }
  }, 180_000);

  it('refuses a member whose partition count differs from the group, changing nothing; the group stays usable', async () => {
    const { store, schema } = test;
    const admin = await adminClient();
    const rows = async (): Promise<string> =>
      JSON.stringify((await admin.query(`SELECT * FROM "${schema}".group_partitions WHERE group_name = 'sized' ORDER BY partition`)).rows);
    try {
      const seen: RecordedEvent[] = [];
      const first = store.subscribeGroup({ group: 'sized', partitions: 4, leaseMs: 1_000, handler: (e) => void seen.push(e) });
      await until(async () => first.partitions.length === 4, 10_000, 'the first member to hold partitions');
      await first.stop();
      const before = await rows();
      const second = store.subscribeGroup({ group: 'sized', partitions: 8, handler: () => undefined });
      await expect(second.done).rejects.toBeInstanceOf(GroupConfigMismatchError);
      await expect(second.done).rejects.toMatchObject({ code: 'GROUP_CONFIG_MISMATCH', groupValue: '4', memberValue: '8' });
      expect(await rows()).toBe(before);
      // Not poisoned: a later member with the group's count works.
      const third = store.subscribeGroup({ group: 'sized', partitions: 4, leaseMs: 1_000, handler: () => undefined });
      await until(async () => third.partitions.length === 4, 10_000, 'a member with the right count to hold every partition');
      await third.stop();
    } finally {
      await admin.end();
    }
  });

  it('moves only the partitions that must move when a third member joins (sticky assignment)', async () => {
    const { store } = test;
    const join = (memberId: string) =>
      store.subscribeGroup({ group: 'sticky', memberId, partitions: 16, leaseMs: 600, pollIntervalMs: 50, handler: () => undefined });
    const a = join('a');
    const b = join('b');
    try {
      await until(async () => a.partitions.length === 8 && b.partitions.length === 8, 15_000, 'two members to split 16 partitions');
      const beforeA = new Set(a.partitions);
      const beforeB = new Set(b.partitions);
      const c = join('c');
      try {
        await until(
          async () => a.partitions.length + b.partitions.length + c.partitions.length === 16 && [a, b, c].every((m) => m.partitions.length >= 5),
          20_000,
          'three members to share 16 partitions',
        );
        // Each old member kept a subset of what it held; the new one holds only what they gave up.
        expect(a.partitions.every((p) => beforeA.has(p))).toBe(true);
        expect(b.partitions.every((p) => beforeB.has(p))).toBe(true);
        expect(c.partitions.length).toBeLessThanOrEqual(6);
        expect([...a.partitions, ...b.partitions, ...c.partitions].sort((x, y) => x - y)).toEqual([...Array(16).keys()]);
      } finally {
        await c.stop();
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('fences the checkpoint of a handler whose lease was lost while it ran, even once the member holds the partition again', async () => {
    const { store, schema } = test;
    const admin = await adminClient();
    const at = `"${schema}".group_partitions`;
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const handled: bigint[] = [];
    try {
      const appended = [];
      for (let i = 0; i < 3; i++) appended.push(await store.appendToStream(`fenced-${i}`, [{ type: 'T', data: {} }]));
      const first = appended[0]!.position;
      const last = appended[2]!.position;
      const member = store.subscribeGroup({
        group: 'fenced',
        partitions: 1,
        leaseMs: 600,
        pollIntervalMs: 50,
        batchSize: 1,
        filter: { streamPrefixes: ['fenced-'] },
        fromPosition: first,
        handler: async (event) => {
          if (handled.length === 0) {
            entered();
            await blocked;
          }
          handled.push(event.position);
        },
      });
      await inHandler;
      // Every checkpoint the partition gets, in order.
      await admin.query(`CREATE TABLE "${schema}".fenced_log (seq bigserial, position bigint)`);
      await admin.query(`CREATE FUNCTION "${schema}".log_fenced() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO "${schema}".fenced_log (position) VALUES (NEW.position); RETURN NEW; END $$`);
      await admin.query(`CREATE TRIGGER fenced_log AFTER UPDATE OF position ON ${at}
        FOR EACH ROW WHEN (NEW.group_name = 'fenced') EXECUTE FUNCTION "${schema}".log_fenced()`);
      // Between two of the member's heartbeats its lease ran out, another member took the partition
      // (a claim moves the lease epoch, where there is one), handled everything and let it go again.
      const epoch = await admin.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'group_partitions' AND column_name = 'lease_epoch'`,
        [schema],
      );
      const claim = epoch.rowCount ? ', lease_epoch = lease_epoch + 1' : '';
      await admin.query(`UPDATE ${at} SET owner = NULL, lease_until = NULL, position = $1${claim} WHERE group_name = 'fenced'`, [last.toString()]);
      // The member holds it again after its next heartbeat; only then does the old handler finish.
      await until(
        async () => (await admin.query(`SELECT 1 FROM ${at} WHERE group_name = 'fenced' AND owner IS NOT NULL`)).rowCount === 1,
        10_000,
        'the member to hold the partition again',
      );
      unblock();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const { rows } = await admin.query<{ position: string }>(`SELECT position FROM "${schema}".fenced_log ORDER BY seq`);
      const positions = rows.map((row) => BigInt(row.position));
      expect(positions[0]).toBe(last);
      // The handler of the lost lease never moved the checkpoint back below what the other member had stored.
      expect(positions.filter((position) => position < last)).toEqual([]);
      // And the member resumed after the other member's checkpoint: only the event in hand was handled here.
      expect(handled).toEqual([first]);
      await member.stop();
    } finally {
      unblock();
      await admin.end();
    }
  }, 30_000);

  it('resizes a group: new partitions start at the lowest old checkpoint, nothing skipped; members with the old count stop', async () => {
    const { store } = test;
    const member = (partitions: number, handler: (event: RecordedEvent) => void | Promise<void>) =>
      store.subscribeGroup({ group: 'resized', partitions, leaseMs: 600, pollIntervalMs: 50, filter: { streamPrefixes: ['resized-'] }, handler });
    const append = async (): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await store.appendToStream(`resized-${i}`, [{ type: 'T', data: {} }])).events[0]!.id);
      return ids;
    };
    const before = await append();
    const early = new Set<string>();
    const first = member(4, (event) => void early.add(event.id));
    await until(async () => before.every((id) => early.has(id)), 15_000, 'the first 20 events');
    await first.stop();
    const after = await append();
    // A member with the old count is in the middle of its handlers when the group is resized.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let inFlight = 0;
    const stale = member(4, async () => {
      inFlight++;
      await gate;
    });
    await until(async () => inFlight > 0, 15_000, 'the old-count member to be handling');
    const result = await store.resizeConsumerGroup({ group: 'resized', partitions: 8 });
    expect(result.previousPartitions).toBe(4);
    open();
    await expect(stale.done).rejects.toBeInstanceOf(GroupConfigMismatchError);
    await expect(member(4, () => undefined).done).rejects.toBeInstanceOf(GroupConfigMismatchError);
    const late = new Set<string>();
    const resized = member(8, (event) => void late.add(event.id));
    try {
      await until(async () => after.every((id) => late.has(id)), 15_000, 'every event appended before the resize and not yet handled');
      await until(async () => resized.partitions.length === 8, 10_000, 'the new member to hold 8 partitions');
    } finally {
      await resized.stop();
    }
  }, 60_000);

  it('spreads partitions over the members of one process and hands them back on stop', async () => {
    const { store } = test;
    const handled = new Map<string, string[]>();
    const join = (memberId: string) =>
      store.subscribeGroup({
        group: 'local',
        memberId,
        partitions: 6,
        leaseMs: 600,
        pollIntervalMs: 50,
        filter: { streamPrefixes: ['local-'] },
        handler: (event, context) => {
          handled.set(event.streamId, [...(handled.get(event.streamId) ?? []), `${context.memberId}:${event.streamVersion}`]);
        },
      });
    const a = join('a');
    await until(async () => a.partitions.length === 6, 10_000, 'a lone member to hold every partition');
    const b = join('b');
    await until(async () => a.partitions.length === 3 && b.partitions.length === 3, 15_000, 'the partitions to be split');
    expect([...a.partitions, ...b.partitions].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 30; i++) await store.appendToStream(`local-${i}`, [{ type: 'T', data: {} }, { type: 'T', data: {} }]);
    await until(async () => handled.size === 30 && [...handled.values()].every((h) => h.length === 2), 15_000, 'both events of 30 streams');
    for (const entries of handled.values()) {
      // One member per stream, in order.
      expect(entries[0]!.split(':')[0]).toBe(entries[1]!.split(':')[0]);
      expect(entries.map((e) => e.split(':')[1])).toEqual(['1', '2']);
    }
    await a.stop();
    await until(async () => b.partitions.length === 6, 15_000, 'the remaining member to take every partition');
    await b.stop();
    expect(b.partitions).toEqual([]);
  });
});

describe.skipIf(!postgresUrl)('a consumer group member while the server is away', () => {
  it('waits out a server it cannot reach when joining, then joins and handles', async () => {
    const target = new URL(connectionString);
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const close = (): void => void (client.destroy(), upstream.destroy());
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const url = new URL(connectionString);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const schema = uniqueSchema('elcgu');
    const store = await openPostgresEventStore({ connectionString: url.toString(), schema, poolSize: 2 });
    const handled: string[] = [];
    try {
      await store.appendToStream('away-1', [{ type: 'T', data: {} }]);
      // The server goes away: connections are refused.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const member = store.subscribeGroup({ group: 'away', partitions: 2, leaseMs: 600, pollIntervalMs: 50, handler: (e) => void handled.push(e.streamId) });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(member.partitions).toEqual([]);
      // And comes back on the same address.
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      await until(async () => handled.includes('away-1'), 20_000, 'the member to join and handle once the server is back');
      await member.stop();
      await member.done;
    } finally {
      await store.close();
      server.close();
      await dropPostgresEventStore({ connectionString, schema });
    }
  }, 60_000);
});

describe.skipIf(!postgresUrl)('consumer groups made before migration 4', () => {
  it('a group poisoned by two partition counts is healed: the first count kept with its checkpoints, the other rows dropped', async () => {
    const schema = uniqueSchema('elcg');
    const names = namesFor(schema);
    const admin = await adminClient();
    try {
      await migrate(admin, names, MIGRATIONS.filter((m) => m.version < 4));
      // What two members with 4 and then 8 partitions left behind under the old code.
      await admin.query(
        `INSERT INTO ${names.qschema}.group_partitions (tenant_id, group_name, partition, partition_count, position)
         SELECT 'default', 'poisoned', p, 4, 10 + p FROM generate_series(0, 3) AS p
         UNION ALL SELECT 'default', 'poisoned', p, 8, NULL FROM generate_series(4, 7) AS p`,
      );
      const store = await openPostgresEventStore({ connectionString, schema, poolSize: 2 });
      try {
        const { rows } = await admin.query<{ partition: number; position: string | null }>(
          `SELECT partition, position FROM ${names.qschema}.group_partitions WHERE group_name = 'poisoned' ORDER BY partition`,
        );
        expect(rows).toEqual([0, 1, 2, 3].map((p) => ({ partition: p, position: String(10 + p) })));
        await expect(store.subscribeGroup({ group: 'poisoned', partitions: 8, handler: () => undefined }).done).rejects.toBeInstanceOf(
          GroupConfigMismatchError,
        );
        const member = store.subscribeGroup({ group: 'poisoned', partitions: 4, leaseMs: 600, handler: () => undefined });
        await until(async () => member.partitions.length === 4, 10_000, 'a member with the kept count to hold every partition');
        await member.stop();
      } finally {
        await store.close();
      }
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});
