import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ConfigError, ConfigSchema, allowList, clusterNodes, loadConfig } from '../src/config.js'

describe('configuration', () => {
  it('fills the documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ PORT: 3000, HOST: '127.0.0.1', MAX_ITEMS: 10_000, LOCK_TIMEOUT_MS: 1000, BODY_LIMIT: 16_384, FSYNC: 'everysec' })
  })

  it('converts numbers and ignores empty values', () => {
    expect(loadConfig({ PORT: '4000', MAX_ITEMS: '', LOG_LEVEL: 'debug' })).toMatchObject({ PORT: 4000, MAX_ITEMS: 10_000, LOG_LEVEL: 'debug' })
  })

  it('refuses invalid values with a message naming them', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError)
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/)
    expect(() => loadConfig({ MAX_ITEMS: '0' })).toThrow(/MAX_ITEMS/)
    expect(() => loadConfig({ FSYNC: 'sometimes' })).toThrow(/FSYNC/)
  })

  it('names every broken setting at once, and the values a choice takes', () => {
    expect(() => loadConfig({ PORT: '70000', FSYNC: 'sometimes', MAX_ITEMS: '1.5' })).toThrow(
      'Invalid configuration: PORT must be <= 65535; MAX_ITEMS must be integer; FSYNC must be one of always, everysec, no'
    )
  })

  it('takes typed overrides over the environment', () => {
    expect(loadConfig({ PORT: '4000' }, { PORT: 0, LOG_LEVEL: 'silent' })).toMatchObject({ PORT: 0, LOG_LEVEL: 'silent' })
    expect(() => loadConfig({}, { MAX_ITEMS: 0 })).toThrow(/MAX_ITEMS must be >= 1/)
  })

  it('splits the allow-list', () => {
    expect(allowList(loadConfig({ RATE_LIMIT_ALLOW_LIST: ' 127.0.0.1, ::1 ,' }))).toEqual(['127.0.0.1', '::1'])
  })

  it('takes the Redis backend with one node or a cluster, and stops on a combination that cannot work, naming it', () => {
    expect(loadConfig({})).toMatchObject({ STORE: 'memory', REDIS_KEY_PREFIX: 'chats', REDIS_READ_FROM_REPLICAS: false, REDIS_WAIT_REPLICAS: 0 })
    expect(loadConfig({ STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject({ STORE: 'redis' })
    expect(loadConfig({ STORE: 'redis', REDIS_CLUSTER_NODES: 'a:7001, b:7002', REDIS_READ_FROM_REPLICAS: 'true', REDIS_WAIT_REPLICAS: '1' }))
      .toMatchObject({ REDIS_READ_FROM_REPLICAS: true, REDIS_WAIT_REPLICAS: 1 })
    expect(() => loadConfig({ STORE: 'redis', REDIS_URL: 'redis://x', DATA_DIR: '/data' })).toThrow(/STORE=redis.*DATA_DIR/)
    expect(() => loadConfig({ STORE: 'redis' })).toThrow(/STORE=redis needs REDIS_URL .* or REDIS_CLUSTER_NODES/)
    expect(() => loadConfig({ STORE: 'redis', REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/one of REDIS_URL, REDIS_CLUSTER_NODES/)
    expect(() => loadConfig({ STORE: 'redis', REDIS_URL: 'localhost:6379' })).toThrow(/REDIS_URL must be a redis:\/\//)
    expect(() => loadConfig({ STORE: 'redis', REDIS_CLUSTER_NODES: 'a:1,b' })).toThrow(/REDIS_CLUSTER_NODES must be a comma list of host:port, not "b"/)
    expect(() => loadConfig({ STORE: 'redis', REDIS_URL: 'redis://x', REDIS_READ_FROM_REPLICAS: 'true' })).toThrow(/REDIS_READ_FROM_REPLICAS needs REDIS_CLUSTER_NODES/)
    expect(() => loadConfig({ STORE: 'disk' })).toThrow(/STORE must be one of memory, redis/)
    expect(() => loadConfig({ REDIS_KEY_PREFIX: 'a{b}' })).toThrow(/REDIS_KEY_PREFIX/)
    expect(clusterNodes(' [::1]:7001 ,host:7002,')).toEqual([{ host: '::1', port: 7001 }, { host: 'host', port: 7002 }])
  })

  it('documents every variable in .env.example and the README', async () => {
    const example = await readFile(new URL('../.env.example', import.meta.url), 'utf8')
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const name of Object.keys(ConfigSchema.properties)) {
      expect(example).toMatch(new RegExp(`^${name}=`, 'm'))
      expect(readme).toContain(`\`${name}\``)
    }
  })
})
