/**
 * Content-Type matching for the compression allow-list. Patterns are media types where `*` stands
 * for any run of characters within one part: `text/*`, `application/json`, `application/*+json`,
 * `*\/*`. Parameters (`; charset=utf-8`) and case never matter, on either side.
 */

/** The media type of a Content-Type value, lower case, without parameters; '' when absent. */
export function mediaType(contentType: string | readonly string[] | number | undefined): string {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  if (typeof value !== 'string') return '';
  const semicolon = value.indexOf(';');
  return (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

const PATTERN = /^[a-z0-9!#$&^_.+*-]+\/[a-z0-9!#$&^_.+*-]+$/;

function compile(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+^$|\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${source}$`);
}

/**
 * A matcher for `patterns`, compiled once per config generation. Exact types are a Set lookup; only
 * patterns with `*` cost a regular expression test. Throws on a pattern that is not `type/subtype`.
 */
export function contentTypeMatcher(patterns: readonly string[]): (mediaType: string) => boolean {
  const exact = new Set<string>();
  const wildcards: RegExp[] = [];
  for (const raw of patterns) {
    const pattern = mediaType(raw);
    if (!PATTERN.test(pattern))
      throw new RangeError(`contentTypes must be type/subtype patterns, got ${raw}`);
    if (pattern.includes('*')) wildcards.push(compile(pattern));
    else exact.add(pattern);
  }
  return (type) => type !== '' && (exact.has(type) || wildcards.some((wildcard) => wildcard.test(type)));
}
