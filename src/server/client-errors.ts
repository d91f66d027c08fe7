/**
 * Answers requests Node's HTTP parser refuses before any handler runs: malformed framing
 * (Content-Length with Transfer-Encoding, duplicate or invalid Content-Length, CR/LF in a header
 * value), oversized headers, slow headers. The answer is a JSON error in the catalog's shape and
 * the connection is closed, since the byte stream can no longer be trusted.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type ErrorCode, renderError, SluiceError } from '../pipeline/errors.ts';
import type { Metrics } from '../telemetry/metrics.ts';

function codeFor(error: NodeJS.ErrnoException): ErrorCode | undefined {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'request_headers_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return 'request_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    default:
      return 'bad_request';
  }
}

export function createClientErrorHandler(metrics: Metrics, logger: Logger) {
  return function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    const code = codeFor(error);
    if (code === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    const detail =
      code === 'bad_request'
        ? `(${error.code ?? 'parse error'}: ${(error as { reason?: string }).reason ?? error.message})`
        : undefined;
    const rendered = renderError(new SluiceError(code, detail ? { detail } : {}), 'passthrough', 'none');
    metrics.rejections.labels('unmatched', code).inc();
    logger.warn(
      { error: error.code, sluice_error: code, remote: (socket as { remoteAddress?: string }).remoteAddress },
      'rejected malformed request',
    );
    const head = [
      `HTTP/1.1 ${rendered.status} ${STATUS_CODES[rendered.status] ?? ''}`,
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(rendered.body)}`,
      `x-sluice-error: ${rendered.headers['x-sluice-error']}`,
      'connection: close',
    ].join('\r\n');
    socket.end(`${head}\r\n\r\n${rendered.body}`);
  };
}
