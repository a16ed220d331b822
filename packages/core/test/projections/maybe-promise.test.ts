/** The driver that keeps synchronous work synchronous and awaits only what is a promise. */
import { drive, step } from '@eventloom/core';
import { describe, expect, it } from 'vitest';

describe('drive', () => {
  it('returns a plain value when every step is plain', () => {
    const result = drive(
      (function* () {
        const a = yield* step(1);
        const b = yield* step(a + 1);
        return a + b;
      })(),
    );
    expect(result).toBe(3);
  });

  it('suspends on promises and resumes with their values', async () => {
    const order: string[] = [];
    const result = drive(
      (function* () {
        order.push('start');
        const a = yield* step(Promise.resolve(2));
        order.push('after');
        const b = yield* step(3);
        return a * b;
      })(),
    );
    order.push('returned');
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe(6);
    expect(order).toEqual(['start', 'returned', 'after']);
  });

  it('throws rejections at the step, where they can be caught', async () => {
    const result = drive(
      (function* () {
        try {
          yield* step(Promise.reject(new Error('no')));
          return 'not here';
        } catch (error) {
          return `caught ${(error as Error).message}`;
        }
      })(),
    );
    expect(await result).toBe('caught no');
    expect(() =>
      drive(
        (function* () {
          yield* step(1);
          throw new Error('sync');
        })(),
      ),
    ).toThrow('sync');
  });
});
