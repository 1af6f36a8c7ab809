// grpc-js keeps resolvers and balancers in process-wide registries; registering ours there is the one global
// act. Their state lives in the instances grpc-js creates per channel.
import * as grpc from '@grpc/grpc-js';
import { ProglogLoadBalancer, ProglogLoadBalancingConfig } from './balancer.js';
import { LOAD_BALANCER_NAME } from './balancer-name.js';
import { ProglogResolver, SCHEME } from './resolver.js';

let registered = false;

/** Makes `proglog://host:port` targets and the leader/follower policy known to grpc-js. Idempotent. */
export function registerProglogLoadBalancing(): void {
  if (registered) return;
  registered = true;
  grpc.experimental.registerResolver(SCHEME, ProglogResolver);
  grpc.experimental.registerLoadBalancerType(LOAD_BALANCER_NAME, ProglogLoadBalancer, ProglogLoadBalancingConfig);
}
