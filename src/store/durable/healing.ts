/**
 * The way back from read-only: after a failed append or sync, the store tries every `retryMs` to
 * rewrite its files (a heal compaction, `Compactor.heal`) until one attempt works.
 */
export class Healer {
  private timer: NodeJS.Timeout | undefined

  /** `attempt`: starts one heal and settles to whether it worked, or gives undefined when it cannot start now. */
  constructor (private readonly attempt: () => Promise<boolean> | undefined, private readonly retryMs: number) {}

  /** Starts the retries, unless they run already. */
  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      void this.attempt()?.then((healed) => { if (healed) this.stop() })
    }, this.retryMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
