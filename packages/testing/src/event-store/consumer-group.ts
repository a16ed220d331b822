/**
 * Consumer groups, part of the EventStore contract: members (here on two handles of one storage,
 * as two processes have, and in a child process) share a group's partitions; each stream is
 * handled by one member at a time, in order; a member that stops or dies loses its partitions to
 * the others and nothing is lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConsumerGroupMember, EventStore, RecordedEvent, SubscriptionEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, many, settledLogOf, uniqueCategory } from './fixtures.js';

const CHILD = fileURLToPath(new URL('./group-member-process.ts', import.meta.url));

interface Handled {
  readonly member: string;
  readonly event: RecordedEvent;
}

function join(store: EventStore, group: string, prefix: string, memberId: string, handled: Handled[], partitions = 4): ConsumerGroupMember {
  return store.subscribeGroup({
    group,
    memberId,
    partitions,
    leaseMs: 900,
    pollIntervalMs: 30,
    filter: { streamPrefixes: [prefix] },
    logger: false,
    handler: (event) => {
      handled.push({ member: memberId, event });
    },
  });
}

async function appendStreams(store: EventStore, prefix: string, streams: number, each: number, offset = 0): Promise<void> {
  for (let i = 0; i < streams; i++) await store.appendToStream(`${prefix}${offset + i}`, many(each));
}

export function consumerGroupTests(ctx: SuiteContext): void {
  describe('consumer groups', () => {
    it('shares the partitions between members; each stream is handled by one member, in order; position and waitFor', async () => {
      const created = await ctx.created();
      const store = created.store;
      const other = await ctx.reopen(created);
      const category = uniqueCategory();
      const prefix = `${category}-`;
      const group = `g-${category}`;
      const handled: Handled[] = [];
      const a = join(store, group, prefix, 'a', handled);
      const b = join(other, group, prefix, 'b', handled);
      try {
        await eventually(() => expect([a.partitions.length, b.partitions.length]).toEqual([2, 2]), 15_000);
        expect([...a.partitions, ...b.partitions].sort()).toEqual([0, 1, 2, 3]);
        await appendStreams(store, prefix, 24, 3);
        const log = await settledLogOf(store, prefix, 72);
        const last = log[log.length - 1]!.position;
        await a.waitFor(last, 15_000);
        await b.waitFor(last, 15_000);
        expect(handled.map((h) => h.event.id).sort()).toEqual(log.map((e) => e.id).sort());
        for (let i = 0; i < 24; i++) {
          const ofStream = handled.filter((h) => h.event.streamId === `${prefix}${i}`);
          expect(new Set(ofStream.map((h) => h.member)).size).toBe(1);
          expect(ofStream.map((h) => h.event.streamVersion)).toEqual([1n, 2n, 3n]);
        }
        expect(new Set(handled.map((h) => h.member))).toEqual(new Set(['a', 'b']));
        const highest = (member: string): bigint =>
          handled.filter((h) => h.member === member).reduce((max, h) => (h.event.position > max ? h.event.position : max), 0n);
        expect(a.position).toBe(highest('a'));
        expect(b.position).toBe(highest('b'));
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    it('gives a stopped member’s partitions to the others; nothing is lost', async () => {
      const created = await ctx.created();
      const store = created.store;
      const other = await ctx.reopen(created);
      const category = uniqueCategory();
      const prefix = `${category}-`;
      const group = `g-${category}`;
      const handled: Handled[] = [];
      const a = join(store, group, prefix, 'a', handled);
      const b = join(other, group, prefix, 'b', handled);
      try {
        await eventually(() => expect([a.partitions.length, b.partitions.length]).toEqual([2, 2]), 15_000);
        await appendStreams(store, prefix, 12, 2);
        await settledLogOf(store, prefix, 24);
        await eventually(() => expect(handled).toHaveLength(24), 15_000);
        await a.stop();
        await eventually(() => expect(b.partitions).toEqual([0, 1, 2, 3]), 15_000);
        await appendStreams(store, prefix, 12, 2, 100);
        const log = await settledLogOf(store, prefix, 48);
        await b.waitFor(log[47]!.position, 15_000);
        expect(new Set(handled.map((h) => h.event.id))).toEqual(new Set(log.map((e) => e.id)));
        expect(handled.slice(24).every((h) => h.member === 'b')).toBe(true);
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    it("dead-letters under the group's partitions (group#partition) and retries them through the member", async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const prefix = `${category}-`;
      const group = `g-${category}`;
      let broken = true;
      const handled: string[] = [];
      const member = store.subscribeGroup({
        group,
        partitions: 2,
        leaseMs: 900,
        pollIntervalMs: 30,
        filter: { streamPrefixes: [prefix] },
        failurePolicy: { onFailure: 'dead-letter', maxAttempts: 2, retryDelayMs: 1 },
        logger: false,
        handler: (event) => {
          if (broken && event.streamId === `${prefix}poison`) throw new Error('cannot handle poison');
          handled.push(event.id);
        },
      });
      try {
        await eventually(() => expect(member.partitions).toEqual([0, 1]), 15_000);
        await appendStreams(store, prefix, 3, 1);
        await store.appendToStream(`${prefix}poison`, many(1));
        const log = await settledLogOf(store, prefix, 4);
        await member.waitFor(log[3]!.position, 15_000);
        const poison = log.find((e) => e.streamId === `${prefix}poison`)!;
        expect(handled.sort()).toEqual(log.filter((e) => e !== poison).map((e) => e.id).sort());
        const letters = (await store.subscriptionDeadLetters.list()).filter((l) => l.subscriptionId.startsWith(`${group}#`));
        expect(letters).toMatchObject([{ position: poison.position, eventId: poison.id, attempts: 2, error: 'Error: cannot handle poison' }]);
        expect(letters[0]!.subscriptionId).toMatch(new RegExp(`^${group}#[01]$`));
        broken = false;
        expect(await member.retryDeadLetters()).toEqual({ handled: 1, failed: 0 });
        expect(handled).toContain(poison.id);
        expect(await store.subscriptionDeadLetters.list(letters[0]!.subscriptionId)).toEqual([]);
      } finally {
        await member.stop();
      }
    });

    it('refuses a member whose partition count is not the group’s (GROUP_CONFIG_MISMATCH), and bad options', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const group = `g-${category}`;
      const a = join(store, group, `${category}-`, 'a', [], 4);
      try {
        await eventually(() => expect(a.partitions.length).toBe(4), 15_000);
        const reported: SubscriptionEvent[] = [];
        const lines: string[] = [];
        const b = store.subscribeGroup({
          group,
          memberId: 'b',
          partitions: 8,
          leaseMs: 900,
          onEvent: (event) => reported.push(event),
          logger: { warn: (line) => lines.push(line), error: (line) => lines.push(line) },
          handler: () => undefined,
        });
        await expect(b.done).rejects.toMatchObject({ code: 'GROUP_CONFIG_MISMATCH' });
        // Visibly: an error event it will not retry, and a log line.
        expect(reported).toMatchObject([{ type: 'error', subscription: `group ${group}`, willRetry: false, error: { code: 'GROUP_CONFIG_MISMATCH' } }]);
        expect(lines).toEqual([expect.stringContaining(`subscription group ${group} stopped on an error: GroupConfigMismatchError`)]);
        expect(() => store.subscribeGroup({ group: '', handler: () => undefined })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
        expect(() => store.subscribeGroup({ group, partitions: 0, handler: () => undefined })).toThrow(
          expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
        );
      } finally {
        await a.stop();
      }
    });

    it('two processes: the member killed with SIGKILL loses its partitions to the other, and nothing is lost', async (test) => {
      const created = await ctx.created();
      if (!created.child) {
        test.skip('this store lives in one process (no `child` in what `create` returns)');
        return;
      }
      const store = created.store;
      const category = uniqueCategory();
      const prefix = `${category}-`;
      const group = `g-${category}`;
      const fromChild = new Set<string>();
      let childPartitions = '';
      const child: ChildProcess = spawn(
        process.execPath,
        ['--conditions=eventloom-source', '--import', 'tsx', CHILD, created.child.module, JSON.stringify(created.child.env), group, '4', '1000', prefix],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          if (line.startsWith('handled ')) fromChild.add(line.slice(8));
          if (line.startsWith('partitions ')) childPartitions = line.slice(11);
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const handled: Handled[] = [];
      let member: ConsumerGroupMember | undefined;
      try {
        await eventually(() => expect(childPartitions).toBe('0,1,2,3'), 30_000).catch((error: unknown) => {
          throw new Error(`the child member did not take the partitions; its stderr: ${stderr}`, { cause: error });
        });
        member = join(store, group, prefix, 'parent', handled);
        await eventually(() => expect([member!.partitions.length, childPartitions.split(',').length]).toEqual([2, 2]), 15_000);
        await appendStreams(store, prefix, 20, 2);
        const before = await settledLogOf(store, prefix, 40);
        await eventually(() => expect(new Set([...fromChild, ...handled.map((h) => h.event.id)]).size).toBe(40), 15_000);
        expect(fromChild.size).toBeGreaterThan(0);
        child.kill('SIGKILL');
        await appendStreams(store, prefix, 20, 2, 100);
        const log = await settledLogOf(store, prefix, 80);
        await eventually(() => expect(member!.partitions).toEqual([0, 1, 2, 3]), 15_000);
        await member.waitFor(log[79]!.position, 15_000);
        const all = new Set([...fromChild, ...handled.map((h) => h.event.id)]);
        expect(log.filter((e) => !all.has(e.id)).map((e) => e.id)).toEqual([]);
        // After the kill, every new event was handled here.
        const after = log.slice(40).map((e) => e.id);
        expect(after.every((id) => handled.some((h) => h.event.id === id))).toBe(true);
        expect(before).toHaveLength(40);
      } finally {
        child.kill('SIGKILL');
        await member?.stop();
      }
    });
  });
}
