/**
 * A route's `max_tokens` ceiling: a request asking for more output tokens is refused (400) or, with
 * `action: cap`, forwarded with the ceiling instead — the only change to a forwarded body the rate
 * limits make, and only where the route says so.
 */
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteMaxTokensConfig } from '../config/types.generated.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';

/** Every field the OpenAI and Anthropic APIs take an output cap from. */
const OUTPUT_CAP_FIELDS = ['max_completion_tokens', 'max_output_tokens', 'max_tokens'] as const;

export function applyMaxTokens(ctx: ProxyContext, settings: DeepReadonly<RouteMaxTokensConfig>): void {
  const body = ctx.requestJson();
  if (body === undefined) return;
  const over = OUTPUT_CAP_FIELDS.filter((field) => {
    const value = body[field];
    return typeof value === 'number' && value > settings.max;
  });
  if (over.length === 0) return;
  if (settings.action === 'reject') {
    const field = over[0]!;
    throw new SluiceError('max_tokens_too_large', {
      detail: `${field} is ${String(body[field])}; the most this route allows is ${settings.max}.`,
    });
  }
  const capped = { ...body };
  for (const field of over) capped[field] = settings.max;
  ctx.requestBody = Buffer.from(JSON.stringify(capped));
}
