/** Schema fragments more than one part of the config schema uses. */

export const durationMs = (description: string, defaultValue: number, minimum = 1) => ({
  type: 'integer',
  minimum,
  default: defaultValue,
  description: `${description} Milliseconds.`,
});

/** Header names as RFC 9110 tokens; values without line breaks, so nothing can split a header. */
export const headerMap = (description: string) => ({
  type: 'object',
  description,
  default: {},
  propertyNames: { pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
  additionalProperties: { type: 'string', pattern: '^[^\\r\\n\\u0000]*$' },
});

const modelPrice = {
  type: 'object',
  title: 'ModelPrice',
  description:
    'Prices of the models a glob matches, in US dollars per million tokens. The first entry whose `model` matches wins.',
  additionalProperties: false,
  required: ['model', 'input', 'output'],
  properties: {
    model: {
      type: 'string',
      minLength: 1,
      description:
        'Model name or glob: `*` matches any run of characters (`/` and `:` included), `?` one character; case-sensitive. Matched against the model the response names, else the requested one.',
    },
    input: { type: 'number', minimum: 0, description: 'USD per million uncached input tokens.' },
    output: {
      type: 'number',
      minimum: 0,
      description: 'USD per million output tokens (reasoning tokens included, as providers bill them).',
    },
    cached_input: {
      type: 'number',
      minimum: 0,
      description: 'USD per million input tokens read from the prompt cache. Absent: the `input` price.',
    },
    cache_creation_input: {
      type: 'number',
      minimum: 0,
      description:
        'USD per million input tokens written to the prompt cache (Anthropic). Absent: the `input` price.',
    },
  },
} as const;

export const priceTable = (description: string) => ({
  type: 'array',
  description,
  default: [],
  items: modelPrice,
});
