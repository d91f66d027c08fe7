import type { OutgoingHttpHeaders } from 'node:http';
import t from 'tap';
import { contentTypeMatcher, mediaType } from '../../src/compression/media-type.ts';
import {
  adjustHeaders,
  applyDecision,
  type CompressInput,
  shouldCompress,
} from '../../src/compression/policy.ts';
import { type CompressionOptions, resolveCompressionSettings } from '../../src/compression/settings.ts';

const settings = resolveCompressionSettings();

function input(overrides: Partial<CompressInput> = {}, options?: Partial<CompressionOptions>): CompressInput {
  return {
    status: 200,
    method: 'POST',
    requestHeaders: { 'accept-encoding': 'gzip, br' },
    responseHeaders: { 'content-type': 'application/json; charset=utf-8' },
    contentLength: 5000,
    settings: options ? resolveCompressionSettings(options) : settings,
    ...overrides,
  };
}

const decide = (overrides: Partial<CompressInput> = {}, options?: Partial<CompressionOptions>) =>
  shouldCompress(input(overrides, options));

t.test('compresses a JSON body with the negotiated coding', async (t) => {
  t.same(decide(), { compress: true, encoding: 'br', sse: false });
  t.same(decide({ requestHeaders: { 'accept-encoding': 'gzip' } }), {
    compress: true,
    encoding: 'gzip',
    sse: false,
  });
});

t.test('no body: HEAD, 1xx, 204, 304', async (t) => {
  for (const overrides of [{ method: 'HEAD' }, { status: 101 }, { status: 204 }, { status: 304 }]) {
    t.same(decide(overrides), { compress: false, reason: 'no_body', vary: false }, JSON.stringify(overrides));
  }
});

t.test('error statuses are compressed like any other; ranges are not', async (t) => {
  t.equal(decide({ status: 500 }).compress, true);
  t.equal(decide({ status: 429 }).compress, true);
  t.match(decide({ status: 206 }), { compress: false, reason: 'partial_content' });
  t.match(decide({ responseHeaders: { 'content-type': 'text/plain', 'content-range': 'bytes 0-9/99' } }), {
    reason: 'partial_content',
  });
});

t.test('never twice: an upstream Content-Encoding passes through', async (t) => {
  // node:http's types say string, but a repeated upstream header arrives as a list.
  const headers = (encoding: string | string[]) => ({
    responseHeaders: {
      'content-type': 'application/json',
      'content-encoding': encoding,
    } as OutgoingHttpHeaders,
  });
  t.same(decide(headers('gzip')), { compress: false, reason: 'already_encoded', vary: false });
  t.match(decide(headers('br')), { reason: 'already_encoded' });
  t.match(decide(headers(['identity', 'gzip'])), { reason: 'already_encoded' });
  t.equal(decide(headers('identity')).compress, true, 'identity is no encoding');
});

t.test('Cache-Control: no-transform is respected', async (t) => {
  for (const cacheControl of ['no-transform', 'max-age=60, No-Transform', ['private', 'no-transform']]) {
    t.match(
      decide({
        responseHeaders: {
          'content-type': 'application/json',
          'cache-control': cacheControl,
        } as OutgoingHttpHeaders,
      }),
      { compress: false, reason: 'no_transform', vary: false },
    );
  }
  t.equal(
    decide({ responseHeaders: { 'content-type': 'application/json', 'cache-control': 'no-store' } }).compress,
    true,
  );
});

t.test('content types: globs, parameters and case ignored, missing type not compressed', async (t) => {
  const typed = (type: string | undefined) =>
    decide({ responseHeaders: type === undefined ? {} : { 'content-type': type } });
  t.equal(typed('text/html; charset=UTF-8').compress, true);
  t.equal(typed('Application/JSON').compress, true);
  t.equal(typed('application/problem+json').compress, true);
  t.equal(typed('application/x-ndjson').compress, true);
  t.match(typed('image/png'), { compress: false, reason: 'content_type', vary: false });
  t.match(typed('application/octet-stream'), { reason: 'content_type' });
  t.match(typed(undefined), { reason: 'content_type' });
  t.match(typed('application/jsonx'), { reason: 'content_type' });
  const onlyJson = { contentTypes: ['application/json'] };
  t.match(decide({ responseHeaders: { 'content-type': 'text/html' } }, onlyJson), { reason: 'content_type' });
  t.equal(decide({}, { contentTypes: ['*/*'] }).compress, true);
});

t.test('minimum size applies to known lengths only', async (t) => {
  t.match(decide({ contentLength: 1023 }), { compress: false, reason: 'too_small', vary: false });
  t.equal(decide({ contentLength: 1024 }).compress, true);
  t.match(decide({ contentLength: 0 }, { minBytes: 0 }), { reason: 'too_small' }, 'empty stays empty');
  t.equal(decide({ contentLength: 10 }, { minBytes: 0 }).compress, true);
  const fromHeader = { 'content-type': 'application/json', 'content-length': '100' };
  t.match(decide({ contentLength: undefined, responseHeaders: fromHeader }), { reason: 'too_small' });
  t.equal(decide({ contentLength: undefined }).compress, true, 'unknown length: compressed');
});

t.test('SSE: compressed with flushes, or left alone when sse is false', async (t) => {
  const sse = { contentLength: undefined, responseHeaders: { 'content-type': 'text/event-stream' } };
  t.same(decide(sse), { compress: true, encoding: 'br', sse: true });
  t.same(decide(sse, { sse: false }), { compress: false, reason: 'sse_disabled', vary: false });
  t.same(decide(sse, { contentTypes: ['application/json'] }), { compress: true, encoding: 'br', sse: true });
  t.match(decide(sse, { sse: false, contentTypes: ['*/*'] }), { reason: 'sse_disabled' });
});

t.test('a client that accepts no offered coding gets identity, with Vary', async (t) => {
  for (const acceptEncoding of [undefined, '', 'deflate', 'identity', 'gzip;q=0', '*;q=0']) {
    t.same(
      decide({ requestHeaders: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }),
      { compress: false, reason: 'not_accepted', vary: true },
      String(acceptEncoding),
    );
  }
});

t.test('adjustHeaders: coding set, length and identity-only fields gone, Vary and ETag', async (t) => {
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': '5000',
    'accept-ranges': 'bytes',
    'content-digest': 'sha-256=:abc=:',
    etag: '"abc"',
  };
  adjustHeaders(headers, 'zstd');
  t.same(headers, {
    'content-type': 'application/json',
    'content-encoding': 'zstd',
    vary: 'accept-encoding',
    etag: 'W/"abc"',
  });
});

t.test('Vary merges without duplicates; * stays *', async (t) => {
  const vary = (value: OutgoingHttpHeaders[string]) => {
    const headers = (value === undefined ? {} : { vary: value }) as OutgoingHttpHeaders;
    adjustHeaders(headers, 'gzip');
    return headers['vary'];
  };
  t.equal(vary(undefined), 'accept-encoding');
  t.equal(vary('Origin'), 'Origin, accept-encoding');
  t.equal(vary('Origin, Accept-Encoding'), 'Origin, Accept-Encoding');
  t.equal(vary('origin,ACCEPT-ENCODING'), 'origin,ACCEPT-ENCODING', 'untouched when present');
  t.equal(vary(['Origin', 'Authorization']), 'Origin, Authorization, accept-encoding');
  t.equal(vary('*'), '*');
  t.equal(vary('Origin, *'), 'Origin, *');
  t.equal(vary(' , '), 'accept-encoding');
});

t.test('ETag: strong weakened, weak kept', async (t) => {
  const etag = (value: string) => {
    const headers: OutgoingHttpHeaders = { etag: value };
    adjustHeaders(headers, 'br');
    return headers['etag'];
  };
  t.equal(etag('"v1"'), 'W/"v1"');
  t.equal(etag('W/"v1"'), 'W/"v1"');
});

t.test('applyDecision: Vary alone when negotiation decided identity, nothing otherwise', async (t) => {
  const notAccepted: OutgoingHttpHeaders = { 'content-length': '5000', etag: '"x"' };
  applyDecision(notAccepted, { compress: false, reason: 'not_accepted', vary: true });
  t.same(notAccepted, { 'content-length': '5000', etag: '"x"', vary: 'accept-encoding' });
  const tooSmall: OutgoingHttpHeaders = { 'content-length': '10' };
  applyDecision(tooSmall, { compress: false, reason: 'too_small', vary: false });
  t.same(tooSmall, { 'content-length': '10' });
  const compressed: OutgoingHttpHeaders = { 'content-length': '5000' };
  applyDecision(compressed, { compress: true, encoding: 'gzip', sse: false });
  t.same(compressed, { 'content-encoding': 'gzip', vary: 'accept-encoding' });
});

t.test('media types and settings validation', async (t) => {
  t.equal(mediaType(' Text/Plain ; charset=utf-8'), 'text/plain');
  t.equal(mediaType(undefined), '');
  t.equal(mediaType(['application/json', 'text/html']), 'application/json');
  const matches = contentTypeMatcher(['text/*', 'application/*+json', 'APPLICATION/JSON; charset=utf-8']);
  t.ok(matches('text/csv'));
  t.ok(matches('application/vnd.api+json'));
  t.ok(matches('application/json'));
  t.notOk(matches('application/xml'));
  t.notOk(matches('text'));
  t.notOk(matches(''));
  t.throws(() => contentTypeMatcher(['json']), /type\/subtype/);
  t.throws(() => resolveCompressionSettings({ minBytes: -1 }), /minBytes/);
  t.throws(() => resolveCompressionSettings({ encodings: ['gzip', 'gzip'] }), /duplicates/);
  t.throws(() => resolveCompressionSettings({ encodings: ['deflate' as 'gzip'] }), /encodings/);
  t.throws(() => resolveCompressionSettings({ levels: { gzip: 10, br: 4, zstd: 3 } }), /gzip level/);
  t.throws(() => resolveCompressionSettings({ requestEncodings: ['lzma' as 'gzip'] }), /requestEncodings/);
  t.equal(resolveCompressionSettings({ levels: { gzip: 9, br: 11, zstd: 22 } }).levels.zstd, 22);
});
