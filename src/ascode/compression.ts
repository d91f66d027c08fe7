/**
 * What a config compresses, for the compression alert and dashboard row: the routes with
 * `compression`. Nothing is generated when no route compresses.
 */
import type { RuleContext } from './alert-definition.ts';

/** Routes with `compression`, in config order. */
export function compressingRoutes(ctx: RuleContext): string[] {
  return ctx.config.routes.filter((route) => route.compression !== undefined).map((route) => route.name);
}
