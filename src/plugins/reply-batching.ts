import fp from 'fastify-plugin'
import type { Config } from '../config.js'

/**
 * Answers leave together at the end of each event-loop turn, as Redis writes its replies before
 * it sleeps: an `onSend` hook holds each answer until a `setImmediate` that sends every answer
 * held. Under load, the requests read in one turn are then all handled before any answer is
 * written, so a client's thread is woken once for a burst of answers instead of once for each, a
 * wake-up that costs the server more than the work of an answer (see `docs/performance.md`). An
 * idle server answers within the turn that read the request. `BATCH_REPLIES=false` sends each
 * answer as soon as it is ready.
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  if (!config.BATCH_REPLIES) return
  let held: (() => void)[] = []
  const sendHeld = (): void => {
    const sending = held
    held = []
    for (const send of sending) {
      // One answer failing to go must not keep the others back.
      try {
        send()
      } catch (err) {
        app.log.error({ err }, 'sending a held answer failed')
      }
    }
  }
  app.addHook('onSend', (_request, _reply, payload, done) => {
    if (held.length === 0) setImmediate(sendHeld)
    held.push(() => { done(null, payload) })
  })
}, { name: 'reply-batching' })
