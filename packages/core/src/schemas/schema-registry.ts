/** Event schemas (Standard Schema: zod, valibot, arktype…) and upcasters, by type and version. */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { InvalidArgumentError, InvalidEventError, UpcastError, type SchemaIssue } from '../envelope/errors.js';
import type { Event, RecordedEvent } from '../envelope/event.js';

/** Turns data of `type` at `fromVersion` into data of `fromVersion + 1`. */
export interface Upcaster<From = unknown, To = unknown> {
  readonly type: string;
  readonly fromVersion: number;
  upcast(data: From, event: RecordedEvent): To;
}

interface TypeEntry {
  readonly schemas: Map<number, StandardSchemaV1>;
  readonly upcasters: Map<number, Upcaster>;
  latest: number;
}

/**
 * Knows, per event type, the schema of each version and how to move old data forward.
 * Stores validate appended data against it, and upcast what they read to the latest version.
 *
 * @example
 * const registry = new SchemaRegistry()
 *   .register('OrderCreated', 1, OrderCreatedV1)
 *   .register('OrderCreated', 2, OrderCreatedV2)
 *   .upcaster({ type: 'OrderCreated', fromVersion: 1, upcast: (d) => ({ ...d, currency: 'USD' }) });
 */
export class SchemaRegistry {
  readonly #types = new Map<string, TypeEntry>();

  register(type: string, version: number, schema: StandardSchemaV1): this {
    assertVersion(version);
    const entry = this.#entry(type);
    entry.schemas.set(version, schema);
    entry.latest = Math.max(entry.latest, version);
    return this;
  }

  upcaster<From, To>(upcaster: Upcaster<From, To>): this {
    assertVersion(upcaster.fromVersion);
    const entry = this.#entry(upcaster.type);
    entry.upcasters.set(upcaster.fromVersion, upcaster as Upcaster);
    entry.latest = Math.max(entry.latest, upcaster.fromVersion + 1);
    return this;
  }

  /** The newest known version of `type`, or 1 for a type the registry does not know. */
  latestVersion(type: string): number {
    return this.#types.get(type)?.latest ?? 1;
  }

  has(type: string): boolean {
    return this.#types.has(type);
  }

  types(): string[] {
    return [...this.#types.keys()];
  }

  /**
   * Validates `data` against the schema of `type` at `version` and returns the schema's output.
   * Unknown types and versions without a schema pass unchanged.
   * @throws InvalidEventError naming the failing fields
   */
  async validate(type: string, version: number, data: unknown, field: string): Promise<unknown> {
    const schema = this.#types.get(type)?.schemas.get(version);
    if (!schema) return data;
    let result = schema['~standard'].validate(data);
    if (result instanceof Promise) result = await result;
    if (result.issues === undefined) return result.value;
    const issues: SchemaIssue[] = result.issues.map((issue) => ({
      message: issue.message,
      path: pathOf(field, issue.path),
    }));
    const first = issues[0];
    throw new InvalidEventError(
      first?.path ?? field,
      `does not match the schema of ${type} v${version}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }

  /** Moves a recorded event's data up to the latest version of its type. */
  upcast<E extends Event>(event: RecordedEvent<E>): RecordedEvent<E> {
    const entry = this.#types.get(event.type);
    if (!entry || event.schemaVersion >= entry.latest) return event;
    let data: unknown = event.data;
    let version = event.schemaVersion;
    while (version < entry.latest) {
      const upcaster = entry.upcasters.get(version);
      if (!upcaster) {
        throw new UpcastError(event.id, event.type, version, {
          cause: new Error(`no upcaster registered from v${version} to v${version + 1}`),
          position: event.position,
          streamId: event.streamId,
        });
      }
      try {
        data = upcaster.upcast(data, event as RecordedEvent);
      } catch (cause) {
        throw new UpcastError(event.id, event.type, version, { cause, position: event.position, streamId: event.streamId });
      }
      version++;
    }
    return { ...event, data, schemaVersion: version } as RecordedEvent<E>;
  }

  #entry(type: string): TypeEntry {
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidArgumentError('type', 'must be a non-empty string');
    }
    let entry = this.#types.get(type);
    if (!entry) {
      entry = { schemas: new Map(), upcasters: new Map(), latest: 1 };
      this.#types.set(type, entry);
    }
    return entry;
  }
}

function assertVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidArgumentError('version', `must be a positive integer, got ${version}`);
  }
}

function pathOf(field: string, path: StandardSchemaV1.Issue['path']): string {
  let out = field;
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return out;
}
