/**
 * Group commit for answers (acks): while one statement is in flight, what arrives waits and goes
 * together in the next, so a transport's consumers pay one commit per round trip, not one per
 * message. Each caller's promise settles with its own batch.
 */
interface Waiting<T> {
  readonly items: readonly T[];
  resolve(): void;
  reject(error: unknown): void;
}

export class Coalescer<T> {
  #waiting: Waiting<T>[] = [];
  #inFlight = false;

  constructor(
    private readonly flush: (items: readonly T[]) => Promise<void>,
    private readonly maxItems: number,
  ) {}

  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      if (!this.#inFlight) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#waiting.length > 0) {
        const group: Waiting<T>[] = [];
        let size = 0;
        while (this.#waiting.length > 0 && (group.length === 0 || size + this.#waiting[0]!.items.length <= this.maxItems)) {
          const next = this.#waiting.shift()!;
          size += next.items.length;
          group.push(next);
        }
        try {
          await this.flush(group.flatMap((g) => g.items));
          for (const g of group) g.resolve();
        } catch (error) {
          for (const g of group) g.reject(error);
        }
      }
    } finally {
      this.#inFlight = false;
    }
  }
}
