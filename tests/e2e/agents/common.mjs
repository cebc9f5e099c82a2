// tests/e2e/agents/common.mjs - argument parsing and the local tool shared by the agents.

export function parseArgs(argv, usage) {
  const opts = { stream: false, prompt: 'What is the weather in Paris?', maxTurns: 10, maxRetries: 2 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--stream') opts.stream = true;
    else if (a === '--prompt') opts.prompt = argv[++i];
    else if (a === '--max-turns') opts.maxTurns = Number(argv[++i]);
    else if (a === '--max-retries') opts.maxRetries = Number(argv[++i]);
    else if (a === '--help' || a === '-h') { console.log(usage); process.exit(0); }
    else { console.error(`unknown option '${a}'\n${usage}`); process.exit(2); }
  }
  if (opts.prompt === undefined || !Number.isInteger(opts.maxTurns) || !Number.isInteger(opts.maxRetries)) {
    console.error(usage);
    process.exit(2);
  }
  return opts;
}

// The agents' one tool: deterministic, so a replayed loop sends the same requests.
export function getWeather(args) {
  const city = (args && typeof args.city === 'string') ? args.city : 'nowhere';
  return `Sunny, 21 C in ${city}`;
}

export const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string', description: 'the city to look up' } },
  required: ['city'],
};

export function report(answer, calls, usage) {
  console.log(`answer: ${answer}`);
  console.log(`calls: ${calls}`);
  console.log(`tokens: ${usage.input} in, ${usage.output} out`);
}

export async function main(fn) {
  try {
    await fn();
  } catch (e) {
    // An SDK error carries the server's JSON body; print it whole so a
    // loopgate divergence (409) shows its path and diff in the loop's log.
    const body = e && e.error ? JSON.stringify(e.error) : '';
    console.error(`error: ${e && e.status ? `HTTP ${e.status}: ` : ''}${e && e.message ? e.message : e}${body ? `\nbody: ${body}` : ''}`);
    process.exit(1);
  }
}
