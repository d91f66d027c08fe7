/** Maps what undici and the socket layer throw to the error catalog. */
import { SluiceError } from '../pipeline/errors.ts';

const connectFailures = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const resets = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

export function upstreamError(error: unknown, upstream: string): SluiceError {
  const code = (error as { code?: string } | null)?.code ?? '';
  const detail = `(upstream "${upstream}": ${code || (error as Error)?.message || 'unknown error'})`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new SluiceError('upstream_connect_timeout', { detail, cause: error });
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return new SluiceError('upstream_headers_timeout', { detail, cause: error });
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return new SluiceError('upstream_body_timeout', { detail, cause: error });
  if (connectFailures.has(code)) return new SluiceError('upstream_connect_failed', { detail, cause: error });
  if (resets.has(code)) return new SluiceError('upstream_connection_reset', { detail, cause: error });
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INFO') {
    return new SluiceError('upstream_bad_response', { detail, cause: error });
  }
  return new SluiceError('upstream_connection_reset', { detail, cause: error });
}
