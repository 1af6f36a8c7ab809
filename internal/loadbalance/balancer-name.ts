/** The name our policy is registered under in grpc-js and named by in the resolver's service config. */
export const LOAD_BALANCER_NAME = 'proglog_leader_follower';
/** The pick-information key carrying the RPC's full method path from the config selector to the picker. */
export const METHOD_PICK_KEY = 'proglog.method';
