/**
 * The access-log line, one per request: the same JSON pino writes for the same fields (level, time,
 * service, the record, msg), built from a fixed schema. pino's generic serialiser escaped every key
 * and walked every value on each line, the largest single item in a request's CPU profile (see
 * docs/benchmarks.md); other log lines still go through pino.
 */
import type { LlmSummary } from '../llm/llm-accounting.ts';
import { isoTimestamp } from './logger.ts';

export interface AccessRecord {
  readonly request_id: string;
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Absent when Sluice answered itself. */
  readonly upstream: string | undefined;
  readonly duration_ms: number;
  readonly upstream_ms: number | undefined;
  readonly overhead_ms: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly client_ip: string;
  readonly error: string | undefined;
  /** The `x-sluice-cache` status (HIT, MISS, COALESCED, BYPASS…) on routes with a cache or dedupe. */
  readonly cache?: string | undefined;
  /** openai/anthropic routes with LLM accounting on. */
  readonly llm?: LlmSummary | undefined;
}

/** Model names are client input: a log line carries a bounded prefix. */
const MAX_LOGGED_MODEL_CHARS = 200;

function llmFields(llm: LlmSummary): string {
  let fields = '';
  if (llm.model !== undefined) fields += `,"model":${quoted(llm.model.slice(0, MAX_LOGGED_MODEL_CHARS))}`;
  if (llm.inputTokens !== undefined) fields += `,"input_tokens":${numeric(llm.inputTokens)}`;
  if (llm.outputTokens !== undefined) fields += `,"output_tokens":${numeric(llm.outputTokens)}`;
  // Rounded to a millionth of a cent: sums of float products otherwise print as 0.000010049999999999999.
  if (llm.costUsd !== undefined) fields += `,"cost_usd":${numeric(Math.round(llm.costUsd * 1e8) / 1e8)}`;
  if (llm.ttftMs !== undefined) fields += `,"ttft_ms":${numeric(Math.round(llm.ttftMs * 1000) / 1000)}`;
  return fields;
}

/** What JSON.stringify would escape: quotes, backslashes, control characters, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const needsEscaping = /["\\\u0000-\u001f\ud800-\udfff]/;

function quoted(value: string): string {
  return needsEscaping.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** A number as JSON: non-finite values become null, as in JSON.stringify and pino. */
function numeric(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

export function accessLogLine(record: AccessRecord, now = Date.now()): string {
  let line = `{"level":"info"${isoTimestamp(now)},"service":"sluice","request_id":${quoted(record.request_id)},"route":${quoted(record.route)},"method":${quoted(record.method)},"path":${quoted(record.path)},"status":${numeric(record.status)}`;
  if (record.upstream !== undefined) line += `,"upstream":${quoted(record.upstream)}`;
  line += `,"duration_ms":${numeric(record.duration_ms)}`;
  if (record.upstream_ms !== undefined) line += `,"upstream_ms":${numeric(record.upstream_ms)}`;
  line += `,"overhead_ms":${numeric(record.overhead_ms)},"bytes_in":${numeric(record.bytes_in)},"bytes_out":${numeric(record.bytes_out)},"client_ip":${quoted(record.client_ip)}`;
  if (record.error !== undefined) line += `,"error":${quoted(record.error)}`;
  if (record.cache !== undefined) line += `,"cache":${quoted(record.cache)}`;
  if (record.llm !== undefined) line += llmFields(record.llm);
  return `${line},"msg":"request"}\n`;
}
