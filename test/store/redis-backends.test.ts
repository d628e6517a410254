import { afterAll } from 'vitest'
import { describeBackend } from './backend-suite.js'
import { describeNaiveModel } from './naive-model.js'
import { LOCAL_REDIS_URL, redisStores } from '../support/redis.js'

// The one suite (backends.test.ts) on the Redis backend: one node here.
const single = redisStores({ url: LOCAL_REDIS_URL })
afterAll(async () => { await single.cleanup() })

describeBackend('redis', single.make, { memoryGuard: false })
describeNaiveModel('redis', single.make)
