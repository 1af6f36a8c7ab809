// `node --import ./test/helpers/ts-loader/register.mjs file.ts` runs TypeScript sources as they are, so tests can
// start real proglog processes without a build step. Type checking stays with `tsc --noEmit`.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
