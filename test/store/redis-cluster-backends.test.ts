import { afterAll, beforeAll, describe } from 'vitest'
import { describeBackend } from './backend-suite.js'
import { describeNaiveModel } from './naive-model.js'
import { redisStores } from '../support/redis.js'
import { startCluster, type TestCluster } from '../support/redis-cluster.js'

// The one suite (backends.test.ts) on the Redis backend over a Redis Cluster of 3 primaries and 3
// replicas of its own; once with reads from the primaries, once from the replicas.
let cluster: TestCluster | undefined
const nodes: { host: string, port: number }[] = []
const primaries = redisStores({ clusterNodes: nodes })
const replicas = redisStores({ clusterNodes: nodes, readFromReplicas: true }, { waitReplicas: 1 })

beforeAll(async () => {
  cluster = await startCluster()
  nodes.push(...cluster.nodes)
}, 60_000)

afterAll(async () => {
  await primaries.cleanup()
  await replicas.cleanup()
  await cluster?.stop()
})

describeBackend('redis-cluster', primaries.make, { memoryGuard: false })
describeNaiveModel('redis-cluster', primaries.make)
describe('with reads from replicas and WAIT 1 after each write', () => {
  describeBackend('redis-cluster-replicas', replicas.make, { memoryGuard: false })
  describeNaiveModel('redis-cluster-replicas', replicas.make)
})
