/**
 * W3I: W3's 16 concurrent writers with an inline projection registered (one summary row per order,
 * written in each append's transaction), to compare with W3 without one. Only Eventloom has
 * inline projections.
 */
import type { Workload } from './types.js';
import { concurrentAppends, w3Concurrent } from './w3-concurrent.js';

/** The category W3I writes and its projection reads. */
export const INLINE_CATEGORY = 'summary';

export const w3Inline: Workload = {
  ...w3Concurrent,
  id: 'W3I',
  title: (sizes) => `W3 with an inline projection (${sizes.concurrentWriters} writers, a summary row per order in each append's transaction)`,
  roles: ['subject'],
  async run(target, context) {
    if (!target.addInlineProjection) throw new Error('this target has no inline projections');
    const projection = await target.addInlineProjection();
    try {
      const before = await projection.documents();
      // A category of their own, which only the projection reads: it starts caught up, with nothing it handles before it.
      const output = await concurrentAppends(target, context.sizes, (w) => `${INLINE_CATEGORY}-p${context.pass}-${w}`);
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
