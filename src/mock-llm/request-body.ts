/** Reading a request body whole, with a size cap checked before and while reading. */
import type { IncomingMessage } from 'node:http';

export const BODY_TOO_LARGE = Symbol('body too large');

/**
 * The body, BODY_TOO_LARGE once it passes `maxBytes` (reading stops there), or undefined when the
 * client went away first.
 */
export function readRequestBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | typeof BODY_TOO_LARGE | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.resolve(BODY_TOO_LARGE);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (result: Buffer | typeof BODY_TOO_LARGE | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        req.pause();
        return finish(BODY_TOO_LARGE);
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length));
    // 'close' before 'end' means the client left mid-body; after 'end' finish() already removed it.
    const onClose = () => finish(undefined);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}
