/**
 * The user-registration flow of docs/subscriptions.md: Auth records `UserRegistered` with a
 * decider and a CommandHandler; Email, Analytics and CRM react, each at its own pace. Nothing
 * here knows which store it runs on: the test runs it unchanged on memory, SQLite and PostgreSQL.
 */
// #region auth
import {
  CommandHandler,
  type Command,
  type ConsumerGroupMember,
  type Decider,
  type Event,
  type EventStore,
  type RecordedEvent,
  type Subscription,
} from '@eventloom/core';

export type UserRegistered = Event<'UserRegistered', { userId: string; email: string; name: string }>;
type RegisterUser = Command<'RegisterUser', { userId: string; email: string; name: string }>;

class AlreadyRegistered extends Error {}

const user: Decider<RegisterUser, UserRegistered, { registered: boolean }> = {
  initialState: () => ({ registered: false }),
  evolve: () => ({ registered: true }),
  decide: (command, state) => {
    if (state.registered) throw new AlreadyRegistered(`user ${command.data.userId} is already registered`);
    return [{ type: 'UserRegistered', data: command.data }];
  },
};

/** The Auth service: registers a user once (a retried request with the same id is recognised). */
export function authService(store: EventStore) {
  const users = new CommandHandler(store, user);
  return {
    register: (data: RegisterUser['data'], requestId?: string) =>
      users.handle(`user-${data.userId}`, { type: 'RegisterUser', data, ...(requestId && { id: requestId }) }),
  };
}
// #endregion auth

// #region email
/**
 * Email: a consumer group, so it scales out — run it in as many processes as you like; each
 * user's events go to one member at a time. A member that dies loses its partitions to the
 * others after `leaseMs`, and they resend at most one batch (so `send` must tolerate a repeat).
 */
export function startEmail(store: EventStore, memberId: string, send: (to: string, subject: string) => Promise<void> | void): ConsumerGroupMember {
  return store.subscribeGroup<UserRegistered>({
    group: 'email',
    memberId,
    partitions: 4,
    leaseMs: 1_000,
    filter: { eventTypes: ['UserRegistered'] },
    // A mail server that is down is retried with backoff, then the member stops — visibly.
    failurePolicy: { onFailure: 'stop', maxAttempts: 5, retryDelayMs: 100 },
    handler: (event) => send(event.data.email, `Welcome, ${event.data.name}`),
  });
}
// #endregion email

// #region analytics
/** Analytics: one named subscription; a second process with the same id stands by. */
export function startAnalytics(store: EventStore, count: (day: string) => void): Subscription {
  return store.subscribe<UserRegistered>({
    subscriptionId: 'analytics',
    // Replays every registration ever recorded on its first start (the default, 'start').
    from: 'start',
    filter: { eventTypes: ['UserRegistered'] },
    handler: (event) => count(event.time.slice(0, 10)),
  });
}
// #endregion analytics

// #region crm
/** CRM: slow and flaky; a contact it cannot create is dead-lettered and the others go on. */
export function startCrm(store: EventStore, createContact: (event: RecordedEvent<UserRegistered>) => Promise<void>): Subscription {
  return store.subscribe<UserRegistered>({
    subscriptionId: 'crm',
    filter: { eventTypes: ['UserRegistered'] },
    failurePolicy: { onFailure: 'dead-letter', maxAttempts: 3, retryDelayMs: 50 },
    handler: (event) => createContact(event),
  });
}
// #endregion crm
