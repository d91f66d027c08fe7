/**
 * The model as a metric label, bounded. A model name is client input: used as is, 10,000 distinct
 * names would be 10,000 series per metric. A name keeps its own label only when it matches an
 * allow-list glob and fewer than `maxDistinct` names have been let through; anything else is
 * `other`, and a request without a model is `unknown`.
 *
 * Glob syntax (deliberately small, since model names are not paths): `*` matches any run of
 * characters including `/` and `:`, `?` matches one character, everything else is literal and
 * case-sensitive. `gpt-4o*` matches `gpt-4o` and `gpt-4o-mini-2024-07-18`;
 * `meta-llama/*` matches every model under that prefix.
 */

export const OTHER_MODEL = 'other';
export const UNKNOWN_MODEL = 'unknown';

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export class ModelLabeler {
  private readonly patterns: readonly RegExp[];
  private readonly maxDistinct: number;
  private readonly decided = new Map<string, string>();
  private admitted = 0;

  constructor(globs: readonly string[], maxDistinct = 200) {
    this.patterns = globs.map(globToRegExp);
    this.maxDistinct = maxDistinct;
  }

  label(model: string | undefined): string {
    if (model === undefined || model === '') return UNKNOWN_MODEL;
    const known = this.decided.get(model);
    if (known !== undefined) return known;
    const allowed = this.admitted < this.maxDistinct && this.patterns.some((p) => p.test(model));
    if (allowed) this.admitted++;
    const label = allowed ? model : OTHER_MODEL;
    // Remembering rejected names too would grow without bound; only admitted ones are kept, and
    // a bounded number of rejections so a repeated unknown name is not matched every time.
    if (allowed || this.decided.size < this.maxDistinct * 4) this.decided.set(model, label);
    return label;
  }
}
