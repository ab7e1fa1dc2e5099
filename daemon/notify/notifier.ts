import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import type { JobView } from '../../protocol/jobs/view.js'
import type { Logger } from '../log.js'
import { runSeconds } from '../jobs/job-events.js'

/** Each webhook POST is given this long. */
export const WEBHOOK_TIMEOUT_MS = 10_000
/** Tries of one webhook delivery (the first and retries), with these pauses before the retries. */
export const WEBHOOK_RETRY_PAUSES_MS = [1_000, 5_000]
/** Deliveries under way or waiting at once; past it, an end is logged and not posted (a burst of ends cannot pile up requests). */
export const WEBHOOK_MAX_PENDING = 32
/** The header carrying `sha256=HEX`, the HMAC-SHA256 of the body under notify.webhookSecret. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Floe-Signature'

/** What a webhook receives when a job ends (POST, application/json). */
export interface JobFinishedEvent {
  event: 'job.finished'
  ref: string
  jobId: string
  state: string
  exitCode: number | null
  reason: string | null
  durationSeconds: number | null
  cost: number | null
  outputCid: string | null
  /** the job's page in the web UI (reached through `floe ui`) */
  url: string | null
}

export interface NotifySettings {
  /** an http(s) URL, or null */
  webhook: string | null
  webhookSecret: string | null
  desktop: boolean | 'auto'
}

export function jobFinishedEvent (job: JobView, apiUrl: string | null): JobFinishedEvent {
  return {
    event: 'job.finished',
    ref: job.ref,
    jobId: job.jobId,
    state: job.state,
    exitCode: job.exitCode,
    reason: job.reason,
    durationSeconds: runSeconds(job),
    cost: job.receipt?.cost ?? null,
    outputCid: job.outputCid,
    url: apiUrl == null ? null : `${apiUrl.replace(/\/$/, '')}/jobs/${encodeURIComponent(job.ref)}`
  }
}

/** The desktop notifier of this machine, if it has a desktop session: notify-send (Linux, with a display or D-Bus session), osascript (macOS). */
export function desktopCommand (env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): ((title: string, body: string) => [string, string[]]) | null {
  if (platform === 'darwin') return (title, body) => ['osascript', ['-e', `display notification ${JSON.stringify(body)} with title ${JSON.stringify(title)}`]]
  if (platform === 'linux' && (env.DISPLAY != null || env.WAYLAND_DISPLAY != null || env.DBUS_SESSION_BUS_ADDRESS != null)) return (title, body) => ['notify-send', ['--app-name=floe', title, body]]
  return null
}

/**
 * Tells the user a job they submitted has ended: a POST to their webhook (notify.webhook;
 * JSON, signed with notify.webhookSecret if set; a few tries with back-off, each timed out;
 * failures logged, never fatal) and a desktop notification where the machine has a desktop
 * session (notify.desktop: true, false, or auto — on when a notifier and a session exist).
 */
export function notifier (components: { settings: NotifySettings, apiUrl: () => string | null, log: Pick<Logger, 'warn' | 'info' | 'debug'>, env?: NodeJS.ProcessEnv, signal?: AbortSignal, retryPausesMs?: readonly number[] }) {
  const { settings, log } = components
  const pauses = components.retryPausesMs ?? WEBHOOK_RETRY_PAUSES_MS
  let pending = 0
  const desktop = settings.desktop === false ? null : desktopCommand(components.env)
  if (settings.desktop === true && desktop == null) log.warn({ event: 'notify.failed', err: 'no desktop session (DISPLAY, WAYLAND_DISPLAY or DBUS_SESSION_BUS_ADDRESS) or notifier' }, 'notify.desktop is on but this machine cannot show notifications')

  const post = async (body: string): Promise<void> => {
    const url = settings.webhook as string
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'floe' }
    if (settings.webhookSecret != null) headers[WEBHOOK_SIGNATURE_HEADER] = `sha256=${createHmac('sha256', settings.webhookSecret).update(body).digest('hex')}`
    let lastError = ''
    for (let attempt = 0; attempt <= pauses.length; attempt++) {
      if (attempt > 0) await new Promise(resolve => setTimeout(resolve, pauses[attempt - 1]).unref())
      if (components.signal?.aborted === true) return
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), ...(components.signal != null ? [components.signal] : [])])
        const response = await fetch(url, { method: 'POST', headers, body, signal, redirect: 'error' })
        await response.body?.cancel()
        if (response.ok) return
        lastError = `HTTP ${response.status}`
        // the receiver refused this request as such: trying again would not change its mind
        if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) break
      } catch (err: any) {
        lastError = err?.cause?.message ?? err?.message ?? String(err)
      }
    }
    log.warn({ event: 'notify.failed', err: lastError }, `the webhook ${new URL(url).origin} did not take the notification`)
  }

  const showDesktop = (event: JobFinishedEvent): void => {
    if (desktop == null) return
    const [command, args] = desktop(`floe: job ${event.ref} ${event.state}`, `${event.durationSeconds != null ? `ran ${event.durationSeconds.toFixed(1)}s` : ''}${event.exitCode != null ? `, exit code ${event.exitCode}` : ''}${event.reason != null ? ` — ${event.reason}` : ''}`)
    execFile(command, args, { timeout: 5_000 }, err => { if (err != null) log.debug({ err: err.message }, 'desktop notification failed') })
  }

  let idle: Promise<void> = Promise.resolve()
  return {
    /** resolves once every delivery started so far has ended (tests) */
    async settled (): Promise<void> { await idle },
    jobEnded (job: JobView): void {
      const event = jobFinishedEvent(job, components.apiUrl())
      showDesktop(event)
      if (settings.webhook == null) return
      if (pending >= WEBHOOK_MAX_PENDING) {
        log.warn({ event: 'notify.failed', err: `${pending} deliveries already waiting` }, `job ${job.ref} ended: webhook notification left out`)
        return
      }
      pending++
      const delivery = post(JSON.stringify(event)).finally(() => { pending-- })
      idle = Promise.all([idle, delivery]).then(() => {})
    }
  }
}
