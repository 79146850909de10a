// llama.cpp (npm node-llama-cpp, CPU) decode speed on a GGUF, for comparison
// with //bench/model:model_bench on the same weights.
//
//   node bench/model/llama_cpp_bench.mjs --node_modules tests/oracles/node_modules \
//        --model /tmp/tandem_model_bench/10m/model.f32.gguf [--threads 2] \
//        [--prompt 64] [--tokens 32] [--reps 5] [--max_k 8] [--kv_type F32|F16] [--vocab V]
//
// Per repetition: a fresh sequence evaluates a --prompt-token prompt in one
// batch, then --tokens single-token evaluations are timed one by one (each
// produces the next token greedily, as decoding does). Then the verify sweep:
// after the prompt, k+1 = 1..max_k+1 tokens are evaluated in one batch with
// logits at every position (as verification needs: a 1-entry logits filter
// so that no 32000-entry JS map is built) and erased again. Prints one JSON
// object: decode_ms (median over reps), decode_min_ms, verify_ms[k].
// Driven like tests/conformance/llama_cpp/llama_logits.mjs (low-level
// LlamaContextSequence.controlledEvaluate API, flash attention off, KV cache
// F32 by default to match tandem's cache precision for float32 models).
import path from "node:path";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
  const args = {threads: 2, prompt: 64, tokens: 32, reps: 5, maxK: 8, kvType: "F32", warmup: 4};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--node_modules") args.nodeModules = next();
    else if (a === "--model") args.model = next();
    else if (a === "--threads") args.threads = Number(next());
    else if (a === "--prompt") args.prompt = Number(next());
    else if (a === "--tokens") args.tokens = Number(next());
    else if (a === "--reps") args.reps = Number(next());
    else if (a === "--max_k") args.maxK = Number(next());
    else if (a === "--kv_type") args.kvType = next();
    else if (a === "--vocab") args.vocab = Number(next());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.nodeModules || !args.model) throw new Error("--node_modules and --model are required");
  return args;
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// Deterministic pseudo-random token ids in [3, vocab).
function tokens(count, vocab, seed) {
  let x = seed >>> 0;
  const out = [];
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(3 + (x % (vocab - 3)));
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const entry = path.join(args.nodeModules, "node-llama-cpp", "dist", "index.js");
  const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);
  const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
  const nVocab = args.vocab ?? model.fileInfo?.metadata?.llama?.vocab_size ??
      model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length;
  if (!Number.isInteger(nVocab) || nVocab < 4) throw new Error("cannot tell the vocab size; pass --vocab");
  const needed = args.prompt + args.warmup + args.tokens + args.maxK + 8;
  const context = await model.createContext({
    contextSize: Math.max(needed, 256), batchSize: Math.max(needed, 256),
    threads: args.threads, sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: args.kvType, experimentalKvCacheValueType: args.kvType,
  });
  const sequence = context.getSequence();
  const prompt = tokens(args.prompt, nVocab, 1);
  const gen = tokens(args.warmup + args.tokens, nVocab, 2);
  const verify = tokens(args.maxK + 1, nVocab, 3);
  const greedy = {generateNext: {token: true, options: {temperature: 0}}};
  const oneLogit = {generateNext: {logits: {filter: {tokens: [0]}}}};

  const perRep = [];
  for (let rep = 0; rep < args.reps; rep++) {
    await sequence.clearHistory();
    await sequence.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1 ? [t, greedy] : t));
    for (let i = 0; i < args.warmup; i++) await sequence.controlledEvaluate([[gen[i], greedy]]);
    const t0 = nowMs();
    for (let i = 0; i < args.tokens; i++) {
      await sequence.controlledEvaluate([[gen[args.warmup + i], greedy]]);
    }
    perRep.push((nowMs() - t0) / args.tokens);
  }

  await sequence.clearHistory();
  await sequence.controlledEvaluate(prompt);
  const times = Array.from({length: args.maxK + 1}, () => []);
  for (let rep = 0; rep < args.reps + 1; rep++) {
    for (let k1 = 1; k1 <= args.maxK + 1; k1++) {
      const t0 = nowMs();
      await sequence.controlledEvaluate(verify.slice(0, k1).map((t) => [t, oneLogit]));
      const ms = nowMs() - t0;
      await sequence.eraseContextTokenRanges([{start: args.prompt, end: args.prompt + k1}]);
      if (rep > 0) times[k1 - 1].push(ms);
    }
  }
  const verifyMs = times.map(median);
  process.stdout.write(JSON.stringify({
    model: args.model, threads: args.threads, kv_type: args.kvType, n_vocab: nVocab,
    decode_ms: median(perRep), decode_min_ms: Math.min(...perRep),
    verify_ms: verifyMs, verify_ratio: verifyMs.map((t) => +(t / verifyMs[0]).toFixed(2)),
  }) + "\n");
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`llama_cpp_bench.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
