/**
 * Config errors that name the file, line, column and key path of every problem at once, so an
 * operator fixes a file in one pass instead of one error per run.
 */

export interface ConfigIssue {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
  /** Like `routes[1].match.path_prefix`; empty when the problem has no key (a YAML syntax error at the top). */
  readonly keyPath: string;
  readonly message: string;
}

/** `file:line:col: keyPath: message` — the shape editors and CI logs turn into clickable links. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.keyPath ? `${where}: ${issue.keyPath}: ${issue.message}` : `${where}: ${issue.message}`;
}

export function compareIssues(a: ConfigIssue, b: ConfigIssue): number {
  return a.line - b.line || a.col - b.col || a.keyPath.localeCompare(b.keyPath);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const sorted = [...issues].sort(compareIssues);
    super(sorted.map(formatIssue).join('\n'));
    this.issues = Object.freeze(sorted);
  }
}
