import { peerIdFromString } from '@libp2p/peer-id'
import { UnknownOwnerError } from '../errors.js'

/** A peer this node knows by a name: itself (config `owner`), and the owners of the projects it holds. */
export interface KnownOwner {
  name: string
  peer: string
}

/** Whether `text` is a peer id with a key inside it (what a name record's signature is checked against). */
export function isPeerId (text: string): boolean {
  try {
    return peerIdFromString(text).publicKey != null
  } catch {
    return false
  }
}

/**
 * OWNER in `OWNER/NAME:N` → the owner's peer id. A peer id is itself. Any other text is a name
 * this node knows one peer by: its own owner name, or the owner part of a project it holds
 * (`alice/mnist` was created by the peer `alice` names). A name is only a pointer to a peer
 * id: what it resolves to must still be signed by that peer's key, so a wrong pointer can
 * withhold a dataset, never substitute one. Two peers going by one name is an error naming
 * both, never a guess.
 */
export async function resolveOwner (text: string, known: () => Promise<KnownOwner[]>): Promise<string> {
  if (isPeerId(text)) return text
  const peers = [...new Set((await known()).filter(k => k.name === text).map(k => k.peer))]
  if (peers.length === 1) return peers[0] as string
  if (peers.length === 0) {
    throw new UnknownOwnerError(`no peer is known here as "${text}": name the owner by peer id (\`floe id\` on their node prints it), e.g. <PEER-ID>/mnist:1; a name works once you share a project they own`)
  }
  throw new UnknownOwnerError(`"${text}" names ${peers.length} peers here (${peers.join(', ')}): name the owner by peer id, e.g. ${peers[0] ?? ''}/NAME:N`)
}
