/**
 * A received message's data against the schema registry, as the store's readers treat events:
 * validated at the version it was sent with, then upcast to the latest version (and validated
 * there) so handlers see one shape.
 */
import type { RecordedEvent } from '../../envelope/event.js';
import type { SchemaRegistry } from '../../schemas/schema-registry.js';
import type { MessageEnvelope } from '../message.js';

export async function checkAgainstSchemas(envelope: MessageEnvelope, registry: SchemaRegistry): Promise<MessageEnvelope> {
  if (!registry.has(envelope.type)) return envelope;
  const data = await registry.validate(envelope.type, envelope.schemaVersion, envelope.data, 'message.data');
  let checked: MessageEnvelope = data === envelope.data ? envelope : { ...envelope, data };
  if (checked.schemaVersion >= registry.latestVersion(envelope.type)) return checked;
  // The registry upcasts recorded events; a message has no stream position, so it travels as one at 0.
  const asEvent = { ...checked, streamId: checked.subject ?? '', streamVersion: 0n, position: 0n } as RecordedEvent;
  const upcast = registry.upcast(asEvent);
  const upcastData = await registry.validate(upcast.type, upcast.schemaVersion, upcast.data, 'message.data');
  checked = { ...checked, data: upcastData, schemaVersion: upcast.schemaVersion };
  return checked;
}
