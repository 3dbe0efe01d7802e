// Time per disc crop in TypeScript (built code): node test/parity/bench-crop.js  (after npx tsc -b)
// Real SPIDER sagittal images and masks (2 = disc); prints microseconds per crop for each stage.
const { readdirSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { PNG } = require('pngjs');
const I = require('../../packages/imaging/dist');

const shared = process.env.LUMBAR_SHARED_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared');
const dir = path.join(shared, 'data', 'spider', 't2_space');

function gray(file) {
  const png = PNG.sync.read(readFileSync(file));
  const data = new Uint8Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4];
  return { width: png.width, height: png.height, data };
}

async function main() {
  const t0 = performance.now();
  await I.initImaging();
  console.log(`initImaging: ${(performance.now() - t0).toFixed(0)} ms (OpenCV.js ${I.openCvVersion()})`);
  const names = readdirSync(path.join(dir, 'images')).sort();
  const items = names
    .filter((_, i) => i % 5 === 0)
    .map((n) => {
      const img = gray(path.join(dir, 'images', n));
      const mask = I.maskOf(gray(path.join(dir, 'masks', n)), 2);
      return { img, mask, box: I.discBbox(mask, 'sagittal') };
    })
    .filter((x) => x.box);
  console.log(`${items.length} images ${items[0].img.width}x${items[0].img.height}`);
  const time = (label, fn) => {
    for (let r = 0; r < 3; r++) for (const it of items) fn(it);
    const reps = 20;
    const t = performance.now();
    for (let r = 0; r < reps; r++) for (const it of items) fn(it);
    const us = ((performance.now() - t) * 1000) / (reps * items.length);
    console.log(`${label.padEnd(44)} ${us.toFixed(0).padStart(6)} us`);
  };
  const resized = (it) => I.resizeBilinear(I.cropImage(it.img, it.box), 64, 64);
  time('crop + resize 64x64', resized);
  time('crop + resize + CLAHE (OpenCV.js)', (it) => I.claheOpenCv(resized(it)));
  time('crop + resize + CLAHE (TypeScript port)', (it) => I.claheReference(resized(it)));
  time('disc box from the mask (components)', (it) => I.discBbox(it.mask, 'sagittal'));
  time('classifierInput, all of it (OpenCV.js)', (it) => I.classifierInput(it.img, it.mask, 'sagittal'));
  time('segmentationInput 256x256', (it) => I.segmentationInput(it.img));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
