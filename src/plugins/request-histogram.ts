/** The request-duration histogram that the metrics plugin registers. */

type LabelName = 'method' | 'route' | 'status_code'
type Labels = Record<LabelName, string | number>

/** One label set's observations: a count per bucket (not cumulative; the last one is +Inf), their sum and their count. */
interface Series { labels: Labels, buckets: Float64Array, sum: number, count: number }

/**
 * `chat_http_request_duration_seconds`, counted here rather than by a prom-client `Histogram`:
 * prom-client's `observe` checks and hashes the labels on every call, a cost every request pays,
 * where this finds the request's series through nested maps with keys V8 has already hashed (the
 * route is the route's own string) and adds one to a bucket. The registry reads it through `get()`
 * in prom-client's own shape, so the text it serves is that of a prom-client histogram.
 */
export class RequestDurations {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>()

  constructor (readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  observe (route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route)
    if (byMethod === undefined) this.byRoute.set(route, byMethod = new Map<string, Map<number, Series>>())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map<number, Series>())
    let series = byStatus.get(status)
    if (series === undefined) {
      series = { labels: { method, route, status_code: status }, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }
      byStatus.set(status, series)
    }
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++
    series.buckets[i]!++
    series.sum += seconds
    series.count++
  }

  /** Every series as prom-client lists a histogram's samples: cumulative buckets by `le`, then the sum, then the count. */
  get (): { name: string, help: string, type: string, aggregator: string, values: { metricName: string, labels: Record<string, string | number>, value: number }[] } {
    const values = []
    for (const { labels, buckets, sum, count } of this.series()) {
      let below = 0
      for (let i = 0; i <= this.bounds.length; i++) {
        below += buckets[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.bounds[i] ?? '+Inf', ...labels }, value: below })
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: sum }, { metricName: `${this.name}_count`, labels, value: count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Every label set with its observations. */
  * series (): Generator<Readonly<Series>> {
    for (const byMethod of this.byRoute.values()) {
      for (const byStatus of byMethod.values()) yield * byStatus.values()
    }
  }

  reset (): void {
    this.byRoute.clear()
  }
}
