/**
 * What a transport gives the conformance suite, and what every part of the suite gets.
 *
 * One factory shape for in-process and networked transports: `create` makes a fresh transport
 * per test; `peer` is a second transport on the same storage or broker (another connection, as
 * another process has); `crash` abandons a transport the way a killed process does.
 */
import type { ConsumeSource, Consumer, ConsumerOptions, Event, MessageHandlers, Transport } from '@eventloom/core';

export interface TransportTestContext {
  readonly transport: Transport;
  /**
   * Another transport on the same storage or broker: its own connection or handle, like a
   * second process. The suite closes it after the test. Without it, the cases that need two
   * processes (competing consumers across processes, crash) are skipped with that reason.
   */
  readonly peer?: () => Promise<Transport>;
  /**
   * Abandons `transport` (one of this context's peers) without releasing what its consumers
   * claimed: connections closed abruptly, no acks, no releases, as when its process is killed.
   * A message it held must come back after the consumer's visibility timeout. Without it, the
   * crash cases are skipped.
   */
  readonly crash?: (transport: Transport) => Promise<void>;
  /**
   * Puts bytes on the wire of `source` as a foreign producer would (brokers, durable queues that
   * store raw bodies). When present, the suite checks that undecodable bytes are dead-lettered
   * as `undecodable` with the raw bytes kept, and that the consumer keeps going.
   */
  readonly injectRaw?: (source: ConsumeSource, headers: Readonly<Record<string, string>>, body: Uint8Array) => Promise<void>;
  /**
   * True when this context's dead-letter queue holds only what this test made (fresh storage
   * per `create`): then `redrive()` and `purge()` without a filter are checked too. Shared
   * brokers and databases leave it unset, and the suite filters by its own consumer names.
   */
  readonly isolatedDeadLetters?: boolean;
  /** Releases what `create` made (connections, files, queues, schemas); called after each test. Default: `transport.close()`. */
  readonly cleanup?: () => Promise<void>;
}

export interface TransportFactory {
  /** A fresh transport per call; every test makes its own (names are unique per test anyway). */
  create(): Promise<TransportTestContext>;
}

export interface TransportConformanceOptions {
  /**
   * Parts this transport skips, by name (`'delayed delivery'`, `'model'`…), each with the
   * reason — skips are written down, never silent.
   */
  readonly skip?: Readonly<Record<string, string>>;
  /** Runs of the model-based test. Default `EVENTLOOM_FUZZ_RUNS` or 8. */
  readonly modelRuns?: number;
  /** The largest message (JSON bytes) the transport accepts. Default `MAX_EVENT_BYTES`. */
  readonly maxMessageBytes?: number;
  /** Multiplies the suite's waits and time-outs (not its delays) for slow brokers. Default 1. */
  readonly timeScale?: number;
}

export interface SuiteContext {
  readonly name: string;
  readonly options: TransportConformanceOptions;
  /** A fresh context, cleaned up after the current test. */
  create(): Promise<TransportTestContext>;
  /** A peer of `made`, closed after the test; `undefined` when the transport has none. */
  peer(made: TransportTestContext): Promise<Transport | undefined>;
  /** Starts a consumer that is stopped after the current test (if the test did not stop it). */
  consume<M extends Event>(transport: Transport, source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer;
  /** `ms` × `timeScale`: for waits and time-outs. */
  scaled(ms: number): number;
}
