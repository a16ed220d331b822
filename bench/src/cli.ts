/** Command-line options of `npm run bench`. */
import type { Backend } from './target.js';

export interface Options {
  readonly only?: Backend;
  readonly quick: boolean;
  readonly writeResults: boolean;
  readonly renderOnly: boolean;
  readonly targets?: readonly string[];
  readonly workloads?: readonly string[];
  readonly timeoutMs?: number;
  readonly profile: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run -w @eventloom/bench bench -- [options]
   or: npm run bench -- [options written without the leading --, e.g. quick sqlite targets=raw-sqlite]
       (the root script passes through a second npm, which would take --flags as its own)

  --only sqlite|postgres   run one backend (default: both)
  --quick                  small sizes, for a smoke run (written to bench/results/quick.json)
  --write-results          after the run, rewrite bench/RESULTS.md from bench/results/latest.json
  --render-results         only rewrite bench/RESULTS.md from bench/results/latest.json; run nothing
  --targets a,b            only these targets (ids as in the table, e.g. raw-sqlite,eventloom-sqlite)
  --workloads W1,W3        only these workloads
  --timeout SECONDS        time limit for every workload run (default: per workload, 3–10 min)
  --profile                write a CPU profile of every worker to bench/results/profiles/
  --help                   this text`;

const FLAGS = ['only', 'quick', 'write-results', 'render-results', 'targets', 'workloads', 'timeout', 'profile', 'help'];

/** Accepts `quick`, `targets=a,b` and a bare `sqlite`/`postgres` as well as `--quick`, `--targets a,b`, `--only sqlite`. */
function normalize(argv: readonly string[]): string[] {
  return argv.flatMap((arg, i) => {
    if ((arg === 'sqlite' || arg === 'postgres') && argv[i - 1] !== '--only') return ['--only', arg];
    const name = arg.split('=', 1)[0]!;
    return FLAGS.includes(name) ? [`--${arg}`] : [arg];
  });
}

export function parseOptions(rawArgv: readonly string[]): Options {
  const argv = normalize(rawArgv);
  let only: Backend | undefined;
  let quick = false;
  let writeResults = false;
  let renderOnly = false;
  let targets: string[] | undefined;
  let workloads: string[] | undefined;
  let timeoutMs: number | undefined;
  let profile = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--only': {
        const v = value();
        if (v !== 'sqlite' && v !== 'postgres') throw new Error(`--only takes sqlite or postgres, got ${v}`);
        only = v;
        break;
      }
      case '--quick':
        quick = true;
        break;
      case '--write-results':
        writeResults = true;
        break;
      case '--render-results':
        renderOnly = true;
        break;
      case '--targets':
        targets = value().split(',').filter(Boolean);
        break;
      case '--workloads':
        workloads = value().split(',').map((w) => w.toUpperCase()).filter(Boolean);
        break;
      case '--timeout': {
        const seconds = Number(value());
        if (!(seconds > 0)) throw new Error('--timeout takes a positive number of seconds');
        timeoutMs = seconds * 1000;
        break;
      }
      case '--profile':
        profile = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    }
  }
  return {
    quick,
    writeResults,
    renderOnly,
    profile,
    help,
    ...(only ? { only } : {}),
    ...(targets ? { targets } : {}),
    ...(workloads ? { workloads } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  };
}
