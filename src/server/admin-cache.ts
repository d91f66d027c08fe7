/**
 * `GET /admin/cache` (tier stats) and `POST /admin/cache/purge` (by key, route, route and tenant,
 * or everything). Both sit behind the admin token like every /admin/* endpoint.
 */
import type { IncomingMessage } from 'node:http';
import { tenantScope } from '../cache/key.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import type { SluiceConfig } from '../config/types.generated.ts';

export interface PurgeRequest {
  readonly all?: boolean;
  readonly route?: string;
  /** The value of the route's `cache.tenant_header` whose answers to drop. */
  readonly tenant?: string;
  readonly key?: string;
}

export type PurgeOutcome =
  | { readonly ok: true; readonly prefix: string }
  | { readonly ok: false; readonly message: string };

const maxBody = 64 * 1024;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new Error('the request body is over 64 KiB');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/** Which keys a purge request means, as a key prefix (an exact key is its own prefix). */
export function purgePrefix(request: unknown, config: DeepReadonly<SluiceConfig>): PurgeOutcome {
  if (request === null || typeof request !== 'object' || Array.isArray(request))
    return {
      ok: false,
      message: 'Send a JSON object: {"all": true}, {"route": …}, {"route": …, "tenant": …} or {"key": …}.',
    };
  const { all, route, tenant, key } = request as PurgeRequest;
  if (typeof key === 'string' && key !== '') return { ok: true, prefix: key };
  if (all === true) return { ok: true, prefix: '' };
  if (typeof route !== 'string') return { ok: false, message: 'Name a route, a key, or send {"all": true}.' };
  const settings = config.routes.find((candidate) => candidate.name === route);
  if (!settings) return { ok: false, message: `No route named "${route}".` };
  if (tenant === undefined) return { ok: true, prefix: `${route}:` };
  const header = settings.cache?.tenant_header;
  if (header === undefined)
    return {
      ok: false,
      message: `Route "${route}" has no cache.tenant_header; its tenants are credentials, purge the route instead.`,
    };
  return { ok: true, prefix: `${route}:${tenantScope({ [header.toLowerCase()]: String(tenant) }, header)}:` };
}
