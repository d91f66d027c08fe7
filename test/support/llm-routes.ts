/** The routes the LLM end-to-end tests share: Anthropic, an ensure_stream_usage route under /ensure, OpenAI. */
export function llmRoutes(upstream = 'backend'): Record<string, unknown>[] {
  return [
    { name: 'anthropic', match: { path_prefix: '/v1/messages' }, upstream, protocol: 'anthropic' },
    {
      name: 'ensure',
      match: { path_prefix: '/ensure/' },
      strip_prefix: '/ensure',
      upstream,
      protocol: 'openai',
      ensure_stream_usage: true,
    },
    { name: 'openai', match: { path_prefix: '/v1/' }, upstream, protocol: 'openai' },
  ];
}
