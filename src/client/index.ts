import createClient, { type Client, type ClientOptions } from 'openapi-fetch'
import type { components, paths } from './openapi.js'

export type { components, operations, paths } from './openapi.js'
export type Chat = components['schemas']['Chat']
export type ChatPage = components['schemas']['ChatPage']
export type Problem = components['schemas']['Problem']
export type ChatsClient = Client<paths>

/**
 * A typed client of this service (openapi-fetch over the types `npm run openapi` generates from
 * openapi/openapi.json): paths, parameters, bodies and answers, errors included, are checked by tsc.
 */
export function createChatsClient (options: ClientOptions & { baseUrl: string }): ChatsClient {
  return createClient<paths>(options)
}
