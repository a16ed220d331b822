/**
 * One consumer's messages in memory — a queue, or one group of a topic — with the durable
 * queues' rules: a claimed message is invisible until acked or its lease runs out (then it comes
 * back, its delivery counted), retries and delayed messages become visible at their time, and a
 * partition key hands out only its head: while one message of a key is claimed or waiting for
 * a retry, no other message of that key is claimable.
 *
 * Kept fast for in-process hand-off: no timer or promise per message (one timer per lane for
 * the next due time, stale heap and queue slots skipped lazily), claims and acks in batches.
 */
import type { MessageEnvelope } from '../message.js';
import { TimedHeap } from './timed-heap.js';

/**
 * What is stored once per message and shared by the entries of every group it was published to.
 * A sent message is kept as the engine prepared it (a `PreparedMessage` fits), not copied.
 */
export type StoredMessage =
  | { readonly kind?: undefined; readonly envelope: MessageEnvelope; readonly dataJson?: string | undefined; readonly metadataJson?: string | undefined }
  | { readonly kind: 'raw'; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array; readonly partitionKey: string | null };

/**
 * Where an entry is: `scheduled` (delayed, never delivered), `retrying` (failed, visible again
 * later; still holds its key), `ready` (claimable), `waiting` (behind its key's head),
 * `claimed`, or `gone` (acked, dead-lettered, cancelled).
 */
export type EntryState = 'scheduled' | 'retrying' | 'ready' | 'waiting' | 'claimed' | 'gone';

export interface Entry {
  readonly id: string;
  readonly seq: number;
  readonly key: string | null;
  readonly stored: StoredMessage;
  state: EntryState;
  /** Changes when the entry is rescheduled, so its older heap slots are skipped. */
  timerVersion: number;
  deliveryCount: number;
  firstFailedAt: string | null;
  lastError: string | null;
  /** Counts claims; a token names the claim it was made for, so a stale token changes nothing. */
  claim: number;
  /** The delivery (received message) of the latest claim: the memory receiver's token check. */
  delivery: object | null;
  owner: object | null;
  leaseUntil: number;
  /** The claim batch it is held in while claimed. */
  held: ClaimBatch | null;
}

/**
 * The entries one claim handed out, kept together while any is claimed: leases are checked by
 * walking these, instead of adding each claimed entry to a set and deleting it again (a set
 * operation twice per message). Entries no longer held are dropped once they are most of it.
 */
interface ClaimBatch {
  entries: Entry[];
  open: number;
}

interface KeyState {
  /** The key's head: ready, claimed or retrying; the only entry of the key that can be claimed. */
  holder: Entry;
  /** Visible entries of the key behind the head, in send order. */
  readonly waiting: Entry[];
}

interface TimedSlot {
  readonly entry: Entry;
  readonly version: number;
}

export class Lane {
  #seq = 0;
  #ready: Entry[] = [];
  #readyHead = 0;
  readonly #keys = new Map<string, KeyState>();
  readonly #timed = new TimedHeap<TimedSlot>();
  readonly #claims = new Set<ClaimBatch>();
  #claimedCount = 0;
  /** Delayed entries by message id, for `cancelScheduled`. */
  readonly #scheduled = new Map<string, Entry>();
  #nextLeaseCheck = Infinity;
  readonly #waiters = new Set<() => void>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = Infinity;
  #wakeScheduled = false;
  #addedSinceWake = 0;
  #count = 0;

  constructor(readonly now: () => number) {}

  /** Entries not yet acked, dead-lettered or cancelled. */
  get size(): number {
    return this.#count;
  }

  /**
   * Whether sends are outrunning the consumers reading this lane: more than `CROWDED` messages
   * wait visible while a receiver is busy or waiting. No receiver: never (a queue filled before
   * anyone consumes is not a race).
   */
  get crowded(): boolean {
    return this.#ready.length - this.#readyHead > CROWDED && (this.#claimedCount > 0 || this.#waiters.size > 0);
  }

  get claimedCount(): number {
    return this.#claimedCount;
  }

  add(id: string, stored: StoredMessage, key: string | null, visibleAt: number | null, now: number): Entry {
    const entry: Entry = {
      id,
      seq: ++this.#seq,
      key,
      stored,
      state: 'scheduled',
      timerVersion: 0,
      deliveryCount: 0,
      firstFailedAt: null,
      lastError: null,
      claim: 0,
      delivery: null,
      owner: null,
      leaseUntil: 0,
      held: null,
    };
    this.#count++;
    this.#addedSinceWake++;
    if (visibleAt !== null && visibleAt > now) {
      this.#scheduled.set(id, entry);
      this.#timed.push(visibleAt, { entry, version: 0 });
    } else {
      this.#visible(entry);
    }
    return entry;
  }

  /**
   * After adds: set the timer, wake receivers at the next turn of the event loop — so that many
   * single sends in a row (each awaited: only microtasks in between) are claimed as one batch,
   * not woken and claimed one by one, which was most of a single send's cost. Once a batch's
   * worth has gathered they are woken at once: sends that never yield would otherwise pile up
   * every message in memory before the first is handled (and the GC pays for it).
   */
  changed(): void {
    this.#schedule();
    if (this.#waiters.size === 0) return;
    if (this.#addedSinceWake >= WAKE_AT_ONCE) {
      this.#notify();
      return;
    }
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#notify();
    });
  }

  /** Up to `max` entries claimed for `owner` for `leaseMs`. */
  claim(max: number, owner: object, leaseMs: number): Entry[] {
    const now = this.now();
    this.#processDue(now);
    const out: Entry[] = [];
    const batch: ClaimBatch = { entries: out, open: 0 };
    const ready = this.#ready;
    while (out.length < max && this.#readyHead < ready.length) {
      const entry = ready[this.#readyHead++]!;
      if (entry.state !== 'ready') continue;
      entry.state = 'claimed';
      entry.claim++;
      entry.owner = owner;
      entry.leaseUntil = now + leaseMs;
      entry.deliveryCount++;
      entry.held = batch;
      out.push(entry);
    }
    if (out.length > 0) {
      batch.open = out.length;
      this.#claims.add(batch);
      this.#claimedCount += out.length;
    }
    if (this.#readyHead > 1024 && this.#readyHead * 2 > ready.length) {
      this.#ready = ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    if (out.length > 0 && now + leaseMs < this.#nextLeaseCheck) {
      this.#nextLeaseCheck = now + leaseMs;
      this.#schedule();
    }
    return out;
  }

  /** Whether `entry` is still under the claim a token was made for (not expired and claimed again since). */
  holds(entry: Entry, claim: number): boolean {
    return entry.claim === claim && entry.state !== 'gone';
  }

  /** Acked or dead-lettered: gone for this consumer. False when the claim was stale. */
  remove(entry: Entry, claim: number): boolean {
    if (!this.holds(entry, claim)) return false;
    this.#drop(entry);
    return true;
  }

  retry(entry: Entry, claim: number, delayMs: number, error: string): boolean {
    if (!this.holds(entry, claim) || entry.state !== 'claimed') return false;
    const now = this.now();
    this.#unclaim(entry);
    entry.owner = null;
    entry.firstFailedAt ??= new Date(now).toISOString();
    entry.lastError = error;
    if (delayMs <= 0) {
      this.#visible(entry);
      this.#notify();
      return true;
    }
    entry.state = 'retrying';
    entry.timerVersion++;
    this.#timed.push(now + delayMs, { entry, version: entry.timerVersion });
    this.#schedule();
    return true;
  }

  /** Back unhandled, the delivery not counted. */
  release(entry: Entry, claim: number): boolean {
    if (!this.holds(entry, claim) || entry.state !== 'claimed') return false;
    this.#unclaim(entry);
    entry.owner = null;
    entry.deliveryCount--;
    this.#visible(entry);
    this.#notify();
    return true;
  }

  extend(entry: Entry, claim: number, ms: number): void {
    if (!this.holds(entry, claim) || entry.state !== 'claimed') return;
    entry.leaseUntil = Math.max(entry.leaseUntil, this.now() + ms);
  }

  /** Withdraws a delayed message not yet delivered. */
  cancelScheduled(id: string): boolean {
    const entry = this.#scheduled.get(id);
    if (entry === undefined || entry.state !== 'scheduled') return false;
    this.#drop(entry);
    return true;
  }

  /** Resolves when something may have become claimable, or when `signal` aborts. */
  waitForWork(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Stops the lane's timer (the storage is being dropped). */
  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** No longer claimed: out of the count, and out of its claim batch once most of the batch is done. */
  #unclaim(entry: Entry): void {
    const batch = entry.held;
    if (batch === null) return;
    entry.held = null;
    this.#claimedCount--;
    if (--batch.open === 0) {
      this.#claims.delete(batch);
    } else if (batch.entries.length > 32 && batch.open * 4 < batch.entries.length) {
      batch.entries = batch.entries.filter((held) => held.held === batch);
    }
  }

  #drop(entry: Entry): void {
    const previous = entry.state;
    entry.state = 'gone';
    entry.owner = null;
    this.#count--;
    if (previous === 'scheduled') {
      this.#scheduled.delete(entry.id);
      return;
    }
    if (previous === 'claimed') this.#unclaim(entry);
    if (entry.key === null) return;
    const state = this.#keys.get(entry.key);
    if (state === undefined) return;
    if (state.holder !== entry) {
      const at = state.waiting.indexOf(entry);
      if (at >= 0) state.waiting.splice(at, 1);
      return;
    }
    const next = state.waiting.shift();
    if (next === undefined) {
      this.#keys.delete(entry.key);
      return;
    }
    state.holder = next;
    next.state = 'ready';
    this.#ready.push(next);
    this.#notify();
  }

  /** `entry` may be handed out now, as its key allows. */
  #visible(entry: Entry): void {
    const key = entry.key;
    if (key === null) {
      entry.state = 'ready';
      this.#ready.push(entry);
      return;
    }
    const state = this.#keys.get(key);
    if (state === undefined) {
      this.#keys.set(key, { holder: entry, waiting: [] });
      entry.state = 'ready';
      this.#ready.push(entry);
      return;
    }
    if (state.holder === entry) {
      // The head is back (retry due, released, lease lost); an earlier message that became visible meanwhile goes first.
      const first = state.waiting[0];
      if (first !== undefined && first.seq < entry.seq) {
        state.waiting.shift();
        entry.state = 'waiting';
        insertBySeq(state.waiting, entry);
        state.holder = first;
        first.state = 'ready';
        this.#ready.push(first);
        return;
      }
      entry.state = 'ready';
      this.#ready.push(entry);
      return;
    }
    if (state.holder.state === 'ready' && entry.seq < state.holder.seq) {
      // An earlier message (a delayed one come due) takes the head from one not yet claimed; the old head's ready slot goes stale.
      const old = state.holder;
      old.state = 'waiting';
      insertBySeq(state.waiting, old);
      state.holder = entry;
      entry.state = 'ready';
      this.#ready.push(entry);
      return;
    }
    entry.state = 'waiting';
    insertBySeq(state.waiting, entry);
  }

  #processDue(now: number): void {
    const timed = this.#timed;
    while (timed.peekTime() <= now) {
      const { entry, version } = timed.pop();
      if (entry.timerVersion !== version) continue;
      if (entry.state === 'scheduled') {
        this.#scheduled.delete(entry.id);
        this.#visible(entry);
      } else if (entry.state === 'retrying') {
        this.#visible(entry);
      }
    }
    if (this.#nextLeaseCheck <= now) {
      let next = Infinity;
      const expired: Entry[] = [];
      for (const batch of this.#claims) {
        for (const entry of batch.entries) {
          if (entry.held !== batch) continue;
          if (entry.leaseUntil <= now) expired.push(entry);
          else if (entry.leaseUntil < next) next = entry.leaseUntil;
        }
      }
      for (const entry of expired) {
        // Its consumer died or stalled past the lease: the message comes back.
        this.#unclaim(entry);
        entry.owner = null;
        this.#visible(entry);
      }
      this.#nextLeaseCheck = next;
    }
  }

  #schedule(): void {
    const due = Math.min(this.#timed.peekTime(), this.#nextLeaseCheck);
    if (due === Infinity || due >= this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = due;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, due - this.now()));
    this.#timer.unref?.();
  }

  #onTimer(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const before = this.#readyHead < this.#ready.length;
    this.#processDue(this.now());
    this.#schedule();
    if (before || this.#readyHead < this.#ready.length) this.#notify();
  }

  #notify(): void {
    this.#addedSinceWake = 0;
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Visible messages beyond which a lane with receivers counts as crowded (stale ready slots included: an upper bound). */
const CROWDED = 4096;

/** Messages added since receivers were last woken that wake them without waiting for the next turn. */
const WAKE_AT_ONCE = 256;

function insertBySeq(list: Entry[], entry: Entry): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.seq > entry.seq) i--;
  list.splice(i, 0, entry);
}
