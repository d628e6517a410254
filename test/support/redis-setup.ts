import { afterAll } from 'vitest'
import { testPrefixes } from '../helper.js'
import { deletePrefixes, LOCAL_REDIS_URL } from './redis.js'

// The `redis` project's setup file: after each test file, the keys its apps wrote go.
afterAll(async () => {
  await deletePrefixes({ url: LOCAL_REDIS_URL }, testPrefixes.splice(0))
})
