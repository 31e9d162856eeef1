/**
 * Gathers calls made in the same event-loop turn into one batch per key (e.g. the ledger claims
 * of a worker's concurrent jobs), so one Redis script call serves many of them. Each caller still
 * gets its own result, or the batch's error.
 */
export class TickBatcher<Req, Res> {
  private pending = new Map<string, Array<{ req: Req; resolve: (res: Res) => void; reject: (err: unknown) => void }>>();
  private scheduled = false;

  /**
   * `windowMs` 0 batches what arrives in one event-loop turn; a few ms gathers far more under load
   * (each caller waits at most that long) for far fewer round trips.
   */
  constructor(
    private readonly run: (key: string, reqs: Req[]) => Promise<Res[]>,
    private readonly maxBatch = 200,
    private readonly windowMs = 0,
  ) {}

  add(key: string, req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let group = this.pending.get(key);
      if (!group) {
        group = [];
        this.pending.set(key, group);
      }
      group.push({ req, resolve, reject });
      if (group.length >= this.maxBatch) {
        this.pending.delete(key);
        void this.runGroup(key, group);
      } else if (!this.scheduled) {
        this.scheduled = true;
        if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = [...this.pending];
    this.pending.clear();
    for (const [key, group] of groups) void this.runGroup(key, group);
  }

  private async runGroup(key: string, group: Array<{ req: Req; resolve: (res: Res) => void; reject: (err: unknown) => void }>): Promise<void> {
    try {
      const results = await this.run(key, group.map((g) => g.req));
      group.forEach((g, i) => g.resolve(results[i] as Res));
    } catch (error) {
      for (const g of group) g.reject(error);
    }
  }
}
