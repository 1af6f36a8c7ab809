// The production parts an agent wires: internal/distributed and internal/discovery.
import type { AgentParts } from './agent.js';
import { openReplicatedLog } from './log-part.js';
import { startMembership } from './membership-part.js';

export const realParts: AgentParts = { openReplicatedLog, startMembership };
