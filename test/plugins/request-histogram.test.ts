import fc from 'fast-check'
import { Histogram, Registry, type Metric } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsOptions } from '../../src/plugins/metrics.js'
import { RequestDurations } from '../../src/plugins/request-histogram.js'

describe('RequestDurations', () => {
  it('serves request durations as the text a prom-client histogram makes of the same observations', async () => {
    const bounds = metricsOptions.durationBuckets
    const observation = fc.tuple(
      fc.constantFrom('/chats', '/chats/:id', 'unmatched'),
      fc.constantFrom('GET', 'POST', 'DELETE'),
      fc.constantFrom(200, 201, 404, 503),
      fc.oneof(fc.constantFrom(0, ...bounds), fc.double({ min: 0, max: 10, noNaN: true }))
    )
    await fc.assert(fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
      const ours = new Registry()
      const durations = new RequestDurations('d', 'Durations.', bounds)
      ours.registerMetric(durations as unknown as Metric)
      const theirs = new Registry()
      const histogram = new Histogram({ name: 'd', help: 'Durations.', labelNames: ['method', 'route', 'status_code'], buckets: bounds, registers: [theirs] })
      for (const [route, method, status, seconds] of observations) {
        durations.observe(route, method, status, seconds)
        histogram.observe({ method, route, status_code: status }, seconds)
      }
      // Series may come in another order; within a series, the lines are in prom-client's order.
      const series = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('d_')).sort()
      expect(series(await ours.metrics())).toEqual(series(await theirs.metrics()))
      expect((await ours.metrics()).split('\n').slice(0, 2)).toEqual((await theirs.metrics()).split('\n').slice(0, 2))
      durations.reset()
      histogram.reset()
      expect(await ours.metrics()).toBe(await theirs.metrics())
    }))
  })
})
