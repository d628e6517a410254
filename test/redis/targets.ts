import { startCluster, type TestCluster } from '../support/redis-cluster.js'
import { deletePrefixes, LOCAL_REDIS_URL } from '../support/redis.js'

/** A Redis that service processes of a test share: the machine's own, or a test cluster started on first use. */
export interface RedisTargetUnderTest {
  name: string
  /** Starts it if it is the test's own; settles once it serves. */
  ready: () => Promise<void>
  /** The environment that points a service at it. */
  env: () => Record<string, string>
  /** Deletes every key of `prefix`. */
  removeKeys: (prefix: string) => Promise<void>
  stop?: () => Promise<void>
}

function single (): RedisTargetUnderTest {
  return {
    name: 'a single Redis',
    ready: async () => {},
    env: () => ({ REDIS_URL: LOCAL_REDIS_URL }),
    removeKeys: async (prefix) => { await deletePrefixes({ url: LOCAL_REDIS_URL }, [prefix]) }
  }
}

function cluster (): RedisTargetUnderTest & { cluster: () => TestCluster } {
  let started: TestCluster | undefined
  const nodes = (): TestCluster['nodes'] => {
    if (started === undefined) throw new Error('the test cluster is not started')
    return started.nodes
  }
  return {
    name: 'a Redis Cluster of 3 primaries with replicas',
    ready: async () => { started ??= await startCluster() },
    env: () => ({ REDIS_CLUSTER_NODES: nodes().map((n) => `${n.host}:${n.port}`).join(',') }),
    removeKeys: async (prefix) => { await deletePrefixes({ clusterNodes: nodes() }, [prefix]) },
    stop: async () => { await started?.stop(); started = undefined },
    cluster: () => { if (started === undefined) throw new Error('the test cluster is not started'); return started }
  }
}

export function redisTargets (): RedisTargetUnderTest[] {
  return [single(), cluster()]
}

export { cluster as clusterTarget }
