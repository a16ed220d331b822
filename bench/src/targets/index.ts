/** The targets of each backend, in the order they run: the floor and the anchor first, then Eventloom, then the peer. */
import type { Backend, TargetDescriptor } from '../target.js';

/** The floors do the least these workloads need; the others need a streams table and checks. */
const FLOOR_WORKLOADS = ['W2', 'W5', 'W6'];

export const TARGETS: readonly TargetDescriptor[] = [
  { id: 'floor-sqlite', backend: 'sqlite', role: 'floor', label: 'floor better-sqlite3', module: './targets/floor-sqlite.js', workloads: FLOOR_WORKLOADS },
  { id: 'raw-sqlite', backend: 'sqlite', role: 'anchor', label: 'raw better-sqlite3', module: './targets/raw-sqlite.js' },
  { id: 'eventloom-sqlite', backend: 'sqlite', role: 'subject', label: 'Eventloom SQLite', module: './targets/eventloom-sqlite.js' },
  { id: 'emmett-sqlite', backend: 'sqlite', role: 'peer', label: 'Emmett SQLite', module: './targets/emmett-sqlite.js' },
  { id: 'floor-pg', backend: 'postgres', role: 'floor', label: 'floor pg', module: './targets/floor-pg.js', workloads: FLOOR_WORKLOADS },
  { id: 'raw-pg', backend: 'postgres', role: 'anchor', label: 'raw pg', module: './targets/raw-pg.js' },
  { id: 'eventloom-postgres', backend: 'postgres', role: 'subject', label: 'Eventloom PostgreSQL', module: './targets/eventloom-postgres.js' },
  { id: 'emmett-postgres', backend: 'postgres', role: 'peer', label: 'Emmett PostgreSQL', module: './targets/emmett-postgres.js' },
];

export function targetsOf(backend: Backend): TargetDescriptor[] {
  return TARGETS.filter((t) => t.backend === backend);
}
