/**
 * Reads of one stream limited to some columns (`fields` of a read, `field-rows.ts`): the same
 * keyset page as `READ_STREAM_FORWARDS` / `READ_STREAM_BACKWARDS` in `events.ts`, with the same
 * parameters (stream, lowest version, highest version, oldest time, limit).
 */
export function streamQuery(columns: string, direction: 'forwards' | 'backwards'): string {
  return `
SELECT ${columns} FROM events
WHERE stream_id = ? AND stream_version >= ? AND stream_version <= ? AND time >= ?
ORDER BY stream_version${direction === 'backwards' ? ' DESC' : ''}
LIMIT ?`;
}
