/**
 * Validates the parsed config against the JSON Schema (filling in defaults) and turns each ajv
 * error into an issue an operator can act on: position, key path and a sentence, not a schema path.
 */
import { Ajv, type AnySchemaObject, type ErrorObject, type SchemaObject } from 'ajv';
import type { ConfigIssue } from './errors.ts';
import { describeValue, type InterpolatedPaths } from './interpolate.ts';
import { configSchema } from './schema.ts';
import { type ConfigSource, formatKeyPath, type KeySegment } from './source.ts';
import { didYouMean } from './suggest.ts';

function regexError(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (error) {
    // V8 puts the pattern itself in the message; keep only the reason, the value may be a secret.
    return (error as Error).message.split(': ').at(-1);
  }
}

// Compiled once: validation runs on every load and reload, compilation is the expensive part.
// `verbose` gives each error its parent schema (allowed keys, bounds) and the offending data.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
ajv.addFormat('regex', { type: 'string', validate: (value: string) => regexError(value) === undefined });
const validate = ajv.compile(configSchema as SchemaObject);

/** Patterns in the schema, said in words. Keys are the patterns exactly as schema.ts writes them. */
const patternRules: Readonly<Record<string, string>> = {
  '^/': 'must start with "/"',
  '^[a-z0-9][a-z0-9_-]{0,62}$':
    'must be 1 to 63 lower-case letters, digits, "_" or "-", starting with a letter or digit',
  '^(https?://[^\\s]+|mock://[a-z0-9-]*)$':
    'must be an http:// or https:// URL, or mock://local for the built-in mock backend',
  '^[A-Z]+$': 'must be an upper-case HTTP method such as GET or POST',
  '^[^\\r\\n\\u0000]*$': 'must not contain line breaks or NUL characters',
  "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$": 'must be a valid HTTP header name',
  '^[A-Za-z0-9-]+$': 'must be an HTTP header name of letters, digits and "-"',
  '^(credential|client_ip|route|model|header:[A-Za-z0-9-]+)$':
    'must be one of credential, client_ip, route, model or header:<name>',
  '^[a-z0-9][a-z0-9_-]{0,30}$':
    'must be 1 to 31 lower-case letters, digits, "_" or "-", starting with a letter or digit',
};

const typeNames: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map (key: value)',
  null: 'empty',
};

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'boolean') return 'true/false';
  return `a ${typeof value}`;
}

/** ajv instance paths are JSON pointers; list indices become numbers so they print as `[1]`. */
function segmentsOf(instancePath: string, data: unknown): KeySegment[] {
  const segments: KeySegment[] = [];
  let node = data;
  for (const raw of instancePath.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment = Array.isArray(node) ? Number(key) : key;
    segments.push(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return segments;
}

function bounds(schema: AnySchemaObject | undefined): string {
  const kind = schema?.['type'] === 'integer' ? 'an integer' : 'a number';
  const min = schema?.['minimum'];
  const max = schema?.['maximum'];
  if (min !== undefined && max !== undefined) return `must be ${kind} between ${min} and ${max}`;
  return min !== undefined ? `must be ${kind} ≥ ${min}` : `must be ${kind} ≤ ${max}`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function toIssue(
  error: ErrorObject,
  data: unknown,
  source: ConfigSource,
  interpolated: InterpolatedPaths,
): ConfigIssue | undefined {
  const path = segmentsOf(error.instancePath, data);
  const got = () => describeValue(interpolated, formatKeyPath(path), error.data);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return source.keyIssue(path, `missing required key "${String(params['missingProperty'])}"`);
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const allowed = Object.keys((error.parentSchema?.['properties'] as object | undefined) ?? {});
      return source.keyIssue([...path, key], `unknown key "${key}"${didYouMean(key, allowed)}`);
    }
    case 'propertyNames':
      return undefined; // Reported by the failing inner keyword, which carries `propertyName`.
    case 'type': {
      // `token: ${TOKEN}` with TOKEN=12345 reads as a number, as YAML would; quoting keeps a string.
      const quoteHint =
        params['type'] === 'string' && interpolated.has(formatKeyPath(path))
          ? ' (quote it to keep it a string)'
          : '';
      const expected = typeNames[String(params['type'])] ?? params['type'];
      return source.valueIssue(path, `must be ${expected}, got ${kindOf(error.data)}${quoteHint}`);
    }
    case 'minimum':
    case 'maximum':
      return source.valueIssue(path, `${bounds(error.parentSchema)}, got ${got()}`);
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const kind = error.parentSchema?.['type'] === 'integer' ? 'an integer' : 'a number';
      return source.valueIssue(
        path,
        `must be ${kind} ${String(params['comparison'])} ${String(params['limit'])}, got ${got()}`,
      );
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const hint =
        typeof error.data === 'string' && !interpolated.has(formatKeyPath(path))
          ? didYouMean(error.data, allowed)
          : '';
      return source.valueIssue(path, `must be one of: ${allowed.join(', ')}, got ${got()}${hint}`);
    }
    case 'pattern': {
      const rule =
        patternRules[String(params['pattern'])] ?? `must match the pattern /${String(params['pattern'])}/`;
      if (error.propertyName !== undefined)
        return source.keyIssue([...path, error.propertyName], `invalid name: ${rule}`);
      return source.valueIssue(path, `${rule}, got ${got()}`);
    }
    case 'format':
      return source.valueIssue(
        path,
        `must be a valid regular expression (${regexError(String(error.data))})`,
      );
    case 'minItems':
      return source.valueIssue(path, `must have at least ${plural(Number(params['limit']), 'item')}`);
    case 'minProperties':
      return source.valueIssue(
        path,
        `must have at least ${plural(Number(params['limit']), 'entry', 'entries')}`,
      );
    case 'uniqueItems': {
      const [first, repeat] = [Number(params['i']), Number(params['j'])].sort((a, b) => a - b);
      return source.valueIssue(
        [...path, repeat ?? 0],
        `must not repeat an earlier item (same as [${first}])`,
      );
    }
    default:
      return source.valueIssue(path, error.message ?? `fails the schema rule "${error.keyword}"`);
  }
}

/**
 * Validates `data` in place: ajv fills in every default, so after success `data` is the effective
 * config. A value of the wrong type also fails its other rules; only the type is reported then.
 */
export function validateAgainstSchema(
  data: unknown,
  source: ConfigSource,
  interpolated: InterpolatedPaths,
): ConfigIssue[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const issues: ConfigIssue[] = [];
  for (const error of errors) {
    if (error.keyword !== 'type' && wrongType.has(error.instancePath) && error.propertyName === undefined)
      continue;
    const issue = toIssue(error, data, source, interpolated);
    if (issue) issues.push(issue);
  }
  return issues;
}
