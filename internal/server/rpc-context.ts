import type { Logger } from 'pino';
import type { Authorizer } from '../auth/index.js';
import type { LogService } from './log-service.js';
import type { ServerLimits } from './requests.js';
import type { StreamRegistry } from './stream-registry.js';

/** What every handler needs: storage, the ACL, limits, the open streams, and where to report the unexpected. */
export interface RpcContext {
  logService: LogService;
  authorizer: Authorizer;
  limits: ServerLimits;
  streams: StreamRegistry;
  logger: Logger;
}
