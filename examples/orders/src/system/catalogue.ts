/**
 * The load the reference system runs: a catalogue with limited stock and a deterministic stream of
 * orders (the same list on every run, so a restarted run continues the same orders). Some cards are
 * declined, and some products sell out.
 */
export interface Product {
  readonly productId: string;
  readonly price: number;
  /** Units in the warehouse at the start. */
  readonly units: number;
}

/** A type (not an interface) so it is JSON as a saga's input. */
export type PlannedOrder = {
  readonly orderId: string;
  readonly customerId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly price: number;
  /** The customer's card: `declined` cards are refused by the payment service. */
  readonly card: 'ok' | 'declined';
  /** An address the carrier refuses: the last step fails after payment, so the payment is refunded. */
  readonly address: 'ok' | 'undeliverable';
  /** The payment gateway times out on the first try for this order (a transient failure, retried). */
  readonly flakyGateway: boolean;
};

/** Stock per product scales with the number of orders: about 8 units for every 10 ordered. */
export function catalogue(orders: number): readonly Product[] {
  const names: [string, number][] = [
    ['keyboard', 49.99],
    ['mouse', 19.5],
    ['monitor', 229],
    ['cable', 5],
    ['dock', 120],
    ['webcam', 64],
    ['headset', 89],
    ['lamp', 35],
  ];
  const perProduct = Math.max(2, Math.round((orders * 2 * 0.8) / names.length));
  return names.map(([name, price]) => ({ productId: name, price, units: perProduct }));
}

export function plannedOrders(count: number): readonly PlannedOrder[] {
  const products = catalogue(count);
  return Array.from({ length: count }, (_, i) => {
    const product = products[i % products.length]!;
    return {
      orderId: `o${String(i + 1).padStart(5, '0')}`,
      customerId: `cust-${(i * 7) % 97}`,
      productId: product.productId,
      quantity: 1 + (Math.floor(i / products.length) % 3),
      price: product.price,
      card: i % 10 === 7 ? 'declined' : 'ok',
      address: i % 25 === 13 ? 'undeliverable' : 'ok',
      flakyGateway: i % 13 === 5,
    };
  });
}
