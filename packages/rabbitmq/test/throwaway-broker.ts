/**
 * A RabbitMQ node of a test's own, on spare ports with its own data directory, so a test can
 * stop and start a broker without touching the one everybody else uses. Needs the RabbitMQ
 * server installed (`/usr/lib/rabbitmq/bin`); `available()` says whether it is.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = process.env.EVENTLOOM_RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';

export function throwawayBrokerAvailable(): boolean {
  return existsSync(join(BIN, 'rabbitmq-server')) && existsSync(join(BIN, 'rabbitmqctl'));
}

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class ThrowawayBroker {
  private child: ChildProcess | null = null;

  private constructor(
    readonly node: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  static async start(): Promise<ThrowawayBroker> {
    const dir = mkdtempSync(join(tmpdir(), 'eventloom-rabbit-'));
    const port = await sparePort();
    const dist = await sparePort();
    const node = `rabbit-test-${process.pid}-${port}@localhost`;
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: dir,
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(dist),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(dir, 'none'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'none-advanced.config'),
    };
    const broker = new ThrowawayBroker(node, port, env, dir);
    await broker.boot();
    return broker;
  }

  private async boot(): Promise<void> {
    this.child = spawn(join(BIN, 'rabbitmq-server'), [], { env: this.env, stdio: 'ignore', detached: false });
    await this.ctl('wait', String(this.env.RABBITMQ_PID_FILE), '--timeout', '90');
    await this.ctl('await_startup', '--timeout', '90');
  }

  /** Stops the broker application (every connection dropped, queues stopped) and starts it again. */
  async restartApp(downMs = 100): Promise<void> {
    await this.ctl('stop_app');
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.ctl('start_app');
  }

  /** Stops the whole node (its Erlang VM) and boots it again from its data directory. */
  async restartNode(): Promise<void> {
    await this.ctl('stop');
    await this.waitExit();
    await this.boot();
  }

  async stop(): Promise<void> {
    try {
      await this.ctl('stop');
      await this.waitExit();
    } catch {
      this.child?.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitExit(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async ctl(...args: string[]): Promise<void> {
    await run(join(BIN, 'rabbitmqctl'), ['-n', this.node, ...args], { env: this.env, timeout: 120_000 });
  }
}
