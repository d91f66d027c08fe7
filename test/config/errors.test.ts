import t from 'tap';
import { ConfigError, formatIssue } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf, minimal } from './helpers.ts';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

t.test('ConfigError lists every issue as file:line:col: keyPath: message, sorted by position', async (t) => {
  const text = lines(
    'listener:', //                         1
    '  port: -1', //                        2
    '  hots: x', //                         3
    'upstreams:', //                        4
    '  main: { url: http://x }', //         5
    'routes:', //                           6
    '  - { name: r, upstream: main }', //   7
  );
  const error = t.throws(() => parseConfig(text, 'conf/app.yaml', {})) as ConfigError;
  t.type(error, ConfigError);
  t.equal(
    error.message,
    [
      'conf/app.yaml:2:9: listener.port: must be an integer between 0 and 65535, got -1',
      'conf/app.yaml:3:3: listener.hots: unknown key "hots" (did you mean "host"?)',
    ].join('\n'),
  );
  t.same(error.issues.map(formatIssue), error.message.split('\n'));
  t.match(error.issues[0], { file: 'conf/app.yaml', line: 2, col: 9, keyPath: 'listener.port' });
});

t.test('unknown keys point at the key and suggest only close names', async (t) => {
  const issues = issuesOf(
    lines(
      'upstreams:',
      '  main: { url: http://x }',
      'routes:',
      '  - name: r',
      '    upstream: main',
      '    match:',
      '      pathprefix: /v1/', //  line 7
      '      flavour: x', //        line 8
    ),
  );
  t.same(issues.map(brief), [
    '7:7 routes[0].match.pathprefix: unknown key "pathprefix" (did you mean "path_prefix"?)',
    '8:7 routes[0].match.flavour: unknown key "flavour"',
  ]);
});

t.test('a missing required key points at the map that lacks it', async (t) => {
  const issues = issuesOf(
    lines(
      'upstreams:',
      '  main:',
      '    api_key: x',
      'routes:',
      '  - name: r',
      '    upstream: main',
      '  - upstream: main',
    ),
  );
  t.same(issues.map(brief), [
    '2:3 upstreams.main: needs url (one backend) or targets (several)',
    '7:5 routes[1]: missing required key "name"',
  ]);
  t.same(issuesOf('routes: []\n').map(brief), [
    '1:1 : missing required key "upstreams"',
    '1:9 routes: must have at least 1 item',
  ]);
});

t.test('wrong types, bounds, enums and patterns point at the value', async (t) => {
  const issues = issuesOf(
    lines(
      'listener:',
      '  port: "8080"', //                                   2
      'upstreams:',
      '  main:',
      '    url: ftp://example.com', //                       5
      '    api_key_header: x-api-kee', //                    6
      '    pool: { connections: 0 }', //                     7
      'routes:',
      '  - name: Chat', //                                   9
      '    upstream: main',
      '    protocol: opena1', //                             11
      '    match: { methods: [GET, get, GET], path_regex: "v1/(" }', // 12
    ),
  );
  t.same(issues.map(brief), [
    '2:9 listener.port: must be an integer, got a string',
    '5:10 upstreams.main.url: must be an http:// or https:// URL, or mock://local for the built-in mock backend, got "ftp://example.com"',
    '6:21 upstreams.main.api_key_header: must be one of: authorization, x-api-key, api-key, got "x-api-kee" (did you mean "x-api-key"?)',
    '7:26 upstreams.main.pool.connections: must be an integer ≥ 1, got 0',
    '9:11 routes[0].name: must be 1 to 63 lower-case letters, digits, "_" or "-", starting with a letter or digit, got "Chat"',
    '11:15 routes[0].protocol: must be one of: openai, anthropic, passthrough, got "opena1" (did you mean "openai"?)',
    '12:29 routes[0].match.methods[1]: must be an upper-case HTTP method such as GET or POST, got "get"',
    '12:34 routes[0].match.methods[2]: must not repeat an earlier item (same as [0])',
    '12:52 routes[0].match.path_regex: must be a valid regular expression (Unterminated group)',
  ]);
});

t.test('invalid map keys (upstream names, header names) point at the key', async (t) => {
  const issues = issuesOf(
    lines(
      'upstreams:',
      '  Main:',
      '    url: http://x',
      '    headers: { "bad header": x }',
      'routes:',
      '  - { name: r, upstream: Main }',
    ),
  );
  t.same(issues.map(brief), [
    '2:3 upstreams.Main: invalid name: must be 1 to 63 lower-case letters, digits, "_" or "-", starting with a letter or digit',
    '4:16 upstreams.Main.headers["bad header"]: invalid name: must be a valid HTTP header name',
  ]);
});

t.test('YAML syntax errors and duplicate keys give their position', async (t) => {
  t.same(issuesOf(lines('upstreams:', '  main:', '    url: http://x', '    url: http://y')).map(brief), [
    '4:5 upstreams.main.url: duplicate key (each key may appear once)',
  ]);
  const [unclosed] = issuesOf(lines('routes: [', 'upstreams: {}'));
  t.match(unclosed, { line: 2, col: 1 });
  const [badIndent] = issuesOf(lines('listener:', '  port: 1', ' host: x'));
  t.match(badIndent, { line: 3, col: 1 });
  t.same(issuesOf(lines('a: 1', '---', 'b: 2')).map(brief), [
    '2:1 : more than one YAML document (a second "---"); a config file is one document',
  ]);
  t.same(issuesOf('# only a comment\n').map(brief), [
    '1:1 : the file is empty; a config needs at least `upstreams` and `routes`',
  ]);
  t.same(issuesOf(lines('upstreams: !secret x')).map(brief), ['1:12 upstreams: Unresolved tag: !secret']);
});

t.test('routes must name an existing upstream', async (t) => {
  const text = lines(
    'upstreams:',
    '  openai: { url: http://x }',
    '  local: { url: http://y }',
    'routes:',
    '  - name: a',
    '    upstream: opnai',
    '  - name: b',
    '    upstream: zzz',
  );
  t.same(issuesOf(text).map(brief), [
    '6:15 routes[0].upstream: unknown upstream "opnai" (did you mean "openai"?); upstreams are: openai, local',
    '8:15 routes[1].upstream: unknown upstream "zzz"; upstreams are: openai, local',
  ]);
});

t.test('route names must be unique', async (t) => {
  const text = `${minimal}  - name: other\n    upstream: main\n  - name: all\n    upstream: main\n`;
  t.same(issuesOf(text).map(brief), [
    '9:11 routes[2].name: duplicate route name "all" (also routes[0].name)',
  ]);
});

t.test('an admin listener off loopback needs a token', async (t) => {
  const withAdmin = (admin: string) => `${minimal}admin: ${admin}\n`;
  t.same(issuesOf(withAdmin('{ host: 0.0.0.0 }')).map(brief), [
    '7:16 admin.host: "0.0.0.0" is not a loopback address, so admin.token must be set (or /admin/* would be open to the network)',
  ]);
  t.equal(issuesOf(withAdmin('{ host: "::", token: "  " }')).length, 1, 'a blank token is no token');
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
    t.doesNotThrow(() => parseConfig(withAdmin(`{ host: "${host}" }`), 'a.yaml', {}), `${host} is loopback`);
  }
  t.doesNotThrow(() => parseConfig(withAdmin('{ host: 10.0.0.5, token: t0ken }'), 'a.yaml', {}));
  t.doesNotThrow(() => parseConfig(withAdmin('{ host: 0.0.0.0, enabled: false }'), 'a.yaml', {}));
});

t.test('upstream URLs must parse and be a base URL; mutual TLS takes both files', async (t) => {
  const text = lines(
    'upstreams:',
    '  a: { url: "http://[::1" }',
    '  b: { url: "https://x/v1?k=1" }',
    '  c:',
    '    url: https://x',
    '    tls: { key_file: k.pem }',
    'routes:',
    '  - { name: r, upstream: a }',
  );
  t.same(issuesOf(text).map(brief), [
    '2:13 upstreams.a.url: "http://[::1" is not a valid URL',
    '3:13 upstreams.b.url: must not have a query or fragment (it is a base URL for paths)',
    '6:12 upstreams.c.tls.key_file: needs cert_file as well (mutual TLS takes both)',
  ]);
});

t.test('path_prefix and path_regex may be combined (both must match)', async (t) => {
  const text = `${minimal}    match: { path_prefix: /v1/, path_regex: "^/v1/(chat|embeddings)" }\n`;
  const { config } = parseConfig(text, 'a.yaml', {});
  t.match(config.routes[0]?.match, { path_prefix: '/v1/', path_regex: '^/v1/(chat|embeddings)' });
});

t.test('ensure_stream_usage is for openai routes; prices must be complete and not negative', async (t) => {
  const text = lines(
    'upstreams:',
    '  main:',
    '    url: http://x',
    '    prices: [{ model: "m*", input: 1 }]', //                  4
    'routes:',
    '  - name: a',
    '    upstream: main',
    '    protocol: anthropic',
    '    ensure_stream_usage: true', //                           9
    'llm:',
    '  prices:',
    '    - { model: "gpt-*", input: -1, output: 2 }', //          12
  );
  t.same(issuesOf(text).map(brief), [
    '4:14 upstreams.main.prices[0]: missing required key "output"',
    '9:5 routes[0].ensure_stream_usage: applies to protocol: openai routes only (stream_options.include_usage is an OpenAI field)',
    '12:32 llm.prices[0].input: must be a number ≥ 0, got -1',
  ]);
});
