/** Stream ids are `category-id`: the category is what stands before the first `-`. */
import { describeValue } from './describe-value.js';
import { InvalidArgumentError } from './errors.js';
import { unstorableText } from './text.js';

export const MAX_STREAM_ID_LENGTH = 255;

// Control characters make ids that print and log badly and are nearly always a bug.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws `InvalidArgumentError` unless `streamId` is a usable stream id. */
export function assertStreamId(streamId: unknown, argument = 'streamId'): asserts streamId is string {
  if (typeof streamId !== 'string') {
    throw new InvalidArgumentError(argument, `must be a string, got ${describeValue(streamId)}`);
  }
  if (streamId.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (streamId.length > MAX_STREAM_ID_LENGTH) {
    throw new InvalidArgumentError(
      argument,
      `is ${streamId.length} characters long; the limit is ${MAX_STREAM_ID_LENGTH}`,
    );
  }
  if (CONTROL.test(streamId)) throw new InvalidArgumentError(argument, 'must not contain control characters');
  const reason = unstorableText(streamId);
  if (reason !== undefined) throw new InvalidArgumentError(argument, reason);
}

/**
 * Throws `InvalidArgumentError` unless `category` can name streams `category-…`: a non-empty
 * string of text the stores can keep. A `-` is allowed: `readCategory('order-eu')` reads the
 * streams that start with `order-eu-`.
 */
export function assertCategory(category: unknown): asserts category is string {
  if (typeof category !== 'string' || category.length === 0 || category.length >= MAX_STREAM_ID_LENGTH) {
    throw new InvalidArgumentError('category', `must be a non-empty string shorter than a stream id, got ${describeValue(category)}`);
  }
  const reason = unstorableText(category);
  if (reason !== undefined) throw new InvalidArgumentError('category', reason);
}

/** `order-123` → `order`; a stream id without `-` is its own category. */
export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(0, dash);
}

/** `streamIdOf('order', '123')` → `order-123`. */
export function streamIdOf(category: string, id: string): string {
  if (category.length === 0 || category.includes('-')) {
    throw new InvalidArgumentError('category', `must be non-empty and contain no '-', got ${describeValue(category)}`);
  }
  return `${category}-${id}`;
}
