// tests/e2e/agents/anthropic_messages.mjs - a tool-calling loop on the
// Anthropic Messages API with the official `@anthropic-ai/sdk`. Base URL
// from ANTHROPIC_BASE_URL.
//
//   node anthropic_messages.mjs [--stream] [--prompt TEXT] [--max-turns N] [--max-retries N]
//
// Prints "answer: ...", "calls: N" (model calls made by the loop, SDK
// retries not counted) and "tokens: I in, O out"; exits 1 on an API error.
import Anthropic from '@anthropic-ai/sdk';
import { parseArgs, getWeather, weatherSchema, report, main } from './common.mjs';

const usage = 'usage: node anthropic_messages.mjs [--stream] [--prompt TEXT] [--max-turns N] [--max-retries N]';
const opts = parseArgs(process.argv, usage);

const client = new Anthropic({
  apiKey: process.env.ANTHROPIC_API_KEY || 'sk-ant-loopgate-dummy',
  baseURL: process.env.ANTHROPIC_BASE_URL,
  maxRetries: opts.maxRetries,
  // standalone `loopgate proxy` keeps one session per X-Loopgate-Session value
  defaultHeaders: process.env.LOOPGATE_SESSION ? { 'X-Loopgate-Session': process.env.LOOPGATE_SESSION } : undefined,
});

const tools = [{ name: 'get_weather', description: 'Current weather for a city', input_schema: weatherSchema }];

async function callModel(messages) {
  const req = {
    model: 'claude-sim-1',
    max_tokens: 1024,
    system: 'You are a weather assistant. Use the tool, then answer.',
    tools,
    messages,
  };
  if (!opts.stream) return client.messages.create(req);
  // The SDK's own stream accumulator: message_start, deltas, message_delta usage.
  const stream = client.messages.stream(req);
  let events = 0;
  stream.on('streamEvent', () => { events++; });
  const msg = await stream.finalMessage();
  if (events < 3) throw new Error(`expected a stream of events, got ${events}`);
  return msg;
}

await main(async () => {
  const messages = [{ role: 'user', content: opts.prompt }];
  const total = { input: 0, output: 0 };
  for (let calls = 1; calls <= opts.maxTurns; calls++) {
    const msg = await callModel(messages);
    total.input += msg.usage.input_tokens;
    total.output += msg.usage.output_tokens;
    messages.push({ role: 'assistant', content: msg.content });
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    if (msg.stop_reason === 'tool_use' && uses.length) {
      messages.push({
        role: 'user',
        content: uses.map((u) => ({
          type: 'tool_result',
          tool_use_id: u.id,
          content: u.name === 'get_weather' ? getWeather(u.input) : `unknown tool ${u.name}`,
        })),
      });
      continue;
    }
    report(msg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''), calls, total);
    return;
  }
  throw new Error(`no answer after ${opts.maxTurns} model calls`);
});
