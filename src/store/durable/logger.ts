/** Where the durable store and its compaction report: pino's shape, so that the app's logger fits. */
export interface DurableLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export const silent: DurableLogger = { info: () => undefined, warn: () => undefined, error: () => undefined }
