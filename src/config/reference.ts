/** Renders the configuration reference (docs/configuration.md) from the schema's descriptions. */

interface SchemaNode {
  type?: string | readonly string[];
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  required?: readonly string[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  pattern?: string;
}

function typeOf(node: SchemaNode): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.type === 'array' && node.items) return `list of ${typeOf(node.items)}`;
  if (node.type === 'object' && !node.properties && typeof node.additionalProperties === 'object') {
    return `map of ${typeOf(node.additionalProperties)}`;
  }
  return Array.isArray(node.type) ? node.type.join(' \\| ') : String(node.type ?? 'any');
}

function rowsFor(node: SchemaNode, path: string, rows: string[]): void {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const keyPath = path ? `${path}.${key}` : key;
    const def =
      child.default === undefined ||
      (typeof child.default === 'object' &&
        child.default !== null &&
        Object.keys(child.default).length === 0 &&
        !Array.isArray(child.default))
        ? required.has(key)
          ? '*required*'
          : ''
        : `\`${JSON.stringify(child.default)}\``;
    const bounds = [
      child.minimum !== undefined ? `≥ ${child.minimum}` : '',
      child.exclusiveMinimum !== undefined ? `> ${child.exclusiveMinimum}` : '',
      child.maximum !== undefined ? `≤ ${child.maximum}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const description = (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    rows.push(
      `| \`${keyPath}\` | ${typeOf(child)}${bounds ? ` (${bounds})` : ''} | ${def} | ${description} |`,
    );
    if (child.properties) rowsFor(child, keyPath, rows);
    if (
      child.type === 'object' &&
      typeof child.additionalProperties === 'object' &&
      child.additionalProperties.properties
    ) {
      rowsFor(child.additionalProperties, `${keyPath}.<name>`, rows);
    }
    if (child.type === 'array' && child.items?.properties) rowsFor(child.items, `${keyPath}[]`, rows);
  }
}

export function renderConfigReference(schema: SchemaNode, banner: string): string {
  const sections: string[] = [
    `<!-- ${banner} -->`,
    '# Configuration reference',
    '',
    'Sluice reads one YAML file (`sluice serve --config FILE`, checked by `sluice validate FILE`).',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: documents the config's interpolation syntax
    'Values may use `${VAR}` and `${VAR:-default}` to read the environment; `$$` is a literal `$`.',
    'Unknown keys are errors. Editors that speak the YAML language server complete and check keys through',
    '`config/schema.json` (the example config references it on its first line).',
    '',
  ];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    sections.push(`## \`${key}\``, '', child.description ?? '', '');
    const rows: string[] = [];
    const asRoot: SchemaNode = { properties: { [key]: child }, required: schema.required ?? [] };
    rowsFor(asRoot, '', rows);
    sections.push('| key | type | default | description |', '| --- | --- | --- | --- |', ...rows, '');
  }
  return sections.join('\n');
}
