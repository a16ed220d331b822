/**
 * W3I: W3's 16 concurrent writers with an inline projection registered (one summary row per order,
 * written in each append's transaction), to compare with W3 without one. Only Eventloom has
 * inline projections. W3ID: the same with the summary written as a document by the read-model
 * API (`upsert`) instead of plain SQL, where the target has both (PostgreSQL).
 */
import type { Workload } from './types.js';
import { concurrentAppends, w3Concurrent } from './w3-concurrent.js';

/** The category W3I writes and its projection reads. */
export const INLINE_CATEGORY = 'summary';
/** W3ID's: another, so that neither projection finds the other's events unseen before it. */
export const INLINE_DOCUMENT_CATEGORY = 'summarydoc';

function inlineWorkload(writes: 'sql' | 'documents'): Workload {
  return {
    ...w3Concurrent,
    id: writes === 'sql' ? 'W3I' : 'W3ID',
    title: (sizes) =>
      writes === 'sql'
        ? `W3 with an inline projection (${sizes.concurrentWriters} writers, a summary row per order in each append's transaction)`
        : `W3I with the summary as a document (${sizes.concurrentWriters} writers, the read-model API's upsert in each append's transaction)`,
    ...(writes === 'documents' && { backends: ['postgres'] }),
    roles: ['subject'],
    async run(target, context) {
      if (!target.addInlineProjection) throw new Error('this target has no inline projections');
      const projection = await target.addInlineProjection(writes);
      try {
        const before = await projection.documents();
        // A category of their own, which only the projection reads: it starts caught up, with nothing it handles before it.
        const output = await concurrentAppends(target, context.sizes, (w) => `${writes === 'sql' ? INLINE_CATEGORY : INLINE_DOCUMENT_CATEGORY}-p${context.pass}-${w}`);
        const written = (await projection.documents()) - before;
        const acknowledged = output.figures['acknowledged'] ?? 0;
        const skipped = projection.skipped();
        const detail = `${written} documents for ${acknowledged} appends${skipped.count > 0 ? `; ${skipped.count} said they were skipped: ${skipped.first}` : ''}`;
        const check = { name: 'applied inline', ok: written === acknowledged && skipped.count === 0, detail };
        return {
          ...output,
          checks: [...output.checks, check],
          ...(check.ok || output.failure ? {} : { failure: `the inline projection wrote ${written} documents for ${acknowledged} appends` }),
        };
      } finally {
        await projection.remove();
      }
    },
  };
}

export const w3Inline: Workload = inlineWorkload('sql');
export const w3InlineDocuments: Workload = inlineWorkload('documents');
