export { createClient, clientCredentials, ClientConfigError, leaderRoute, streamedRecords, type ClientOptions } from './client.js';
export { registerProglogLoadBalancing } from './register.js';
export { SCHEME, ProglogResolver } from './resolver.js';
export { ProglogLoadBalancer, ProglogLoadBalancingConfig } from './balancer.js';
export { LOAD_BALANCER_NAME } from './balancer-name.js';
export { LeaderFollowerPicker, LEADER_ID_METADATA, OUTCOME_METADATA, ROUTE_METADATA, type PickerView, type PickableServer } from './picker.js';
export { routeOf, type Route } from './routes.js';
