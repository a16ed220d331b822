/**
 * A receiver's answer to a delivery it no longer holds. Leases run out (a stalled event loop, a
 * paused process, a renewal that failed); the message then becomes another consumer's, and what
 * the first holder says late must change nothing. For an ack or a retry "nothing" is enough —
 * the message is delivered again. A dead-letter write cannot answer that way: it returns the record
 * it stored, and here it stored none, so the driver throws this instead of a record that does not
 * exist. The message stays with its new holder (or is already done); it is neither lost nor parked
 * twice.
 */
import { EventloomError } from '../envelope/errors.js';

export class DeliveryLostError extends EventloomError {
  readonly code = 'DELIVERY_LOST' as const;

  constructor(
    /** The transport's kind (`sqlite`, `postgres`, …). */
    readonly transport: string,
    /** The message's id, when the delivery was decoded. */
    readonly messageId: string | null,
    /** What was asked of the lost delivery, e.g. `dead-lettering`. */
    readonly operation: string,
  ) {
    super(
      `${operation} message ${messageId ?? '(undecodable)'} on the ${transport} transport changed nothing: this delivery's lease ran out and the message was claimed again (by another consumer, or is already done). Its new holder handles it; raise visibilityTimeoutMs if handlers outlive it`,
    );
  }
}
