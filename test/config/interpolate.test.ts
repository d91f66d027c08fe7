// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the config syntax under test.
import t from 'tap';
import { ConfigError } from '../../src/config/errors.ts';
import { expandVariables } from '../../src/config/interpolate.ts';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf, minimal } from './helpers.ts';

const secret = 'sk-live-DO-NOT-PRINT-4242';

t.test('expandVariables: set, default, empty default, $$ and lone $', async (t) => {
  const env = { HOST: 'api.example.com', EMPTY: '' };
  t.same(expandVariables('https://${HOST}/v1', env), {
    value: 'https://api.example.com/v1',
    variables: ['HOST'],
  });
  t.equal(expandVariables('${MISSING:-fallback}', env).value, 'fallback');
  t.equal(
    expandVariables('${EMPTY:-fallback}', env).value,
    'fallback',
    'empty counts as unset with :- (as in sh)',
  );
  t.equal(expandVariables('${EMPTY}', env).value, '', 'set to empty without a default is empty');
  t.equal(expandVariables('${MISSING:-}', env).value, '');
  t.equal(
    expandVariables('${MISSING:-a:-b}', env).value,
    'a:-b',
    'the default is everything after the first :-',
  );
  t.same(expandVariables('cost: $$5 and $${HOST}', env), { value: 'cost: $5 and ${HOST}', variables: [] });
  t.equal(expandVariables('^/v1/.*$', env).value, '^/v1/.*$', 'a lone $ stays');
  t.throws(() => expandVariables('${MISSING}', env), /environment variable MISSING is not set/);
  t.throws(() => expandVariables('${HOST', env), /unterminated "\$\{"/);
  t.throws(() => expandVariables('${1X}', env), /"\$\{1X\}" is not a variable reference/);
});

t.test('plain scalars are re-typed after interpolation; quoted ones stay strings', async (t) => {
  const text = `${minimal}listener:\n  port: \${PORT:-8080}\n  server_timing: \${TIMING}\n  host: "\${PORT}"\n`;
  const { config } = parseConfig(text, 'a.yaml', { TIMING: 'false', PORT: '9001' });
  t.equal(config.listener.port, 9001);
  t.equal(config.listener.server_timing, false);
  t.equal(config.listener.host, '9001', 'quoted stays a string');
  const tagged = `${minimal}admin:\n  token: !!str \${TOKEN}\n`;
  t.equal(
    parseConfig(tagged, 'a.yaml', { TOKEN: '12345' }).config.admin.token,
    '12345',
    'an explicit !!str stays a string',
  );
  const untagged = `${minimal}admin:\n  token: \${TOKEN}\n`;
  t.match(issuesOf(untagged, { TOKEN: '12345' }).map(brief), [
    '8:10 admin.token: must be a string, got a number (quote it to keep it a string)',
  ]);
  t.equal(
    parseConfig(text.replace('"${PORT}"', '"${PORT:-x}"'), 'a.yaml', { TIMING: 'true' }).config.listener.port,
    8080,
    'the default is re-typed too',
  );
});

t.test('an environment value cannot inject YAML structure', async (t) => {
  const text = `${minimal}listener:\n  host: \${HOST}\n`;
  const { config } = parseConfig(text, 'a.yaml', { HOST: 'x\nadmin: { host: 0.0.0.0 }' });
  t.equal(config.listener.host, 'x\nadmin: { host: 0.0.0.0 }');
  t.equal(config.admin.host, '127.0.0.1');
  t.equal(parseConfig(text, 'a.yaml', { HOST: '[1, 2]' }).config.listener.host, '[1, 2]');
});

t.test('${VAR:-} is the empty string, even in a plain scalar', async (t) => {
  const text = minimal.replace(
    'url: http://127.0.0.1:9000',
    'url: http://127.0.0.1:9000\n    api_key: ${KEY:-}',
  );
  t.equal(parseConfig(text, 'a.yaml', {}).config.upstreams['main']?.api_key, '');
  t.equal(parseConfig(text, 'a.yaml', { KEY: secret }).config.upstreams['main']?.api_key, secret);
});

t.test('an unset variable is an error naming the variable and its position', async (t) => {
  const text = `${minimal}listener:\n  port: \${SLUICE_PORT}\n`;
  t.same(issuesOf(text).map(brief), [
    '8:9 listener.port: environment variable SLUICE_PORT is not set (give a default with ${SLUICE_PORT:-...})',
  ]);
});

t.test('values from the environment never appear in messages', async (t) => {
  const text = [
    'upstreams:',
    '  main:',
    '    url: ${URL}', //                          3
    '    api_key_header: ${KEY}', //               4
    'listener:',
    '  port: ${KEY}', //                           6
    'admin:',
    '  host: ${KEY}', //                           8
    'routes:',
    '  - name: r',
    '    upstream: ${KEY}', //                     11
    '    match: { path_regex: "${KEY}(" }', //     12
    '',
  ].join('\n');
  const error = t.throws(() =>
    parseConfig(text, 'a.yaml', { KEY: secret, URL: `https://${secret}?x` }),
  ) as ConfigError;
  t.type(error, ConfigError);
  t.notMatch(error.message, 'DO-NOT-PRINT');
  t.same(error.issues.map(brief), [
    '3:10 upstreams.main.url: must not have a query or fragment (it is a base URL for paths)',
    '4:21 upstreams.main.api_key_header: must be one of: authorization, x-api-key, api-key, got the value from ${KEY}',
    '6:9 listener.port: must be an integer, got a string',
    '8:9 admin.host: the value from ${KEY} is not a loopback address, so admin.token must be set (or /admin/* would be open to the network)',
    '11:15 routes[0].upstream: unknown upstream the value from ${KEY}; upstreams are: main',
    '12:26 routes[0].match.path_regex: must be a valid regular expression (Unterminated group)',
  ]);
  const aliased = `${minimal}listener:\n  host: &h \${KEY}\nadmin:\n  host: *h\n`;
  const viaAlias = t.throws(() => parseConfig(aliased, 'a.yaml', { KEY: secret })) as ConfigError;
  t.notMatch(viaAlias.message, 'DO-NOT-PRINT', 'a value reused through an alias is still hidden');
  t.match(viaAlias.message, 'admin.host: the value from ${KEY}');
});
