// proglog as a library: the load-balancing client (give it any server; writes go to the leader, reads to
// followers), the generated API types, and the agent for embedding a node in a program.
//
//   import { createClient } from 'proglog';
//   const client = createClient({ addr: '127.0.0.1:8400', ca, cert, key });
//   client.produce({ record: { value: Buffer.from('hi'), offset: 0, term: 0, type: 0 }, topic: '' }, (err, res) => ...);
// The agent brings libp2p, which needs Promise.withResolvers (absent from Node 20): load the polyfill first.
import './internal/polyfills.js';

export {
  createClient,
  clientCredentials,
  leaderRoute,
  ROUTE_METADATA,
  ClientConfigError,
  registerProglogLoadBalancing,
  SCHEME,
  LOAD_BALANCER_NAME,
  routeOf,
  type ClientOptions,
  type Route,
} from './internal/loadbalance/index.js';
export {
  LogClient,
  LogService as LogServiceDefinition,
  type ConsumeRangeRequest,
  type ConsumeRangeResponse,
  type ConsumeRequest,
  type ConsumeResponse,
  type GetServersResponse,
  type ListTopicsResponse,
  type ProduceBatchRequest,
  type ProduceBatchResponse,
  type ProduceRequest,
  type ProduceResponse,
  type Record,
  type Server,
} from './api/v1/log.js';
export { Agent, AgentConfigError, realParts, type AgentConfig, type AgentOptions, type AgentParts } from './internal/agent/index.js';
