// Drives tandem's HTTP API with the official OpenAI Node client (npm `openai`,
// an independent implementation of the protocol) and prints what it saw.
//
//   node openai_client.js BASE_URL API_KEY PLAN_JSON
//
// PLAN_JSON is an array of {name, call: "models" | "completions" | "chat",
// params}. For each step the output (a JSON array, same order) holds
// {name, ok, texts: {choice index: text}, finish: {index: reason}, usage,
// speculation: {index: stats}, chunks, model, object, ids, error: {status,
// type, param, code, message}}. Streams are consumed with the client's own
// SSE parser (params.stream = true).
const OpenAI = require('openai');

async function step(client, s) {
  const out = {name: s.name, ok: true, texts: {}, finish: {}, speculation: {}, chunks: 0};
  try {
    if (s.call === 'models') {
      const list = await client.models.list();
      out.models = list.data.map((m) => m.id);
      return out;
    }
    const api = s.call === 'chat' ? client.chat.completions : client.completions;
    const result = await api.create(s.params);
    if (!s.params.stream) {
      out.object = result.object;
      out.id = result.id;
      out.model = result.model;
      out.usage = result.usage;
      out.total_speculation = result.speculation;
      for (const c of result.choices) {
        out.texts[c.index] = s.call === 'chat' ? c.message.content : c.text;
        out.finish[c.index] = c.finish_reason;
        out.speculation[c.index] = c.speculation;
        if (c.logprobs) out.logprobs = (out.logprobs || []).concat([c.logprobs]);
      }
      return out;
    }
    out.objects = [];
    for await (const chunk of result) {
      out.chunks += 1;
      if (!out.objects.includes(chunk.object)) out.objects.push(chunk.object);
      out.id = chunk.id;
      if (chunk.usage) out.usage = chunk.usage;
      for (const c of chunk.choices) {
        const delta = s.call === 'chat' ? (c.delta.content || '') : c.text;
        if (s.call === 'chat' && c.delta.role) out.role = c.delta.role;
        out.texts[c.index] = (out.texts[c.index] || '') + delta;
        if (c.finish_reason) out.finish[c.index] = c.finish_reason;
        if (c.speculation) out.speculation[c.index] = c.speculation;
      }
    }
    return out;
  } catch (e) {
    out.ok = false;
    out.error = {
      status: e.status,
      type: e.type || (e.error && e.error.type),
      param: e.param === undefined ? null : e.param,
      code: e.code,
      message: e.message,
    };
    return out;
  }
}

async function main() {
  const [baseURL, apiKey, planJson] = process.argv.slice(2);
  const client = new OpenAI({baseURL, apiKey, maxRetries: 0, timeout: 120000});
  const results = [];
  for (const s of JSON.parse(planJson)) results.push(await step(client, s));
  process.stdout.write(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
