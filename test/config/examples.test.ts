/**
 * Every config in config/examples/ loads with the real loader (YAML, interpolation, schema, the
 * semantic checks, TLS files), given a value for each environment variable it reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/config/errors.ts';
import { loadConfig } from '../../src/config/load.ts';

const dir = new URL('../../config/examples/', import.meta.url).pathname;
const files = readdirSync(dir)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

/**
 * A fake value for every `${VAR}` without a default the file reads outside comments; `${VAR:-…}`
 * keeps its default, which may need to be a number.
 */
function fakeEnv(text: string): NodeJS.ProcessEnv {
  const code = text.replace(/^\s*#.*$/gm, '');
  const names = [...code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!);
  return Object.fromEntries(names.map((name) => [name, `test-${name.toLowerCase()}`]));
}

t.ok(files.length > 0, 'config/examples/ has examples');

for (const name of files) {
  t.test(name, async (t) => {
    const file = join(dir, name);
    const env = fakeEnv(readFileSync(file, 'utf8'));
    try {
      const { config } = await loadConfig(file, env);
      t.ok(config.routes.length > 0, 'has routes');
      for (const route of config.routes) {
        for (const upstream of [route.upstream, ...(route.failover ?? [])]) {
          t.ok(config.upstreams[upstream], `route ${route.name}: upstream ${upstream} exists`);
        }
      }
    } catch (error) {
      if (error instanceof ConfigError) t.fail(`${name} is invalid:\n${error.message}`);
      else throw error;
    }
  });
}

t.test('two-providers: the keys come from the environment, the model mapping is in place', async (t) => {
  const file = join(dir, 'two-providers.yaml');
  const { config } = await loadConfig(file, {
    OPENAI_API_KEY: 'sk-openai',
    AZURE_EASTUS_API_KEY: 'az-east',
    AZURE_SWEDEN_API_KEY: 'az-sweden',
  });
  t.equal(config.upstreams['openai']?.api_key, 'sk-openai');
  const targets = config.upstreams['azure']?.targets ?? [];
  t.same(
    targets.map((target) => [target.name, target.api_key, target.api_key_header, target.models['gpt-4o']]),
    [
      ['eastus', 'az-east', 'api-key', 'gpt-4o-eastus'],
      ['swedencentral', 'az-sweden', 'api-key', 'gpt-4o-sweden'],
    ],
  );
  t.same(
    config.routes.map((route) => [route.name, route.upstream, route.failover, route.hedge !== undefined]),
    [
      ['embeddings', 'azure', ['openai'], true],
      ['chat', 'openai', ['azure'], false],
    ],
  );
  await t.rejects(loadConfig(file, {}), ConfigError, 'an unset key is an error, not an empty credential');
});
