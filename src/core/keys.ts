/**
 * Every Redis key Daybreak uses, in one place, under one prefix (so tests and installs can share a
 * server). Edition keys share a hash tag so an edition's Lua scripts stay on one Cluster slot.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  /** BullMQ's own prefix: queues live beside our keys. */
  get bull(): string {
    return `${this.prefix}:bull`;
  }

  // Subscribers
  subscriberSeq(): string { return `${this.prefix}:sub:seq`; }
  subscriber(id: string): string { return `${this.prefix}:sub:${id}`; }
  subscriberByEmail(): string { return `${this.prefix}:sub:by-email`; }
  /** What happened to the reader, newest entries kept: STRING of encoded entries (subscribers/stored-form.ts). */
  subscriberHistory(id: string): string { return `${this.prefix}:sub:${id}:history`; }
  /** Confirmed members of a newsletter: BITMAP, bit = subscriber id, so paging order is stable. */
  members(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:members`; }
  /** Before `daybreak migrate`: every subscriber as a ZSET (ids now page from 1 to the sequence); its presence marks data to migrate. */
  legacyAllSubscribers(): string { return `${this.prefix}:sub:all`; }
  /** Consent records (given and withdrawn), oldest first: STRING of encoded entries (subscribers/stored-form.ts). */
  subscriberConsent(id: string): string { return `${this.prefix}:sub:${id}:consent`; }
  /** The consent texts readers saw, by reference: HASH ref -> text (a form's text is the same for every reader). */
  consentTexts(): string { return `${this.prefix}:consent:texts`; }
  /** An unconfirmed sign-up (new, again while pending, or a change for an existing reader): JSON with its nonce. */
  pendingSignup(id: string): string { return `${this.prefix}:sub:${id}:signup`; }
  /** Pending (unconfirmed) subscribers who asked for a newsletter: BITMAP by id, for counts. */
  pendingMembers(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:pending`; }
  /**
   * Readers of a newsletter delivered in readers' zones who live in another zone than the
   * newsletter's (membership's zone index): ZSET scored by id, one per zone.
   */
  zoneMembers(newsletterId: string, zone: string): string { return `${this.prefix}:nl:${newsletterId}:tz:${zone}`; }
  /** The newsletter's zone index registry: HASH zone -> readers in it, and `@zone`, the newsletter zone it was built for. */
  memberZones(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:zones`; }
  /** Held while one process rebuilds the newsletter's zone index: STRING with a TTL. */
  memberZonesRebuild(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:zones:rebuilding`; }
  /** Running counters per newsletter (e.g. `<id>:unsubscribed`): HASH. */
  newsletterCounters(): string { return `${this.prefix}:nl:counters`; }
  /** Fixed-window rate-limit counter (subscriptions web). */
  rateLimit(scope: string, subject: string): string { return `${this.prefix}:rl:${scope}:${subject}`; }
  /** Suppressed addresses: HASH keyed by the keyed hash of the normalised address. */
  suppressions(): string { return `${this.prefix}:suppressed`; }

  // Newsletters
  sentArticles(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:sent-articles`; }
  editionsOf(newsletterId: string): string { return `${this.prefix}:nl:${newsletterId}:editions`; }
  dailySendCount(newsletterId: string, localDate: string): string { return `${this.prefix}:nl:${newsletterId}:sends:${localDate}`; }
  allEditions(): string { return `${this.prefix}:editions`; }

  // Bounces and complaints
  /** An event already applied (webhook, DSN, SMTP reply): STRING with a TTL, so a redelivery counts once. */
  bounceSeen(eventId: string): string { return `${this.prefix}:bounce:seen:${eventId}`; }
  /** Every bounce, complaint and delay recorded: ZSET scored by time (ms), member JSON. */
  bounceLog(): string { return `${this.prefix}:bounce:log`; }
  /** Soft bounces of one address within the window: ZSET keyed by address hash, member = edition or event. */
  softBounces(emailHash: string): string { return `${this.prefix}:bounce:soft:${emailHash}`; }
  /** Messages to the bounce domain that could not be read: LIST of JSON (newest first, capped). */
  unparsedBounces(): string { return `${this.prefix}:bounce:unparsed`; }

  // Editions
  edition(id: string): string { return `${this.prefix}:ed:{${id}}`; }
  editionContent(id: string): string { return `${this.prefix}:ed:{${id}}:content`; }
  editionMime(id: string): string { return `${this.prefix}:ed:{${id}}:mime`; }
  /** What an edition under approval was rendered from (the plan, full articles): an editor's change re-renders from it. */
  editionSource(id: string): string { return `${this.prefix}:ed:{${id}}:source`; }
  /** Per-subscriber delivery state: the guard against double sends. */
  ledger(id: string): string { return `${this.prefix}:ed:{${id}}:ledger`; }
  /** A compacted ledger's readers sent: BITMAP, bit = subscriber id (the ledger hash keeps the rest). */
  ledgerSent(id: string): string { return `${this.prefix}:ed:{${id}}:sent`; }
  editionHistory(id: string): string { return `${this.prefix}:ed:{${id}}:history`; }
  /** Who bounced or complained about this edition: HASH subscriberId -> flags, so each reader counts once. */
  editionBounces(id: string): string { return `${this.prefix}:ed:{${id}}:bounces`; }
  /** The waves of an edition delivered in readers' zones: HASH `<zone>|due`, `|state`, `|cursor`, `|q` `|s` `|f` `|k` counts. */
  editionWaves(id: string): string { return `${this.prefix}:ed:{${id}}:waves`; }
  /** Recent progress samples (ZSET scored by time, member `<ms>:<settled>`): send rate and ETA. */
  editionProgress(id: string): string { return `${this.prefix}:ed:{${id}}:progress`; }

  // Story clicks (ops/click-store.ts): aggregate counts, kept as long as the edition's own counts
  /** HASH `<story>|h` / `<story>|a` -> human / automated clicks on one edition's stories. */
  clicks(editionId: string): string { return `${this.prefix}:clicks:{${editionId}}`; }
  /** Per-reader click records (a newsletter's opt-in only): HASH subscriber id -> story keys. */
  clickReaders(editionId: string): string { return `${this.prefix}:clicks:{${editionId}}:readers`; }
  /** One client's recent clicks on an edition (the burst rule): HASH story -> `<ms>|<h|a>`, gone a minute after its first click. */
  clickClient(editionId: string, clientHash: string): string { return `${this.prefix}:clicks:{${editionId}}:client:${clientHash}`; }
  /** HASH `<newsletter>|n` (every click) / `<newsletter>|a` (automated) -> clicks, cluster-wide (Prometheus counters). */
  clickTotals(): string { return `${this.prefix}:clicks:totals`; }

  // Welcome emails (subscribers/welcome.ts)
  /** Readers owed a welcome email: ZSET subscriber id scored by when it fell due (the retry sweep reads it). */
  welcomeDue(): string { return `${this.prefix}:welcome:due`; }
  /** Who is sending a reader's welcome now: STRING with a lease TTL. */
  welcomeLease(subscriberId: string): string { return `${this.prefix}:welcome:lease:${subscriberId}`; }

  // The mail relay, shared by every worker
  /** The transport circuit breaker: HASH (state, since, lastError, nextProbeAt...), absent while it never tripped. */
  transportBreaker(): string { return `${this.prefix}:transport:breaker`; }

  // Pacing per mailbox provider (delivery/pace-store.ts), shared by every worker
  /** One provider group's pace: HASH (pace, changedAt, deferringSince, pausedUntil, version...); absent while it never deferred. */
  paceGroup(group: string): string { return `${this.prefix}:pace:group:${group}`; }
  /** HASH `<group>|sent` / `<group>|deferred` -> messages, cluster-wide (Prometheus counters). */
  paceTotals(): string { return `${this.prefix}:pace:totals`; }
  /** HASH `<group>|sent` / `<group>|deferred` for one edition (status), with a TTL. */
  paceEdition(editionId: string): string { return `${this.prefix}:pace:edition:{${editionId}}`; }
  /** HASH domain -> provider group, from MX lookups made for one edition (each domain resolved once), with a TTL. */
  paceMx(editionId: string): string { return `${this.prefix}:pace:mx:{${editionId}}`; }

  // Ops metrics, cluster-wide (every worker process adds to them)
  /** HASH `<newsletter>|<outcome>` -> messages (sent, failed, skipped). */
  metricsMessages(): string { return `${this.prefix}:metrics:messages`; }
  /** HASH `<newsletter>|<bucket index>`, `<newsletter>|sum`, `<newsletter>|count`: send latency. */
  metricsLatency(): string { return `${this.prefix}:metrics:latency`; }
}
