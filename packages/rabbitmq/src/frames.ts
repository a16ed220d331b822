/**
 * `basic.publish` written straight into the frames AMQP sends: the method, content-header and
 * body frames of one message in one buffer, byte for byte what amqplib writes for the same
 * publish (`frames.test.ts` compares them). amqplib's general encoder spent most of a publish's
 * CPU in the profile: an object of every property and method field per message, a header table
 * walked through a prototype chain, four buffers allocated (three of them zeroed) and copied
 * into a fifth. Here it is one walk over the properties given and one allocation.
 *
 * Only what Eventloom publishes takes this way: string, integer, float, boolean and null header
 * values, and the properties below. Anything else — nested tables, arrays, a priority, an
 * expiration, a body larger than a frame, a header table above the scratch space — answers
 * `null`, and the caller publishes through amqplib as before, with amqplib's checks and errors.
 */
import type { Options } from 'amqplib';

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 206;
/** Class 60 (basic), method 40 (publish). */
const BASIC_PUBLISH = (60 << 16) | 40;
/** Class 60, weight 0. */
const BASIC_PROPERTIES = 60 << 16;

/** Room for everything but the body; a message whose headers need more goes through amqplib. */
const SCRATCH = Buffer.allocUnsafe(16 * 1024);
/** What writing one short string can take at most: its length byte and 255 bytes (checked after). */
const SHORTSTR_ROOM = 1 + 255 * 3;

/** The property flags of AMQP's basic class, in the order their values are written. */
const CONTENT_TYPE = 0x8000;
const CONTENT_ENCODING = 0x4000;
const HEADERS = 0x2000;
const DELIVERY_MODE = 0x1000;
const CORRELATION_ID = 0x0400;
const MESSAGE_ID = 0x0080;
const TIMESTAMP = 0x0040;
const TYPE = 0x0020;
const APP_ID = 0x0008;

/**
 * The frames of one publish on channel `channel`, or `null` when amqplib must encode it
 * (see the module comment). `frameMax` is the connection's negotiated frame size.
 */
export function encodePublish(
  channel: number,
  frameMax: number,
  exchange: string,
  routingKey: string,
  content: Buffer,
  properties: Options.Publish,
): Buffer | null {
  // One walk over the properties given: looking up each absent one cost more than the rest of
  // the encoding in the profile (misses on objects of several shapes).
  let contentType: unknown;
  let contentEncoding: unknown;
  let headers: Record<string, unknown> | undefined;
  let persistent: unknown;
  let deliveryModeGiven: unknown;
  let correlationId: unknown;
  let messageId: unknown;
  let timestamp: unknown;
  let type: unknown;
  let appId: unknown;
  let mandatory = false;
  const given = properties as Record<string, unknown>;
  for (const key in given) {
    const value = given[key];
    if (value === undefined) continue;
    switch (key) {
      case 'contentType':
        contentType = value;
        break;
      case 'contentEncoding':
        contentEncoding = value;
        break;
      case 'headers':
        headers = value as Record<string, unknown>;
        break;
      case 'persistent':
        persistent = value;
        break;
      case 'deliveryMode':
        deliveryModeGiven = value;
        break;
      case 'correlationId':
        correlationId = value;
        break;
      case 'messageId':
        messageId = value;
        break;
      case 'timestamp':
        timestamp = value;
        break;
      case 'type':
        type = value;
        break;
      case 'appId':
        appId = value;
        break;
      case 'mandatory':
        mandatory = Boolean(value);
        break;
      default:
        // priority, expiration, replyTo, userId, CC, BCC, …: amqplib's way.
        return null;
    }
  }
  if (content.length > frameMax - 8) return null;
  const b = SCRATCH;

  // The method frame: channel, size (below), basic.publish, ticket 0, exchange, routing key, bits.
  b[0] = FRAME_METHOD;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(BASIC_PUBLISH, 7);
  b.writeUInt16BE(0, 11);
  let o = shortString(b, 13, exchange);
  if (o < 0) return null;
  o = shortString(b, o, routingKey);
  if (o < 0) return null;
  b[o++] = mandatory ? 1 : 0;
  b[o] = FRAME_END;
  b.writeUInt32BE(o - 7, 3);
  const header = ++o;

  // The content-header frame: channel, size, class and weight, body size, flags, the values.
  b[header] = FRAME_HEADER;
  b.writeUInt16BE(channel, header + 1);
  b.writeUInt32BE(BASIC_PROPERTIES, header + 7);
  b.writeUInt32BE(Math.floor(content.length / 2 ** 32), header + 11);
  b.writeUInt32BE(content.length >>> 0, header + 15);
  o = header + 21;
  let flags = 0;
  if (contentType !== null && contentType !== undefined) {
    flags |= CONTENT_TYPE;
    o = shortString(b, o, contentType);
    if (o < 0) return null;
  }
  if (contentEncoding !== null && contentEncoding !== undefined) {
    flags |= CONTENT_ENCODING;
    o = shortString(b, o, contentEncoding);
    if (o < 0) return null;
  }
  // amqplib always sends a table, empty when no headers are given.
  flags |= HEADERS;
  o = table(b, o, headers);
  if (o < 0) return null;
  const deliveryMode = persistent !== undefined ? (persistent ? 2 : 1) : typeof deliveryModeGiven === 'number' ? deliveryModeGiven : deliveryModeGiven ? 2 : undefined;
  if (deliveryMode !== undefined) {
    if (!Number.isInteger(deliveryMode) || deliveryMode < 0 || deliveryMode > 255) return null;
    flags |= DELIVERY_MODE;
    b[o++] = deliveryMode;
  }
  if (correlationId !== null && correlationId !== undefined) {
    flags |= CORRELATION_ID;
    o = shortString(b, o, correlationId);
    if (o < 0) return null;
  }
  if (messageId !== null && messageId !== undefined) {
    flags |= MESSAGE_ID;
    o = shortString(b, o, messageId);
    if (o < 0) return null;
  }
  if (timestamp !== null && timestamp !== undefined) {
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) return null;
    flags |= TIMESTAMP;
    b.writeUInt32BE(Math.floor(timestamp / 2 ** 32), o);
    b.writeUInt32BE(timestamp >>> 0, o + 4);
    o += 8;
  }
  if (type !== null && type !== undefined) {
    flags |= TYPE;
    o = shortString(b, o, type);
    if (o < 0) return null;
  }
  if (appId !== null && appId !== undefined) {
    flags |= APP_ID;
    o = shortString(b, o, appId);
    if (o < 0) return null;
  }
  b.writeUInt16BE(flags, header + 19);
  b[o] = FRAME_END;
  b.writeUInt32BE(o - header - 7, header + 3);
  const prefix = o + 1;
  if (prefix - header > frameMax) return null;

  const out = Buffer.allocUnsafe(content.length > 0 ? prefix + 8 + content.length : prefix);
  b.copy(out, 0, 0, prefix);
  if (content.length > 0) {
    out[prefix] = FRAME_BODY;
    out.writeUInt16BE(channel, prefix + 1);
    out.writeUInt32BE(content.length, prefix + 3);
    content.copy(out, prefix + 7);
    out[prefix + 7 + content.length] = FRAME_END;
  }
  return out;
}

/** A short string at `o` (length byte, UTF-8); the offset after it, or -1 if it is no string, too long, or does not fit. */
function shortString(b: Buffer, o: number, value: unknown): number {
  if (typeof value !== 'string' || value.length > 255 || o + SHORTSTR_ROOM > b.length) return -1;
  let n = ascii(b, o + 1, value);
  if (n < 0) n = b.write(value, o + 1, 'utf8');
  if (n > 255) return -1;
  b[o] = n;
  return o + 1 + n;
}

/**
 * Writes `value` at `o` if it is ASCII and short, returning its length, else -1 (nothing to
 * rely on written). Header names, ids, types and times are: a loop here costs less than a call
 * into the native UTF-8 writer for each of a message's twenty-odd strings.
 */
function ascii(b: Buffer, o: number, value: string): number {
  const n = value.length;
  if (n > 64) return -1;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return -1;
    b[o + i] = c;
  }
  return n;
}

/** A field table as amqplib writes one (its keys in enumeration order, `undefined` values left out); -1 when a value is not of the kinds handled here. */
function table(b: Buffer, start: number, headers: Record<string, unknown> | undefined): number {
  let o = start + 4;
  if (headers !== undefined && headers !== null) {
    for (const key in headers) {
      const value = headers[key];
      if (value === undefined) continue;
      o = shortString(b, o, key);
      if (o < 0) return -1;
      o = fieldValue(b, o, value);
      if (o < 0) return -1;
    }
  }
  b.writeUInt32BE(o - start - 4, start);
  return o;
}

function fieldValue(b: Buffer, o: number, value: unknown): number {
  switch (typeof value) {
    case 'string': {
      // Room for the tag, the length and the worst case of UTF-8 (3 bytes per UTF-16 unit).
      if (o + 5 + value.length * 3 > b.length) return -1;
      b[o] = 0x53; // 'S', a long string
      let n = ascii(b, o + 5, value);
      if (n < 0) n = b.write(value, o + 5, 'utf8');
      b.writeUInt32BE(n, o + 1);
      return o + 5 + n;
    }
    case 'number':
      return number(b, o, value);
    case 'boolean':
      if (o + 2 > b.length) return -1;
      b[o] = 0x74; // 't'
      b[o + 1] = value ? 1 : 0;
      return o + 2;
    case 'object':
      if (value !== null) return -1;
      if (o + 1 > b.length) return -1;
      b[o] = 0x56; // 'V', void
      return o + 1;
    default:
      return -1;
  }
}

/** A number as amqplib types it: the smallest signed integer that holds it, or a double for fractions. */
function number(b: Buffer, o: number, n: number): number {
  if (o + 9 > b.length || !Number.isFinite(n)) return -1;
  if (!Number.isInteger(n)) {
    // amqplib's rule: a fraction below 2^50 is a double; above, it would fail to encode — amqplib's way decides.
    if (Math.abs(n) >= 2 ** 50) return -1;
    b[o] = 0x64; // 'd'
    b.writeDoubleBE(n, o + 1);
    return o + 9;
  }
  if (n >= -128 && n < 128) {
    b[o] = 0x62; // 'b'
    b.writeInt8(n, o + 1);
    return o + 2;
  }
  if (n >= -0x8000 && n < 0x8000) {
    b[o] = 0x73; // 's'
    b.writeInt16BE(n, o + 1);
    return o + 3;
  }
  if (n >= -0x80000000 && n < 0x80000000) {
    b[o] = 0x49; // 'I'
    b.writeInt32BE(n, o + 1);
    return o + 5;
  }
  if (!Number.isSafeInteger(n)) return -1;
  b[o] = 0x6c; // 'l'
  b.writeBigInt64BE(BigInt(n), o + 1);
  return o + 9;
}
