/** Every alert `sluice generate rules` can write; `alerts.disabled` may name only these. */
export const alertNames: readonly string[] = [
  'SluiceRouteErrorRatioHigh',
  'SluiceRouteLatencyHigh',
  'SluiceRouteThroughputLow',
  'SluiceUpstreamErrorsHigh',
  'SluiceUpstreamUnreachable',
  'SluiceUpstreamPoolSaturated',
  'SluiceUpstreamPoolWaitHigh',
  'SluiceTargetDown',
  'SluiceTargetMissing',
  'SluiceConfigReloadFailing',
  'SluiceMemoryHigh',
  'SluiceEventLoopDelayHigh',
  'SluiceLlmUnpricedModel',
  'SluiceSloErrorBudgetBurnFast',
  'SluiceSloErrorBudgetBurnSlow',
];
