/**
 * Loading a config file: YAML → environment interpolation → JSON Schema (with defaults) → rules the
 * schema cannot say → a deep-frozen effective config. Every problem found on the way is collected
 * with its position, and all of them are thrown together as one ConfigError.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { checkSemantics } from './checks.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { type DeepReadonly, deepFreeze } from './freeze.ts';
import { type InterpolatedPaths, interpolateDocument } from './interpolate.ts';
import { validateAgainstSchema } from './schema-validation.ts';
import { ConfigSource } from './source.ts';
import { checkTlsFiles, resolveTlsFiles } from './tls-files.ts';
import type { SluiceConfig } from './types.generated.ts';

export type { DeepReadonly } from './freeze.ts';

export interface LoadedConfig {
  readonly config: DeepReadonly<SluiceConfig>;
  readonly file: string;
}

interface Analysis {
  readonly data: unknown;
  readonly source: ConfigSource;
  readonly interpolated: InterpolatedPaths;
  readonly issues: ConfigIssue[];
}

/**
 * Adds a later phase's issues, except where an earlier phase already reported the same key: a
 * variable that failed to expand is also "not an integer", but saying so would only add noise.
 */
function addPhase(issues: ConfigIssue[], phase: readonly ConfigIssue[]): void {
  const reported = new Set(issues.map((issue) => issue.keyPath));
  for (const issue of phase) if (!reported.has(issue.keyPath)) issues.push(issue);
}

/** The parser's messages, where they speak to the parser's caller rather than to whoever edits the file. */
const plainMessages: Partial<Record<YAMLError['code'], string>> = {
  DUPLICATE_KEY: 'duplicate key (each key may appear once)',
  MULTIPLE_DOCS: 'more than one YAML document (a second "---"); a config file is one document',
};

function syntaxIssues(source: ConfigSource, problems: readonly YAMLError[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<number>();
  for (const problem of problems) {
    const offset = problem.pos[0];
    // The yaml parser often reports one broken spot twice (e.g. for a flow map and a flow list).
    if (seen.has(offset)) continue;
    seen.add(offset);
    issues.push(
      source.issueAt(offset, source.pathAt(offset), plainMessages[problem.code] ?? problem.message),
    );
  }
  return issues;
}

function analyse(text: string, file: string, env: NodeJS.ProcessEnv): Analysis {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new ConfigSource(file, doc, lines);
  const none = new Map<string, readonly string[]>();
  // Warnings (an unknown !tag, say) are errors here: a config that means something else than it says is worse than none.
  const broken = syntaxIssues(source, [...doc.errors, ...doc.warnings]);
  if (broken.length > 0) return { data: undefined, source, interpolated: none, issues: broken };
  if (doc.contents === null) {
    const message = 'the file is empty; a config needs at least `upstreams` and `routes`';
    return { data: undefined, source, interpolated: none, issues: [source.issueAt(0, [], message)] };
  }

  const { issues: interpolationIssues, interpolated } = interpolateDocument(source, env);
  const issues = [...interpolationIssues];
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // Only alias bombs (too many aliases) get here; the parser has accepted everything else.
    issues.push(source.issueAt(0, [], (error as Error).message));
    return { data: undefined, source, interpolated, issues };
  }
  addPhase(issues, validateAgainstSchema(data, source, interpolated));
  addPhase(issues, checkSemantics(data, source, interpolated));
  resolveTlsFiles(data, file);
  return { data, source, interpolated, issues };
}

function effective(data: unknown, file: string): LoadedConfig {
  return Object.freeze({ config: deepFreeze(data as SluiceConfig), file });
}

/**
 * Parses and validates config text. Does not touch the file system: TLS files are not checked
 * (loadConfig does), though relative TLS paths are still resolved against `file`'s directory.
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { data, issues } = analyse(text, file, env);
  if (issues.length > 0) throw new ConfigError(issues);
  return effective(data, file);
}

/**
 * Reads, parses and validates a config file, and checks the files it names. Throws ConfigError for
 * anything wrong in the file, a plain Error when the file itself cannot be read.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read config file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const { data, source, interpolated, issues } = analyse(text, file, env);
  if (data !== undefined) addPhase(issues, await checkTlsFiles(data, source, interpolated));
  if (issues.length > 0) throw new ConfigError(issues);
  return effective(data, file);
}
