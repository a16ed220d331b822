/** `npm start`: runs the order demo on a fresh SQLite file (EVENTLOOM_DB to choose another). */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { runDemo } from './demo.js';

const filename = resolve(process.env.EVENTLOOM_DB ?? '.eventloom/orders-demo.sqlite');
mkdirSync(dirname(filename), { recursive: true });
if (!process.env.EVENTLOOM_DB) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(filename + suffix, { force: true });
}
const result = await runDemo({ filename });
if (result.mismatches.length > 0) {
  console.error(`Replay differs from live state for: ${result.mismatches.join(', ')}`);
  process.exit(1);
}
