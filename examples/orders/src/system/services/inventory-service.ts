/**
 * The inventory service. Each unit in the warehouse is a semantic lock (`lock-unit_<product>_<n>`):
 * free, RESERVED by one order's saga (not available to any other order), or SHIPPED. Reserving
 * takes free units one by one; an order that cannot get enough gives back what it took and is
 * refused. The owner is the order, so a reservation retried after a crash finds its units again.
 */
import { ResourceLockedError, SemanticLocks, type EventStore } from '@eventloom/core';
import type { Product } from '../catalogue.js';

export class OutOfStockError extends Error {
  constructor(readonly productId: string, readonly wanted: number, readonly got: number) {
    super(`${productId}: ${wanted} wanted, only ${got} free`);
    this.name = 'OutOfStockError';
  }
}

export type UnitState = 'free' | 'RESERVED' | 'SHIPPED';

export class InventoryService {
  readonly locks: SemanticLocks;
  readonly #products: ReadonlyMap<string, Product>;

  constructor(readonly store: EventStore, products: readonly Product[]) {
    this.locks = new SemanticLocks({ store });
    this.#products = new Map(products.map((p) => [p.productId, p]));
  }

  unitsOf(productId: string): readonly string[] {
    const product = this.#products.get(productId);
    if (product === undefined) throw new Error(`unknown product ${productId}`);
    return Array.from({ length: product.units }, (_, i) => `unit_${productId}_${i + 1}`);
  }

  // #region semantic-lock
  /** Reserves `quantity` units of `productId` for the order; idempotent by order. Throws `OutOfStockError`. */
  async reserve(orderId: string, productId: string, quantity: number): Promise<readonly string[]> {
    const owner = ownerOf(orderId);
    const units = this.unitsOf(productId);
    const holders = await Promise.all(units.map((unit) => this.locks.holder(unit)));
    const mine = units.filter((_, i) => holders[i]?.owner === owner);
    for (let i = 0; i < units.length && mine.length < quantity; i++) {
      if (holders[i] !== null) continue;
      try {
        await this.locks.acquire(units[i]!, owner, { state: 'RESERVED' });
        mine.push(units[i]!);
      } catch (error) {
        // Another order took it between the look and the lock: try the next one.
        if (!(error instanceof ResourceLockedError)) throw error;
      }
    }
    if (mine.length < quantity) {
      for (const unit of mine) await this.locks.release(unit, owner);
      throw new OutOfStockError(productId, quantity, mine.length);
    }
    return mine;
  }
  // #endregion semantic-lock

  /** Gives the order's RESERVED units back (the compensation); SHIPPED units stay shipped. Idempotent. */
  async release(orderId: string, productId: string): Promise<number> {
    let released = 0;
    for (const unit of await this.#held(orderId, productId)) if (await this.locks.release(unit, ownerOf(orderId))) released++;
    return released;
  }

  /** The order's reserved units leave the warehouse: RESERVED → SHIPPED (held for good). Idempotent. */
  async commit(orderId: string, productId: string): Promise<void> {
    for (const unit of await this.#held(orderId, productId)) await this.locks.acquire(unit, ownerOf(orderId), { state: 'SHIPPED' });
  }

  /** The units the order holds RESERVED (looked up at once: a round trip each on a server). */
  async #held(orderId: string, productId: string): Promise<readonly string[]> {
    const units = this.unitsOf(productId);
    const holders = await Promise.all(units.map((unit) => this.locks.holder(unit)));
    return units.filter((_, i) => holders[i]?.owner === ownerOf(orderId) && holders[i]?.state === 'RESERVED');
  }

  /** Every unit's state and owner: what the invariants count. */
  async census(): Promise<readonly { productId: string; unit: string; state: UnitState; orderId: string | null }[]> {
    const out: { productId: string; unit: string; state: UnitState; orderId: string | null }[] = [];
    for (const productId of this.#products.keys()) {
      for (const unit of this.unitsOf(productId)) {
        const holder = await this.locks.holder(unit);
        out.push({ productId, unit, state: holder === null ? 'free' : (holder.state as UnitState), orderId: holder === null ? null : holder.owner.slice('order:'.length) });
      }
    }
    return out;
  }
}

function ownerOf(orderId: string): string {
  return `order:${orderId}`;
}
