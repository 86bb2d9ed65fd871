/**
 * A fixed-window counter per key (user name, IP). Used to throttle logins: after `max` failures in
 * `windowMs`, further attempts are refused until the window passes. In memory on purpose: a
 * restart forgets it, which is acceptable for throttling and keeps it off the disk's hot path.
 */
export class RateLimiter {
  private readonly hits = new Map<string, { count: number; start: number }>();

  constructor(private readonly opts: { max: number; windowMs: number }) {}

  hit(key: string, now: number): void {
    const e = this.hits.get(key);
    if (!e || now - e.start >= this.opts.windowMs) this.hits.set(key, { count: 1, start: now });
    else e.count++;
    if (this.hits.size > 10_000) this.sweep(now);
  }

  /** 0 when the key may try now, else how long to wait. */
  retryAfterMs(key: string, now: number): number {
    const e = this.hits.get(key);
    if (!e || now - e.start >= this.opts.windowMs || e.count < this.opts.max) return 0;
    return e.start + this.opts.windowMs - now;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }

  private sweep(now: number): void {
    for (const [k, e] of this.hits) if (now - e.start >= this.opts.windowMs) this.hits.delete(k);
  }
}
