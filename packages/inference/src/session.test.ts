import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxModel } from './session';
import { parseModelCard } from './card';

const root = join(__dirname, '..', '..', '..');
const modelDir = join(root, 'models', 'ax-cls-discnet');
const python = join(root, 'training', '.venv', 'bin', 'python');

describe('OnnxModel', () => {
  it('runs a shipped model with ONNX Runtime and gives what Python onnxruntime gives', async () => {
    const m = await OnnxModel.open(modelDir);
    try {
      expect(m.card.output.classes).toEqual(['healthy', 'bulge', 'central', 'left', 'right']);
      const n = 2;
      const x = new Float32Array(n * 3 * 64 * 64).map((_, i) => ((i * 7919) % 256) / 255);
      const out = await m.run(x, n);
      expect(out.dims).toEqual([n, 5]);
      for (let b = 0; b < n; b++) {
        const row = Array.from(out.data.subarray(b * 5, b * 5 + 5));
        expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      }
      const script = [
        'import sys, numpy as np, onnxruntime as ort',
        'x = ((np.arange(2*3*64*64) * 7919) % 256).astype(np.float32) / np.float32(255)',
        's = ort.InferenceSession(sys.argv[1] + "/model.onnx", providers=["CPUExecutionProvider"])',
        'print(" ".join(repr(float(v)) for v in s.run(None, {"input": x.reshape(2, 3, 64, 64)})[0].ravel()))',
      ].join('\n');
      const py = execFileSync(python, ['-c', script, modelDir], { encoding: 'utf8' })
        .trim()
        .split(' ')
        .map(Number);
      py.forEach((v, i) => expect(Math.abs(v - out.data[i])).toBeLessThan(1e-5));
      await expect(m.run(new Float32Array(10), 1)).rejects.toThrow(/expected 1x3x64x64/);
    } finally {
      await m.close();
    }
  });

  it('refuses a folder without a usable model card, with the path in the message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-'));
    await expect(OnnxModel.open(dir)).rejects.toThrow(/cannot read model card .*model\.json/);
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ name: 'x', version: '1', file: 'model.onnx', task: 'other' }),
    );
    await expect(OnnxModel.open(dir)).rejects.toThrow(
      /"task" must be segmentation, classification, grading or slice-gate/,
    );
    expect(() => parseModelCard([], 'here.json')).toThrow(/here\.json/);
    const card = JSON.parse(readFileSync(join(root, 'models', 'sag-seg-unet', 'model.json'), 'utf8')) as {
      output: Record<string, unknown>;
    };
    expect(parseModelCard(card, 'sag.json').output.upsample).toBe('bilinear-probability');
    card.output.upsample = 'bicubic';
    expect(() => parseModelCard(card, 'sag.json')).toThrow(
      /"output.upsample" must be nearest-mask or bilinear-probability/,
    );
  });
});
