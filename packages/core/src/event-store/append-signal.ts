/** Wakes live subscriptions when something is appended, instead of leaving them to poll. */

export class AppendSignal {
  #waiters = new Set<() => void>();

  notify(): void {
    const waiters = this.#waiters;
    if (waiters.size === 0) return;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next `notify()`, after `timeoutMs`, or when `signal` aborts — whichever is first. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
