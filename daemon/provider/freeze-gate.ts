/**
 * Keeps a workspace's home saves (which pause its container) and the engine calls that
 * fail on a paused container (starting an exec, reading its exit code) apart. `freeze`
 * waits for the calls under way to finish and holds new ones until it is done; a call
 * under `unfrozen` waits for a freeze under way. Waiting for "not frozen" and then calling
 * is not enough: a save could pause the container between the two.
 */
export class FreezeGate {
  private frozen: Promise<void> | undefined
  private active = 0
  private idle: (() => void) | undefined

  async unfrozen<T> (fn: () => Promise<T>): Promise<T> {
    while (this.frozen != null) await this.frozen
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      if (this.active === 0) this.idle?.()
    }
  }

  async freeze<T> (fn: () => Promise<T>): Promise<T> {
    while (this.frozen != null) await this.frozen
    let thaw = (): void => {}
    this.frozen = new Promise<void>(resolve => { thaw = resolve })
    try {
      while (this.active > 0) await new Promise<void>(resolve => { this.idle = resolve })
      this.idle = undefined
      return await fn()
    } finally {
      this.frozen = undefined
      thaw()
    }
  }
}
