// libp2p uses Promise.withResolvers, which Node 20 lacks; tests load the same polyfill as the binaries.
import '../../internal/polyfills.js';
