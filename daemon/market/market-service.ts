import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { OFFER_TOPIC } from '../../protocol/market/offer.js'
import type { OfferRejection } from '../../protocol/market/offer-record.js'
import type { Logger } from '../log.js'
import { buildOffer, OFFER_REFRESH_MS, type Allocated } from './build-offer.js'
import { offerBook, type OfferBook, type OfferSource } from './offer-book.js'
import { signOffer } from './offer-signing.js'
import type { ProviderSettingsStore } from './provider-settings.js'
import type { Resources } from './resources/index.js'

/** Rejections that prove the sender wrong (gossipsub then scores the peer down); the rest are stale news. */
const PUNISHED: ReadonlySet<OfferRejection> = new Set(['oversized', 'malformed', 'invalid', 'bad-signature', 'wrong-author', 'from-the-future'])

/** A withdrawn offer lives this long: every book drops it at once instead of in OFFER_TTL_MS. */
const WITHDRAWN_TTL_MS = 1_000

/** After a peer joins the offers topic, our offer follows within this long (so it need not wait a refresh). */
const ANNOUNCE_DEBOUNCE_MS = 500

export interface MarketComponents {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  privateKey: PrivateKey
  settings: ProviderSettingsStore
  detect: () => Promise<Resources>
  /** what running jobs hold (the provider's, once it is wired) */
  allocated?: () => Allocated
  log: Logger
}

export interface MarketService {
  book: OfferBook
  start(): Promise<void>
  stop(): Promise<void>
  /** publishes this node's offer now (provider on) or withdraws it (provider off) */
  announce(): Promise<void>
  /** the resources last measured for the offer */
  lastResources(): Resources | undefined
}

/**
 * The market: every node keeps an offer book fed by the offers topic (each message is
 * checked before it enters the book or is forwarded); a provider publishes its signed offer
 * when asked (`announce`, after its settings change), when a peer joins the topic, and every
 * OFFER_REFRESH_MS before it expires.
 */
export function marketService ({ libp2p, privateKey, settings, detect, allocated, log }: MarketComponents): MarketService {
  const book = offerBook()
  const pubsub = libp2p.services.pubsub
  const self = libp2p.peerId.toString()
  let lastSeq = 0
  let refresh: NodeJS.Timeout | undefined
  let debounce: NodeJS.Timeout | undefined
  let resources: Resources | undefined
  let published = false

  /** The peer that handed a message over, and its connection's host: what the book's shares count. */
  const sourceOf = (from: PeerId): OfferSource => {
    const host = libp2p.getConnections(from)[0]?.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6' || c.name.startsWith('dns'))?.value
    return { peer: from.toString(), ...(host != null ? { address: host } : {}) }
  }

  const validate = async (from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    try {
      const result = await book.accept(msg.data, { author: msg.from.toString(), source: sourceOf(from) })
      return result === 'duplicate' ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept
    } catch (err: any) {
      log.debug({ from: msg.from.toString(), reason: err?.reason, err: err?.message }, 'offer refused')
      return PUNISHED.has(err?.reason) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
  }

  const announce = async (): Promise<void> => {
    const current = settings.get()
    if (!current.enabled && !published) return
    resources = await detect()
    const now = Date.now()
    lastSeq = Math.max(now, lastSeq + 1)
    const offer = buildOffer({ peerId: self, addrs: libp2p.getMultiaddrs().map(String), resources, settings: current, seq: lastSeq, now, allocated: allocated?.() })
    if (!current.enabled) offer.expiresAt = now + WITHDRAWN_TTL_MS
    const record = await signOffer(privateKey, offer)
    if (current.enabled) await book.accept(record)
    else book.remove(self)
    published = current.enabled
    const { recipients } = await pubsub.publish(OFFER_TOPIC, record)
    log.debug({ seq: offer.seq, enabled: current.enabled, recipients: recipients.length, topicPeers: pubsub.getSubscribers(OFFER_TOPIC).length }, current.enabled ? 'offer published' : 'offer withdrawn')
  }
  const announceLogged = (): void => {
    announce().catch((err: Error) => { log.warn({ err: err.message }, 'could not publish the offer') })
  }
  const onSubscription = (event: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (!settings.get().enabled || !event.detail.subscriptions.some(s => s.topic === OFFER_TOPIC && s.subscribe)) return
    clearTimeout(debounce)
    debounce = setTimeout(announceLogged, ANNOUNCE_DEBOUNCE_MS)
  }
  const onDisconnect = (event: CustomEvent<PeerId>): void => { book.remove(event.detail.toString()) }
  // this node's addresses changed (a relay reservation, a confirmed public address): offers carry them
  const onSelfUpdate = (): void => {
    if (!settings.get().enabled) return
    clearTimeout(debounce)
    debounce = setTimeout(announceLogged, ANNOUNCE_DEBOUNCE_MS)
  }

  return {
    book,
    lastResources: () => resources,
    announce,
    async start () {
      if (refresh != null) return
      pubsub.topicValidators.set(OFFER_TOPIC, validate)
      pubsub.subscribe(OFFER_TOPIC)
      pubsub.addEventListener('subscription-change', onSubscription)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      libp2p.addEventListener('self:peer:update', onSelfUpdate)
      refresh = setInterval(announceLogged, OFFER_REFRESH_MS)
      announceLogged()
    },
    async stop () {
      if (refresh == null) return
      clearInterval(refresh)
      clearTimeout(debounce)
      refresh = undefined
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      libp2p.removeEventListener('self:peer:update', onSelfUpdate)
      pubsub.removeEventListener('subscription-change', onSubscription)
      pubsub.unsubscribe(OFFER_TOPIC)
      pubsub.topicValidators.delete(OFFER_TOPIC)
    }
  }
}
