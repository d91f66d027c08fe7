/**
 * The "slow headers" fault: the status line leaves at once, the rest of the head (and anything after
 * it) only after a delay. Unlike plain latency, the upstream looks alive - bytes arrive - yet the head
 * never completes in time, which is what a proxy's headers timeout must catch.
 *
 * node:http writes the head as part of its first socket write, so the only place to split it is the
 * socket's `write`: we shadow it for this one response, then remove the shadow.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type WriteCallback = (error?: Error | null) => void;
type HeldWrite = [
  chunk: string | Uint8Array,
  encoding: BufferEncoding | undefined,
  callback: WriteCallback | undefined,
];

export function holdHeadAfterStatusLine(res: ServerResponse, delayMs: number): void {
  const socket: Socket | null = res.socket;
  if (!socket || delayMs <= 0) return;
  const originalWrite = socket.write;
  const held: HeldWrite[] = [];
  let timer: NodeJS.Timeout | undefined;

  const release = () => {
    clearTimeout(timer);
    socket.off('close', release);
    // Removing the own property brings back the prototype's write.
    Reflect.deleteProperty(socket, 'write');
    if (socket.destroyed) return;
    for (const [chunk, encoding, callback] of held) {
      originalWrite.call(socket, chunk, encoding as BufferEncoding, callback);
    }
  };

  const holdingWrite = (
    chunk: string | Uint8Array,
    encodingOrCallback?: BufferEncoding | WriteCallback,
    maybeCallback?: WriteCallback,
  ): boolean => {
    const encoding = typeof encodingOrCallback === 'string' ? encodingOrCallback : undefined;
    const callback = typeof encodingOrCallback === 'function' ? encodingOrCallback : maybeCallback;
    if (timer !== undefined) {
      held.push([chunk, encoding, callback]);
      return true;
    }
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    const statusLineEnd = text.indexOf('\r\n') + 2;
    const restEncoding = typeof chunk === 'string' ? encoding : 'latin1';
    originalWrite.call(socket, text.slice(0, statusLineEnd), restEncoding as BufferEncoding);
    held.push([text.slice(statusLineEnd), restEncoding, callback]);
    timer = setTimeout(release, delayMs);
    socket.once('close', release);
    return true;
  };
  socket.write = holdingWrite as Socket['write'];
}
