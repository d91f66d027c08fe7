/**
 * The metrics of upstream resilience: attempts and their retries and hedges, per-target breakers,
 * outlier ejection and active health checks, and failover between a route's upstream groups. Kept
 * apart from catalog.ts only for size; catalog.ts spreads them into the one metric catalog.
 * `target` is a configured target of an upstream (bounded by the config, like `upstream`).
 */
import type { MetricSpec } from './catalog.ts';

export const resilienceMetrics = {
  upstreamAttempts: {
    name: 'sluice_upstream_attempts_total',
    type: 'counter',
    help: 'Attempts sent to an upstream target (first attempts, retries and hedges), by how each ended: success (an answer with status < 500 other than 429), rate_limited (429), server_error (5xx), connect_error, timeout (no response headers in time), reset (the connection dropped before headers), hedge_lost (aborted because another attempt answered first), aborted (the client went away).',
    unit: '',
    labels: ['upstream', 'target', 'outcome'],
  },
  upstreamRetries: {
    name: 'sluice_upstream_retries_total',
    type: 'counter',
    help: 'Attempts sent again after a failed one, by why the failed one was retried: connect_failed, connect_timeout, connection_reset (dropped before headers), headers_timeout, status (a configured 5xx), rate_limited (429).',
    unit: '',
    labels: ['upstream', 'reason'],
  },
  upstreamRetriesDenied: {
    name: 'sluice_upstream_retries_denied_total',
    type: 'counter',
    help: 'Failed attempts the retry policy would have retried but did not, by reason: budget_exhausted (the upstream’s retry budget is spent), max_attempts, deadline_exceeded (no time left before the request’s deadline), retry_after_too_long (the upstream asked to wait longer than allowed).',
    unit: '',
    labels: ['upstream', 'reason'],
  },
  upstreamHedgesSent: {
    name: 'sluice_upstream_hedges_sent_total',
    type: 'counter',
    help: 'Hedged attempts sent: a second attempt started because the first had not answered within the hedge delay.',
    unit: '',
    labels: ['upstream'],
  },
  upstreamHedgesWon: {
    name: 'sluice_upstream_hedges_won_total',
    type: 'counter',
    help: 'Hedged attempts that answered before the first attempt (which was then aborted as hedge_lost).',
    unit: '',
    labels: ['upstream'],
  },
  upstreamBreakerState: {
    name: 'sluice_upstream_breaker_state',
    type: 'gauge',
    help: 'Health state of each target, one series per state: closed (taking traffic), open (breaker open: refused), half_open (on trial: a few probes let through, after an open breaker or an ejection), ejected (outlier ejection or failing active health checks). 1 for the current state, 0 for the others.',
    unit: '',
    labels: ['upstream', 'target', 'state'],
  },
  upstreamBreakerTransitions: {
    name: 'sluice_upstream_breaker_transitions_total',
    type: 'counter',
    help: 'Changes of a target’s health state, by the state entered (to: closed, open, half_open, ejected) and the reason: error_rate and slow_calls (the breaker tripped from closed), reset_timeout (open → half_open), probe_succeeded, probe_failed, consecutive_failures (outlier ejection), ejection_ended, ejection_refused (a failed probe while the group is at its ejection limit: back in service), active_check_failed, active_check_passed.',
    unit: '',
    labels: ['upstream', 'target', 'to', 'reason'],
  },
  upstreamEjections: {
    name: 'sluice_upstream_ejections_total',
    type: 'counter',
    help: 'Outlier ejections of a target (consecutive 5xx or transport failures); each takes it out of the balancer for a growing time.',
    unit: '',
    labels: ['upstream', 'target'],
  },
  upstreamHealthChecks: {
    name: 'sluice_upstream_health_checks_total',
    type: 'counter',
    help: 'Active health checks of a target by result: pass, fail.',
    unit: '',
    labels: ['upstream', 'target', 'result'],
  },
  upstreamTargetAvailable: {
    name: 'sluice_upstream_target_available',
    type: 'gauge',
    help: '1 while the target may take traffic (breaker not open, not ejected, active checks passing), else 0.',
    unit: '',
    labels: ['upstream', 'target'],
  },
  routeTargetsAvailable: {
    name: 'sluice_route_targets_available',
    type: 'gauge',
    help: 'Targets that may take traffic for the route, across its upstream and its failover chain; 0 means the route can only answer 503.',
    unit: '',
    labels: ['route'],
  },
  routeFailovers: {
    name: 'sluice_route_failovers_total',
    type: 'counter',
    help: 'Requests moved on from one upstream group of the route’s failover chain (from) to the next (to).',
    unit: '',
    labels: ['route', 'from', 'to'],
  },
} as const satisfies Record<string, MetricSpec>;
