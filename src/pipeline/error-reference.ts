/** Renders the error reference (docs/errors.md) from the error catalog. */
import { errorCatalog } from './errors.ts';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderErrorReference(banner: string): string {
  const rows = Object.entries(errorCatalog).map(
    ([code, spec]) =>
      `| \`sluice_${code}\` | ${spec.status} | \`${spec.openaiType}\` | \`${spec.anthropicType}\` | ${cell(spec.message)} |`,
  );
  return [
    `<!-- ${banner} -->`,
    '',
    '# Errors Sluice answers with',
    '',
    'When Sluice itself answers with an error (not the upstream), the response carries',
    '`X-Sluice-Error: <code>` and `X-Request-Id`, and its body has the shape of the route’s protocol,',
    'so the official SDKs raise it like a provider error:',
    '',
    '- openai and passthrough routes: `{"error": {"message", "type", "param": null, "code"}}`',
    '- anthropic routes: `{"type": "error", "error": {"type", "message", "code"}, "request_id"}`',
    '',
    'The code is stable: match on it in clients and alerts, never on the message. Errors that can be',
    'retried carry `Retry-After` (seconds).',
    '',
    '| code | status | OpenAI `error.type` | Anthropic `error.type` | message |',
    '| --- | --: | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
