/**
 * `${VAR}`, `${VAR:-default}` and `$$` in config values. Interpolation runs on scalar values of the
 * parsed YAML document, never on the source text, so an environment value cannot add keys, lists or
 * anchors. Environment values are secrets until proven otherwise: messages name the variable, never
 * its value, and the key paths that received a value are recorded so later messages can do the same.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, type Scalar, type ScalarTag } from 'yaml';
import type { ConfigIssue } from './errors.ts';
import { type ConfigSource, formatKeyPath, type KeySegment } from './source.ts';

/** Key path (as formatted) → the variables its value was built from. */
export type InterpolatedPaths = ReadonlyMap<string, readonly string[]>;

export interface Interpolation {
  readonly issues: readonly ConfigIssue[];
  readonly interpolated: InterpolatedPaths;
}

class InterpolationError extends Error {}

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands one string. `${VAR:-default}` uses the default when VAR is unset or empty (as the shell
 * does); `${VAR}` with VAR unset is an error rather than a silent empty string.
 */
export function expandVariables(
  text: string,
  env: NodeJS.ProcessEnv,
): { readonly value: string; readonly variables: readonly string[] } {
  let value = '';
  const variables: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1 || dollar === text.length - 1) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      value += '$';
      i = dollar + 2;
    } else if (next === '{') {
      const close = text.indexOf('}', dollar);
      if (close === -1) throw new InterpolationError('unterminated "${" (write "$$" for a literal "$")');
      const reference = text.slice(dollar + 2, close);
      const separator = reference.indexOf(':-');
      const name = separator === -1 ? reference : reference.slice(0, separator);
      if (!variableName.test(name)) {
        throw new InterpolationError(
          `"\${${reference}}" is not a variable reference (names are letters, digits and _)`,
        );
      }
      const set = env[name];
      if (separator !== -1) value += set ? set : reference.slice(separator + 2);
      else if (set !== undefined) value += set;
      else
        throw new InterpolationError(
          `environment variable ${name} is not set (give a default with \${${name}:-...})`,
        );
      variables.push(name);
      i = close + 1;
    } else {
      // A lone `$` (e.g. in a regex such as `/v1/$`) stays as written.
      value += '$';
      i = dollar + 1;
    }
  }
  return { value, variables };
}

/** Types an expanded plain scalar as YAML would have typed the same text written in place. */
function retypePlain(text: string, tags: readonly unknown[]): unknown {
  // YAML reads an empty plain scalar as null, but `${VAR:-}` is documented as the empty string.
  if (text === '') return '';
  for (const tag of tags as readonly Partial<ScalarTag>[]) {
    if (tag.default === true && tag.test?.test(text) && tag.resolve) {
      let failed = false;
      const resolved = tag.resolve(
        text,
        () => {
          failed = true;
        },
        {},
      );
      // Some tags (bool) resolve to a Scalar node rather than a plain value.
      if (!failed) return isScalar(resolved) ? resolved.value : resolved;
    }
  }
  return text;
}

export function interpolateDocument(source: ConfigSource, env: NodeJS.ProcessEnv): Interpolation {
  const issues: ConfigIssue[] = [];
  const interpolated = new Map<string, readonly string[]>();
  const variablesOf = new WeakMap<Scalar, readonly string[]>();
  const tags = source.doc.schema.tags;
  // Alias targets are walked again (to record the key paths that reuse an interpolated value); this
  // guards against anchors that contain their own alias.
  const walking = new Set<Node>();

  const visitScalar = (node: Scalar, path: readonly KeySegment[], aliased: boolean) => {
    const known = variablesOf.get(node);
    if (known) interpolated.set(formatKeyPath(path), known);
    if (aliased || known || typeof node.value !== 'string' || !node.value.includes('$')) return;
    try {
      const { value, variables } = expandVariables(node.value, env);
      if (variables.length === 0) {
        node.value = value;
        return;
      }
      // An explicit tag (`!!str ${PORT}`) already says what the value is.
      node.value = node.type === 'PLAIN' && !node.tag ? retypePlain(value, tags) : value;
      variablesOf.set(node, variables);
      interpolated.set(formatKeyPath(path), variables);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      issues.push(source.valueIssue(path, error.message));
    }
  };

  const walk = (node: unknown, path: readonly KeySegment[], aliased: boolean): void => {
    if (isAlias(node)) {
      walk(node.resolve(source.doc), path, true);
    } else if (isScalar(node)) {
      visitScalar(node, path, aliased);
    } else if ((isMap(node) || isSeq(node)) && !walking.has(node)) {
      walking.add(node);
      if (isMap(node)) {
        for (const pair of node.items) {
          walk(pair.value, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)], aliased);
        }
      } else {
        for (const [index, item] of node.items.entries()) walk(item, [...path, index], aliased);
      }
      walking.delete(node);
    }
  };

  walk(source.doc.contents, [], false);
  return { issues, interpolated };
}

/**
 * How a message may show a value: quoted when it was written in the file, by variable name when it
 * came from the environment.
 */
export function describeValue(interpolated: InterpolatedPaths, keyPath: string, value: unknown): string {
  const variables = interpolated.get(keyPath);
  if (variables) return `the value from ${variables.map((name) => `\${${name}}`).join(', ')}`;
  return JSON.stringify(value);
}
