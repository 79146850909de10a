// llama.cpp (npm node-llama-cpp, CPU, offline) as a numerics oracle.
//
//   node llama_logits.mjs --node_modules DIR --model M.gguf --tokens 1,2,3
//        [--greedy 64] [--all_positions] [--threads 2] [--kv_type F32|F16]
//
// Prints one JSON object on stdout:
//   {"n_vocab": V, "positions": [i...], "logits": [[V floats]...],
//    "greedy": [ids...]}
// logits[k] are the raw next-token logits after the prompt prefix ending at
// positions[k] (every prompt position with --all_positions, else the last);
// greedy is the argmax continuation of the prompt (temperature 0, no
// penalties, continuing through end-of-generation tokens so it always has
// --greedy tokens), computed in a fresh sequence. The KV cache is F32 by default
// (llama.cpp's own default, F16, costs ~1e-3 in the logits); flash attention
// is off. Exit code 1 + message on stderr
// on failure.
import path from "node:path";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
  const args = {greedy: 64, allPositions: false, threads: 2, kvType: "F32"};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--node_modules") args.nodeModules = next();
    else if (a === "--model") args.model = next();
    else if (a === "--tokens") args.tokens = next().split(",").filter((s) => s !== "").map(Number);
    else if (a === "--greedy") args.greedy = Number(next());
    else if (a === "--threads") args.threads = Number(next());
    else if (a === "--kv_type") args.kvType = next();
    else if (a === "--all_positions") args.allPositions = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.nodeModules || !args.model || !args.tokens || args.tokens.length === 0) {
    throw new Error("--node_modules, --model and a non-empty --tokens are required");
  }
  if (args.tokens.some((t) => !Number.isInteger(t) || t < 0)) throw new Error("bad --tokens");
  return args;
}

function logitsArray(map, nVocab) {
  const out = new Array(nVocab).fill(null);
  for (const [token, logit] of map) out[token] = logit;
  if (out.some((v) => v === null)) throw new Error("llama.cpp returned a partial logits map");
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const entry = path.join(args.nodeModules, "node-llama-cpp", "dist", "index.js");
  const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);
  const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
  const needed = args.tokens.length + args.greedy + 1;
  const context = await model.createContext({
    contextSize: Math.max(needed, 32), batchSize: Math.max(needed, 32),
    threads: args.threads, sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: args.kvType, experimentalKvCacheValueType: args.kvType,
  });
  const sequence = context.getSequence();

  const last = args.tokens.length - 1;
  const wanted = (i) => args.allPositions || i === last;
  const input = args.tokens.map((t, i) =>
    wanted(i) ? [t, {generateNext: {logits: true, token: true}}] : t);
  const results = await sequence.controlledEvaluate(input);
  const positions = [];
  const logits = [];
  const nVocab = results[last]?.next?.logits?.size ?? 0;
  for (let i = 0; i < args.tokens.length; i++) {
    if (!wanted(i)) continue;
    const next = results[i]?.next;
    if (!next?.logits) throw new Error(`no logits for position ${i}`);
    positions.push(i);
    logits.push(logitsArray(next.logits, nVocab));
  }

  const greedy = [];
  if (args.greedy > 0) {
    await sequence.clearHistory();
    for await (const token of sequence.evaluate(args.tokens, {temperature: 0, yieldEogToken: true})) {
      greedy.push(token);
      if (greedy.length >= args.greedy) break;
    }
  }
  process.stdout.write(JSON.stringify({n_vocab: nVocab, positions, logits, greedy}) + "\n");
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`llama_logits.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
