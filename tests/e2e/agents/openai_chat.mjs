// tests/e2e/agents/openai_chat.mjs - a tool-calling loop on OpenAI Chat
// Completions with the official `openai` SDK. Base URL from OPENAI_BASE_URL.
//
//   node openai_chat.mjs [--stream] [--prompt TEXT] [--max-turns N] [--max-retries N]
//
// Prints "answer: ...", "calls: N" (model calls made by the loop, SDK
// retries not counted) and "tokens: I in, O out"; exits 1 on an API error.
import OpenAI from 'openai';
import { parseArgs, getWeather, weatherSchema, report, main } from './common.mjs';

const usage = 'usage: node openai_chat.mjs [--stream] [--prompt TEXT] [--max-turns N] [--max-retries N]';
const opts = parseArgs(process.argv, usage);

const client = new OpenAI({
  apiKey: process.env.OPENAI_API_KEY || 'sk-loopgate-dummy',
  baseURL: process.env.OPENAI_BASE_URL,
  maxRetries: opts.maxRetries,
  // standalone `loopgate proxy` keeps one session per X-Loopgate-Session value
  defaultHeaders: process.env.LOOPGATE_SESSION ? { 'X-Loopgate-Session': process.env.LOOPGATE_SESSION } : undefined,
});

const tools = [{
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather for a city', parameters: weatherSchema },
}];

async function callModel(messages) {
  const req = { model: 'gpt-4o-mini', messages, tools };
  if (!opts.stream) {
    const r = await client.chat.completions.create(req);
    return { message: r.choices[0].message, usage: r.usage };
  }
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  const message = { role: 'assistant', content: '', tool_calls: [] };
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const delta = chunk.choices[0]?.delta;
    if (!delta) continue;
    if (delta.content) message.content += delta.content;
    for (const tc of delta.tool_calls || []) {
      const slot = message.tool_calls[tc.index] ||= { id: '', type: 'function', function: { name: '', arguments: '' } };
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.function.name += tc.function.name;
      if (tc.function?.arguments) slot.function.arguments += tc.function.arguments;
    }
  }
  if (message.tool_calls.length === 0) delete message.tool_calls;
  if (message.tool_calls && message.content === '') message.content = null;
  return { message, usage };
}

await main(async () => {
  const messages = [
    { role: 'system', content: 'You are a weather assistant. Use the tool, then answer.' },
    { role: 'user', content: opts.prompt },
  ];
  const total = { input: 0, output: 0 };
  for (let calls = 1; calls <= opts.maxTurns; calls++) {
    const { message, usage } = await callModel(messages);
    if (usage) { total.input += usage.prompt_tokens; total.output += usage.completion_tokens; }
    messages.push(message);
    if (message.tool_calls && message.tool_calls.length) {
      for (const tc of message.tool_calls) {
        const result = tc.function.name === 'get_weather'
          ? getWeather(JSON.parse(tc.function.arguments || '{}'))
          : `unknown tool ${tc.function.name}`;
        messages.push({ role: 'tool', tool_call_id: tc.id, content: result });
      }
      continue;
    }
    report(message.content, calls, total);
    return;
  }
  throw new Error(`no answer after ${opts.maxTurns} model calls`);
});
