/**
 * PromQL as the lints see it: parsed with Prometheus' own lezer grammar (the one its web UI uses),
 * then read back for the metric names each selector pins and the function each range feeds.
 * The grammar checks syntax, not types (`rate(foo)` parses), which is why counters are checked
 * separately: a counter read without rate() is the type error that matters here.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { metricCatalog } from '../telemetry/catalog.ts';

type PromTree = ReturnType<typeof parser.parse>;
export type PromNode = PromTree['topNode'];

export interface ParsedQuery {
  readonly text: string;
  readonly tree: PromTree;
}

/**
 * How a series may be read. `counter` covers histogram buckets, sums and counts too: they only grow
 * (and reset on restart), so their raw value means nothing without rate(), irate() or increase().
 */
export type SeriesKind = 'counter' | 'gauge' | 'recorded';

/** Series name → kind, for every name an expression may select. */
export type KnownSeries = ReadonlyMap<string, SeriesKind>;

export function parseQuery(text: string): ParsedQuery {
  return { text, tree: parser.parse(text) };
}

export function textOf(query: ParsedQuery, node: PromNode): string {
  return query.text.slice(node.from, node.to);
}

export function nodesNamed(query: ParsedQuery, name: string): PromNode[] {
  const found: PromNode[] = [];
  query.tree.iterate({
    enter(ref) {
      if (ref.name === name) found.push(ref.node);
    },
  });
  return found;
}

/** Where the grammar gave up first; later errors are mostly its recovery tripping over the first. */
export function syntaxError(query: ParsedQuery): string | undefined {
  if (query.text.trim() === '') return 'the expression is empty';
  let at: number | undefined;
  query.tree.iterate({
    enter(ref) {
      if (at !== undefined) return false;
      if (ref.type.isError) at = ref.from;
      return undefined;
    },
  });
  if (at === undefined) return undefined;
  const before = query.text.slice(0, at).split('\n');
  const near = query.text.slice(at, at + 20).split('\n')[0] || 'the end';
  return `does not parse: line ${before.length}, column ${before.at(-1)!.length + 1}, near "${near}"`;
}

/** Every series the metric catalog exports, a histogram as its three series. */
export function catalogSeries(): Map<string, SeriesKind> {
  const known = new Map<string, SeriesKind>();
  for (const spec of Object.values(metricCatalog)) {
    if (spec.type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) known.set(spec.name + suffix, 'counter');
    } else {
      known.set(spec.name, spec.type);
    }
  }
  return known;
}

/** The catalog's series plus the names recording rules write. */
export function knownSeries(recorded: Iterable<string>): KnownSeries {
  const known = catalogSeries();
  for (const name of recorded) known.set(name, 'recorded');
  return known;
}

export interface MetricSelector {
  /** The VectorSelector node. */
  readonly node: PromNode;
  /** Names it pins: the identifier before `{`, a `__name__="…"` matcher, a bare quoted `{"name"}`. */
  readonly names: readonly string[];
  /** `__name__` matched by a regex or a negation: which series it reads cannot be known. */
  readonly namePattern: boolean;
}

function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  return literal.startsWith('`') ? body : body.replace(/\\(.)/g, '$1');
}

/** A matcher's label name, quoted (`{"__name__"="x"}`) or not. */
function labelOf(query: ParsedQuery, matcher: PromNode): string {
  const plain = matcher.getChild('LabelName');
  if (plain) return textOf(query, plain);
  const quoted = matcher.getChild('QuotedLabelName')?.getChild('StringLiteral');
  return quoted ? unquote(textOf(query, quoted)) : '';
}

function readSelector(query: ParsedQuery, node: PromNode): MetricSelector {
  const names: string[] = [];
  let namePattern = false;
  const identifier = node.getChild('Identifier');
  if (identifier) names.push(textOf(query, identifier));
  const matchers = node.getChild('LabelMatchers');
  // A quoted name standing alone in the braces is the metric name (Prometheus 3's UTF-8 names).
  for (const quoted of matchers?.getChildren('QuotedLabelName') ?? []) {
    const literal = quoted.getChild('StringLiteral');
    if (literal) names.push(unquote(textOf(query, literal)));
  }
  const labelMatchers = [
    ...(matchers?.getChildren('UnquotedLabelMatcher') ?? []),
    ...(matchers?.getChildren('QuotedLabelMatcher') ?? []),
  ];
  for (const matcher of labelMatchers) {
    if (labelOf(query, matcher) !== '__name__') continue;
    const value = matcher.getChild('StringLiteral');
    if (matcher.getChild('MatchOp')?.getChild('EqlSingle') && value) {
      names.push(unquote(textOf(query, value)));
    } else {
      namePattern = true;
    }
  }
  return { node, names, namePattern };
}

export function metricSelectors(query: ParsedQuery): MetricSelector[] {
  return nodesNamed(query, 'VectorSelector').map((node) => readSelector(query, node));
}

/** Every metric name an expression pins, in order of appearance (for tests and messages). */
export function metricNames(text: string): string[] {
  return metricSelectors(parseQuery(text)).flatMap((selector) => selector.names);
}

/** Range modifiers sit between a range and the function reading it: `rate(x[5m] offset 1h)`. */
const rangeModifiers = new Set(['OffsetExpr', 'StepInvariantExpr']);

/** The function a range selector is a direct argument of (`rate` in `rate(x[5m])`), if any. */
export function rangeFunction(query: ParsedQuery, matrix: PromNode): string | undefined {
  let node = matrix.parent;
  while (node && rangeModifiers.has(node.name)) node = node.parent;
  if (node?.name !== 'FunctionCallBody' || node.parent?.name !== 'FunctionCall') return undefined;
  const identifier = node.parent.getChild('FunctionIdentifier');
  return identifier ? textOf(query, identifier) : undefined;
}

/** The functions that turn an ever-growing series into something readable. */
const counterReaders = new Set(['rate', 'irate', 'increase']);

function readThroughRate(query: ParsedQuery, selector: PromNode): boolean {
  const matrix = selector.parent;
  if (matrix?.name !== 'MatrixSelector') return false;
  return counterReaders.has(rangeFunction(query, matrix) ?? '');
}

/** Names that are neither cataloged nor recorded, selectors that name nothing checkable. */
function nameProblems(selector: MetricSelector, known: KnownSeries): string[] {
  const problems: string[] = [];
  if (selector.namePattern) problems.push('selects metrics by a __name__ pattern, which cannot be checked');
  else if (selector.names.length === 0) problems.push('has a selector without a metric name');
  for (const name of selector.names) {
    if (!known.has(name)) problems.push(`reads ${name}, which is neither in the metric catalog nor recorded`);
  }
  return problems;
}

/** Counters, histogram buckets, sums and counts read as raw values. */
function counterProblems(query: ParsedQuery, selector: MetricSelector, known: KnownSeries): string[] {
  if (readThroughRate(query, selector.node)) return [];
  return selector.names
    .filter((name) => known.get(name) === 'counter')
    .map((name) => `reads counter ${name} outside rate(), irate() or increase()`);
}

function problemsOf(query: ParsedQuery, known: KnownSeries, readsValues: boolean): string[] {
  const error = syntaxError(query);
  const problems =
    error !== undefined
      ? [error]
      : metricSelectors(query).flatMap((selector) => [
          ...nameProblems(selector, known),
          ...(readsValues ? counterProblems(query, selector, known) : []),
        ]);
  return [...new Set(problems)].map((problem) => `${problem}: ${oneLine(query.text)}`);
}

/**
 * Every problem of one expression: a syntax error alone (the tree after one says little), or else
 * its unknown names and raw counter reads. Messages name the expression so they stand alone.
 */
export function checkQuery(query: ParsedQuery, known: KnownSeries): string[] {
  return problemsOf(query, known, true);
}

/** Syntax and names only, for selectors that list series rather than read values (`label_values(…)`). */
export function checkNames(query: ParsedQuery, known: KnownSeries): string[] {
  return problemsOf(query, known, false);
}

/** An expression on one line, for a message. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
