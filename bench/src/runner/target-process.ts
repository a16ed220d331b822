/** The runner's handle on one worker process: requests with a time limit, and a kill for a stuck target. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const LOG_LINES = 40;

export class TimeoutError extends Error {}

interface Pending {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
  onProgress(text: string): void;
}

export class TargetProcess {
  readonly #child: ChildProcess;
  readonly #log: string[] = [];
  #exit: string | undefined;
  #pending: Pending | undefined;

  constructor(extraExecArgv: readonly string[] = []) {
    this.#child = fork(WORKER, [], {
      execArgv: [...process.execArgv, ...extraExecArgv],
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // Libraries log to the console (Emmett prints every failed transaction); keep it out of the table, but at hand.
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) this.#log.push(line.slice(0, 300));
        this.#log.splice(0, Math.max(0, this.#log.length - LOG_LINES));
      });
    }
    this.#child.on('message', (message: FromWorker) => {
      if (message.kind === 'progress') this.#pending?.onProgress(message.text);
      else this.#settle((p) => p.resolve(message));
    });
    this.#child.on('exit', (code, signal) => {
      this.#exit = `worker exited (${signal ?? `code ${code}`})`;
      this.#settle((p) => p.reject(new Error(`${this.#exit}${this.lastLog() ? `: ${this.lastLog()}` : ''}`)));
    });
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** Last lines the worker printed, for a failure's reason. */
  lastLog(lines = 3): string {
    return this.#log.slice(-lines).join(' | ');
  }

  get log(): readonly string[] {
    return this.#log;
  }

  /** Sends `message` and resolves with the reply, or rejects with `TimeoutError` after `timeoutMs`. */
  request(message: ToWorker, timeoutMs: number, onProgress: (text: string) => void = () => undefined): Promise<FromWorker> {
    if (this.#exit) return Promise.reject(new Error(this.#exit));
    if (this.#pending) return Promise.reject(new Error('a request is already in flight'));
    return new Promise<FromWorker>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle((p) => p.reject(new TimeoutError(`no result after ${Math.round(timeoutMs / 1000)} s`)));
      }, timeoutMs);
      this.#pending = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        onProgress,
      };
      this.#child.send(message);
    });
  }

  /** Ends a stuck worker; only this process's own child is signalled. */
  kill(): void {
    if (this.alive) this.#child.kill('SIGKILL');
  }

  /** Waits for the worker to exit after it was told to close, killing it if it lingers. */
  async exited(timeoutMs = 5_000): Promise<void> {
    if (!this.alive) return;
    this.#child.disconnect();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.kill();
        resolve();
      }, timeoutMs);
      this.#child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #settle(action: (pending: Pending) => void): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) action(pending);
  }
}
