/**
 * Maps key paths to positions in the YAML source and back, so every issue can name the line and
 * column an operator has to edit. Positions come from the yaml package's node ranges.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from './errors.ts';

/** A map key or a list index. */
export type KeySegment = string | number;

const plainKey = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `routes[1].match.path_prefix`; keys that are not identifier-like are quoted: `headers["x.y"]`. */
export function formatKeyPath(segments: readonly KeySegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (plainKey.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

function start(node: unknown): number | undefined {
  return node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)
    ? (node.range[0] as number)
    : undefined;
}

function end(node: unknown): number | undefined {
  return node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)
    ? Math.max(node.range[1] as number, node.range[2] as number)
    : undefined;
}

function contains(node: unknown, offset: number): boolean {
  const from = start(node);
  const to = end(node);
  return from !== undefined && to !== undefined && from <= offset && offset < to;
}

/** `key:` with nothing after it parses to an empty null scalar; pointing at it would point past the key. */
function isEmptyScalar(node: unknown): boolean {
  return (
    isScalar(node) && node.value === null && Array.isArray(node.range) && node.range[0] === node.range[1]
  );
}

interface Location {
  /** Where the key (for a map entry) or the item (for a list entry) of the deepest found segment starts. */
  readonly keyOffset: number;
  /** Where its value starts; the key when the value is empty. */
  readonly valueOffset: number;
}

export class ConfigSource {
  readonly file: string;
  readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }

  issueAt(offset: number, segments: readonly KeySegment[], message: string): ConfigIssue {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col, keyPath: formatKeyPath(segments), message };
  }

  /** An issue about a key itself (unknown, missing a required child, duplicated). */
  keyIssue(segments: readonly KeySegment[], message: string): ConfigIssue {
    return this.issueAt(this.locate(segments).keyOffset, segments, message);
  }

  /** An issue about a value (wrong type, out of range, names something that does not exist). */
  valueIssue(segments: readonly KeySegment[], message: string): ConfigIssue {
    return this.issueAt(this.locate(segments).valueOffset, segments, message);
  }

  /**
   * Finds the deepest node of `segments` present in the source. Keys filled in by defaults have no
   * position, so an issue about one points at the nearest ancestor that was written.
   */
  private locate(segments: readonly KeySegment[]): Location {
    let node: unknown = this.doc.contents;
    let keyOffset = start(node) ?? 0;
    let valueOffset = keyOffset;
    for (const segment of segments) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment),
        );
        if (!pair) break;
        keyOffset = start(pair.key) ?? keyOffset;
        valueOffset = isEmptyScalar(pair.value) ? keyOffset : (start(pair.value) ?? keyOffset);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment];
        keyOffset = start(node) ?? keyOffset;
        valueOffset = keyOffset;
      } else {
        break;
      }
    }
    return { keyOffset, valueOffset };
  }

  /** The key path of the innermost node containing `offset` (for syntax errors such as duplicate keys). */
  pathAt(offset: number): KeySegment[] {
    const path: KeySegment[] = [];
    let node: Node | null | undefined = this.doc.contents;
    while (node) {
      if (isMap(node)) {
        // From the key to the end of the value, so a tag or anchor before the value counts too.
        const pair = node.items.find((p) => {
          const from = start(p.key);
          const to = end(p.value) ?? end(p.key);
          return from !== undefined && to !== undefined && from <= offset && offset < to;
        });
        if (!pair) break;
        path.push(String(isScalar(pair.key) ? pair.key.value : pair.key));
        if (contains(pair.key, offset)) break;
        node = pair.value as Node | null;
      } else if (isSeq(node)) {
        const index = node.items.findIndex((item) => contains(item, offset));
        if (index === -1) break;
        path.push(index);
        node = node.items[index] as Node | null;
      } else {
        break;
      }
    }
    return path;
  }
}
