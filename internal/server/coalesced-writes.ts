// grpc-js hands a server stream's messages to HTTP/2 one at a time: its Writable has only _write, whose callback
// runs once that message has reached the socket, so every further message waits a turn of the event loop and
// goes out in its own TLS record and its own write(2). A ProduceStream answering a group commit of 20 records,
// or a ConsumeStream sending a page record by record, paid 20 system calls (and 20 wake-ups of the client) for
// what fits in one. Giving the stream a _writev lets everything written while a message is in flight go down
// together: grpc-js frames each message as before, and Node's HTTP/2 session sends the frames in one write.
// Flow control is unchanged: the stream still reports a full buffer, and the callback runs when the last
// message is sent. A client stream had the same limit deeper in grpc-js (its RetryingCall), out of reach of
// this kind of fix: that one is patched at install (patches/README.md).
import type { Writable } from 'node:stream';

/** The one grpc-js internal this needs: a server stream's call, which sends one serialized-on-demand message. */
interface ServerCallInternals {
  call?: { sendMessage?: (message: unknown, callback: () => void) => void };
}

/**
 * Lets `stream` (a grpc-js server stream) send every message queued behind the one in flight in a single batch.
 * Returns false, leaving the stream as it was, if this grpc-js does not have the shape relied on.
 */
export function coalesceWrites(stream: Writable): boolean {
  const call = (stream as unknown as ServerCallInternals).call;
  const sendMessage = call?.sendMessage;
  if (typeof sendMessage !== 'function') return false;
  stream._writev = (chunks: Array<{ chunk: unknown }>, callback: (error?: Error | null) => void): void => {
    let pending = chunks.length;
    const sent = (): void => {
      if (--pending === 0) callback();
    };
    for (const { chunk } of chunks) sendMessage.call(call, chunk, sent);
  };
  return true;
}
