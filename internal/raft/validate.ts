// Checks on what arrives from outside the core (messages off the network, proposals from callers), so that
// a malformed input is refused with a typed error before it can touch the log.
import { InvalidMessageError, InvalidProposalError } from './errors.js';
import type { Message, MessageType, NodeId } from './types.js';

const TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'append',
  'appendResponse',
  'vote',
  'preVote',
  'voteResponse',
  'preVoteResponse',
  'heartbeat',
  'heartbeatResponse',
  'snapshot',
  'snapshotResponse',
  'timeoutNow',
]);

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function validateMessage(m: Message, self: NodeId): void {
  if (typeof m !== 'object' || m === null || !TYPES.has(m.type)) throw new InvalidMessageError(`unknown message type ${String((m as { type?: unknown })?.type)}`);
  if (m.to !== self) throw new InvalidMessageError(`${m.type} for ${m.to} stepped into ${self}`);
  if (typeof m.from !== 'string' || m.from === '' || m.from === self) throw new InvalidMessageError(`${m.type} has an invalid sender ${String(m.from)}`);
  if (!isIndex(m.term)) throw new InvalidMessageError(`${m.type} from ${m.from} has an invalid term ${String(m.term)}`);
  switch (m.type) {
    case 'append': {
      if (!isIndex(m.index) || !isIndex(m.logTerm) || !isIndex(m.commit) || !Array.isArray(m.entries)) {
        throw new InvalidMessageError(`append from ${m.from} has invalid fields`);
      }
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        if (e.index !== m.index + 1 + i || !isIndex(e.term) || e.term > m.term || !(e.data instanceof Uint8Array)) {
          throw new InvalidMessageError(`append from ${m.from}: entry ${i} is not contiguous after ${m.index} or is malformed`);
        }
      }
      return;
    }
    case 'appendResponse':
      if (!isIndex(m.index) || !isIndex(m.rejectHint) || !isIndex(m.logTerm)) throw new InvalidMessageError(`appendResponse from ${m.from} has invalid fields`);
      return;
    case 'vote':
    case 'preVote':
      if (!isIndex(m.index) || !isIndex(m.logTerm)) throw new InvalidMessageError(`${m.type} from ${m.from} has invalid fields`);
      return;
    case 'heartbeat':
      if (!isIndex(m.commit) || typeof m.context !== 'string') throw new InvalidMessageError(`heartbeat from ${m.from} has invalid fields`);
      return;
    case 'heartbeatResponse':
      if (typeof m.context !== 'string') throw new InvalidMessageError(`heartbeatResponse from ${m.from} has invalid fields`);
      return;
    case 'snapshot':
      if (!m.meta || !isIndex(m.meta.index) || !isIndex(m.meta.term) || !isIndex(m.offset) || !(m.data instanceof Uint8Array)) {
        throw new InvalidMessageError(`snapshot from ${m.from} has invalid fields`);
      }
      if (!m.meta.confState || !Array.isArray(m.meta.confState.voters) || !Array.isArray(m.meta.confState.learners)) {
        throw new InvalidMessageError(`snapshot from ${m.from} has no membership`);
      }
      return;
    case 'snapshotResponse':
      if (!isIndex(m.snapshotIndex) || !isIndex(m.offset)) throw new InvalidMessageError(`snapshotResponse from ${m.from} has invalid fields`);
      return;
    default:
      return;
  }
}

export function validateProposal(datas: Uint8Array[]): void {
  if (!Array.isArray(datas)) throw new InvalidProposalError('a proposal is a list of Uint8Array entries');
  for (let i = 0; i < datas.length; i++) {
    if (!(datas[i] instanceof Uint8Array)) throw new InvalidProposalError(`proposal entry ${i} is not a Uint8Array`);
  }
}
