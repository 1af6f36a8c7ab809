export { ACTIONS, PermissionDeniedError, PolicyLoadError } from './authorizer.js';
export type { Action, Authorizer } from './authorizer.js';
export { CasbinAuthorizer } from './casbin-authorizer.js';
