// Times one U-Net and one DiscNet inference on this machine (ONNX Runtime, CPU, one intra-op thread),
// the way the pipeline runs them, with one intra-op thread and with the default (the cores, at most 4).
// Usage: node bench/bench-unet.js [MODELS_DIR] [RUNS]
const path = require('node:path');
const { OnnxModel, defaultIntraOpThreads } = require('../packages/inference/dist');

async function time(model, n, runs) {
  const [, c, h, w] = model.card.input.shape;
  const x = new Float32Array(n * c * h * w).map((_, i) => (i % 251) / 255);
  for (let i = 0; i < 3; i++) await model.run(x, n); // warm-up
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await model.run(x, n);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6 / n);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(runs / 2)], p95: ms[Math.min(runs - 1, Math.ceil(runs * 0.95) - 1)] };
}

(async () => {
  const dir = process.argv[2] || path.join(__dirname, '..', 'models');
  const runs = Number(process.argv[3] || 50);
  const threadCounts = [...new Set([1, defaultIntraOpThreads()])];
  for (const name of ['ax-seg-unet', 'sag-seg-unet', 'ax-cls-discnet']) {
    for (const threads of threadCounts) {
      const m = await OnnxModel.open(path.join(dir, name), { intraOpThreads: threads });
      for (const n of [1, 5]) {
        const t = await time(m, n, runs);
        console.log(
          `${name.padEnd(16)} ${threads} thread(s) batch ${n}: p50 ${t.p50.toFixed(2)} ms/image, p95 ${t.p95.toFixed(2)} ms/image (${runs} runs)`,
        );
      }
      await m.close();
    }
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
})();
