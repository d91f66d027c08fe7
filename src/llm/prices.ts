/**
 * The price table: which price applies to a model on an upstream, and what a response's usage
 * costs. Prices are USD per million tokens, as providers publish them; an upstream's own table is
 * consulted before the global one, and within a table the first matching glob wins.
 */
import type { ModelPrice } from '../config/types.generated.ts';
import { globToRegExp } from './model-label.ts';
import type { TokenUsage } from './usage.ts';

export interface Price {
  readonly input: number;
  readonly output: number;
  readonly cachedInput: number;
  readonly cacheCreationInput: number;
}

interface CompiledPrice {
  readonly pattern: RegExp;
  readonly price: Price;
}

/** Model names are client input: the lookup memo is cleared rather than allowed to grow past this. */
const MAX_MEMOIZED = 4096;

function compile(table: readonly ModelPrice[]): CompiledPrice[] {
  return table.map((entry) => ({
    pattern: globToRegExp(entry.model),
    price: {
      input: entry.input,
      output: entry.output,
      cachedInput: entry.cached_input ?? entry.input,
      cacheCreationInput: entry.cache_creation_input ?? entry.input,
    },
  }));
}

export class PriceBook {
  private readonly global: readonly CompiledPrice[];
  private readonly byUpstream: ReadonlyMap<string, readonly CompiledPrice[]>;
  private readonly memo = new Map<string, Price | null>();

  constructor(global: readonly ModelPrice[], byUpstream: Readonly<Record<string, readonly ModelPrice[]>>) {
    this.global = compile(global);
    this.byUpstream = new Map(
      Object.entries(byUpstream)
        .filter(([, table]) => table.length > 0)
        .map(([name, table]) => [name, compile(table)]),
    );
  }

  /** The price of `model` on `upstream`, or undefined when no table names it (the request is unpriced). */
  priceFor(upstream: string, model: string): Price | undefined {
    const key = `${upstream}\u0000${model}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known ?? undefined;
    const found =
      this.byUpstream.get(upstream)?.find((p) => p.pattern.test(model)) ??
      this.global.find((p) => p.pattern.test(model));
    if (this.memo.size >= MAX_MEMOIZED) this.memo.clear();
    this.memo.set(key, found?.price ?? null);
    return found?.price;
  }
}

/**
 * What `usage` costs at `price`, in USD. Input is the total (cached included, see TokenUsage), so
 * cache reads and writes are taken out of it and billed at their own prices; reasoning tokens are
 * part of output and billed with it, as the providers do.
 */
export function costUsd(usage: TokenUsage, price: Price): number {
  const cached = usage.cachedInput ?? 0;
  const cacheCreation = usage.cacheCreationInput ?? 0;
  const uncached = Math.max(0, (usage.input ?? 0) - cached - cacheCreation);
  const microDollars =
    uncached * price.input +
    cached * price.cachedInput +
    cacheCreation * price.cacheCreationInput +
    (usage.output ?? 0) * price.output;
  return microDollars / 1_000_000;
}
