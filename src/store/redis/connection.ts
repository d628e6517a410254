import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { Socket } from 'node:net'
import { StoreError } from '../errors.js'
import { CHANGES, CREATE, DELETE, HISTORY, IDEM_ABORT, IDEM_BEGIN, LIST, RELEASE, RESERVE, UPDATE } from './scripts.js'

/** Where the Redis backend connects: one node by URL, or a Redis Cluster by its seed nodes. */
export interface RedisTarget {
  url?: string
  clusterNodes?: readonly { host: string, port: number }[]
  /** Cluster only: reads (gets, counts, lists) go to replicas. */
  readFromReplicas?: boolean
  /** Every command fails after this long (queued while disconnected included): the store answers `unavailable`. */
  commandTimeoutMs: number
  /** false: while disconnected a command fails at once instead of waiting for the connection (the rate limits' client). */
  offlineQueue?: boolean
}

/** The scripts, as commands: ioredis sends EVALSHA, and EVAL once per connection or after a NOSCRIPT (a `SCRIPT FLUSH`, a failover). */
export interface ChatCommands {
  chatCreate: (key: string, ...args: (string | number)[]) => Promise<string[]>
  /** The create on one Redis node: its second key is the global counter, which the script counts. */
  chatCreateCounted: (key: string, items: string, ...args: (string | number)[]) => Promise<string[]>
  chatChanges: (key: string, ...args: (string | number)[]) => Promise<string[]>
  chatHistory: (key: string, ...args: (string | number)[]) => Promise<string[]>
  chatKeyBegin: (key: string, ...args: (string | number)[]) => Promise<string[]>
  chatKeyAbort: (key: string, token: string) => Promise<number>
  chatUpdate: (key: string, ...args: (string | number)[]) => Promise<string[]>
  chatDelete: (key: string, ...args: (string | number)[]) => Promise<string[]>
  chatDeleteCounted: (key: string, items: string, ...args: (string | number)[]) => Promise<string[]>
  chatList: (key: string, ...args: (string | number)[]) => Promise<(string | number)[]>
  chatReserve: (key: string, max: number) => Promise<number>
  chatRelease: (key: string) => Promise<number>
}

export type ChatClient = (Redis | Cluster) & ChatCommands

/** Seconds a client is told to wait when Redis cannot be reached. */
export const RETRY_AFTER_S = 1

/**
 * A client that never hangs a request: every command has `commandTimeout` (a command queued while
 * the connection is down fails when it passes, too), is retried at most once after a reconnect,
 * and the client reconnects by itself, backing off up to 2 s between attempts.
 */
export function connect (target: RedisTarget): ChatClient {
  const common = {
    commandTimeout: target.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(target.commandTimeoutMs, 1000),
    // Off: each request of the service sends its command from its own I/O callback, so an
    // automatic pipeline almost always held one command and only added its cost (creates were
    // about 9 % faster without it, `.prof`-style A/B runs of `npm run load -- redis`).
    enableAutoPipelining: false
  } satisfies RedisOptions
  const reconnect = (times: number): number => Math.min(100 * times, 2000)
  let client: Redis | Cluster
  if (target.clusterNodes !== undefined && target.clusterNodes.length > 0) {
    const options: ClusterOptions = {
      scaleReads: target.readFromReplicas === true ? 'slave' : 'master',
      enableOfflineQueue: target.offlineQueue ?? true,
      enableAutoPipelining: false,
      clusterRetryStrategy: reconnect,
      // After a MOVED/ASK or CLUSTERDOWN, ask again a few times while the cluster settles.
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      redisOptions: common
    }
    client = new Cluster(target.clusterNodes.map((n) => ({ host: n.host, port: n.port })), options)
  } else {
    client = new Redis(target.url ?? 'redis://127.0.0.1:6379', { ...common, enableOfflineQueue: target.offlineQueue ?? true, retryStrategy: reconnect })
  }
  // Errors reach the callers of each command; the client's own 'error' events would otherwise crash the process.
  client.on('error', () => {})
  client.defineCommand('chatCreate', { numberOfKeys: 1, lua: CREATE })
  client.defineCommand('chatUpdate', { numberOfKeys: 1, lua: UPDATE })
  client.defineCommand('chatDelete', { numberOfKeys: 1, lua: DELETE })
  // One node only (the counter is in another slot than the owner's).
  client.defineCommand('chatCreateCounted', { numberOfKeys: 2, lua: CREATE })
  client.defineCommand('chatDeleteCounted', { numberOfKeys: 2, lua: DELETE })
  client.defineCommand('chatList', { numberOfKeys: 1, lua: LIST, readOnly: true })
  // On the primary, although it writes nothing: a replica behind it would call a fresh position expired.
  client.defineCommand('chatChanges', { numberOfKeys: 1, lua: CHANGES })
  client.defineCommand('chatHistory', { numberOfKeys: 1, lua: HISTORY, readOnly: true })
  client.defineCommand('chatKeyBegin', { numberOfKeys: 1, lua: IDEM_BEGIN })
  client.defineCommand('chatKeyAbort', { numberOfKeys: 1, lua: IDEM_ABORT })
  client.defineCommand('chatReserve', { numberOfKeys: 1, lua: RESERVE })
  client.defineCommand('chatRelease', { numberOfKeys: 1, lua: RELEASE })
  return client as ChatClient
}

/**
 * The connection the change feed listens on (sharded pub/sub: SSUBSCRIBE to each followed owner's
 * channel, which lives in the owner's slot): one node's own connection, or a cluster client that
 * subscribes on the node of each channel's slot. It reconnects by itself and subscribes again.
 */
export function connectSubscriber (target: RedisTarget, name: string): Redis | Cluster {
  const reconnect = (times: number): number => Math.min(100 * times, 2000)
  const common = { connectTimeout: Math.max(target.commandTimeoutMs, 1000), connectionName: name } satisfies RedisOptions
  const client = target.clusterNodes !== undefined && target.clusterNodes.length > 0
    ? new Cluster(target.clusterNodes.map((n) => ({ host: n.host, port: n.port })), { shardedSubscribers: true, clusterRetryStrategy: reconnect, redisOptions: common })
    : new Redis(target.url ?? 'redis://127.0.0.1:6379', { ...common, retryStrategy: reconnect, maxRetriesPerRequest: null })
  client.on('error', () => {})
  return client
}

/** The write scripts. */
export type WriteCommand = 'chatCreate' | 'chatCreateCounted' | 'chatUpdate' | 'chatDelete' | 'chatDeleteCounted'

/** Answers that mean the cluster did not run the command: it is served elsewhere now, or not yet. */
const NOT_RUN = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/

/**
 * Runs a write script and `WAIT replicas waitMs` on one connection, as one pipeline: WAIT counts
 * the replicas that have every earlier write of its connection. ioredis follows a MOVED of a
 * cluster pipeline only when every command of it got one, and WAIT (keyless) never does; so after a
 * failover the client would send every such pipeline to the slot's old node for good. A script that
 * a cluster did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) makes the client read the slot map again
 * and the pipeline go once more; a connection failure or timeout (the script may have run) reads
 * the map again for the next write and is the caller's to report.
 */
export async function writeAndWait (client: ChatClient, command: WriteCommand, keys: readonly string[], args: (string | number)[], replicas: number, waitMs: number): Promise<[Error | null, unknown][]> {
  for (let attempt = 0; ; attempt++) {
    const pipeline = client.pipeline() as unknown as Record<string, (...a: unknown[]) => unknown> & { call: (...a: unknown[]) => unknown, exec: () => Promise<[Error | null, unknown][] | null> }
    pipeline[command]!(...keys, ...args)
    pipeline.call('wait', replicas, waitMs)
    const results = await pipeline.exec() ?? []
    const scriptError = results[0]?.[0] ?? null
    if (scriptError === null || !(client instanceof Cluster)) return results
    const notRun = scriptError.name === 'ReplyError' && NOT_RUN.test(scriptError.message)
    if (!notRun || attempt > 0) {
      client.refreshSlotsCache()
      return results
    }
    await new Promise<void>((resolve) => { client.refreshSlotsCache(() => { resolve() }) })
  }
}

/** Redis answers that mean "not now": the cluster is failing over, loading, or a replica is read-only meanwhile. */
const TRANSIENT = /^(CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN|BUSY|NOREPLICAS|MOVED|ASK)\b/

/**
 * What a failed Redis call means to the store: Redis unreachable, too slow, or failing over is
 * `unavailable` (503 with Retry-After); Redis out of memory is `capacity` (507); an error the
 * store did not expect (a bug in a script) goes on as it is (500).
 */
export function storeErrorOf (err: unknown): unknown {
  if (err instanceof StoreError) return err
  if (!(err instanceof Error)) return err
  const reply = err.name === 'ReplyError'
  if (reply && err.message.startsWith('OOM')) {
    return new StoreError('capacity', 'Redis is out of memory', { cause: err })
  }
  if (reply && !TRANSIENT.test(err.message)) return err
  return new StoreError('unavailable', 'The store (Redis) cannot be reached now', { retryAfterSeconds: RETRY_AFTER_S, cause: err })
}

/** Every primary of the client: the one node, or the cluster's masters. */
export function primaries (client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client]
}

/**
 * Holds one node's writes, up to `most` commands or the end of the event-loop turn (a
 * `setImmediate`), whichever comes first: the commands of the requests read in one turn then leave
 * in a few writes, as the answers do (`reply-batching`). A write to Redis wakes it, and on a busy
 * machine a wake-up costs more than the command; each create's own `write` was the service's
 * dearest call (40 µs in a CPU profile). The cap keeps Redis busy meanwhile: with a whole turn in
 * one write, Redis waited while the service read every request of the turn, then the service
 * waited while Redis ran them all, and creates ran in lockstep; with 8 a write, Redis starts on the
 * first while the service reads the rest (13 % more creates a second in the median of twelve
 * interleaved A/B pairs of autocannon against one process, `docs/redis.md`). Call it before a
 * command. ioredis's automatic pipelining does not do this: it sends at `process.nextTick`, after
 * each I/O callback, so a pipeline held one command.
 */
export function turnBatcher (client: Redis, most = 8): () => void {
  let held: Socket | undefined
  let count = 0
  let scheduled = false
  const release = (): void => {
    const stream = held
    held = undefined
    count = 0
    stream?.uncork()
  }
  const endOfTurn = (): void => {
    scheduled = false
    release()
  }
  return () => {
    if (held !== undefined) {
      if (++count < most) return
      release()
    }
    const stream = client.stream as Socket | undefined
    if (stream === undefined || stream.destroyed) return
    held = stream
    stream.cork()
    if (!scheduled) {
      scheduled = true
      setImmediate(endOfTurn)
    }
  }
}
