const fs = require('fs');
const dcmjs = require('dcmjs');
const { toUint8 } = require('../../packages/imaging/dist');
const { encodeGrayPng, decodeGrayPng } = require('../../packages/phantom/dist');
const files = process.argv.slice(3);
const out = process.argv[2];
// montage side by side, each scaled to 256 via nearest
const tiles = files.map((f) => {
  const d = dcmjs.data.DicomMessage.readFile(fs.readFileSync(f).buffer.slice(0));
  const n = dcmjs.data.DicomMetaDictionary.naturalizeDataset(d.dict);
  const px = new Uint16Array(n.PixelData[0]);
  let u8 = toUint8(px);
  const mf = f.replace(/\/(\d\d_[^/]+)\/(IM\d+)\.dcm$/, '/masks/$1/$2.png');
  if (fs.existsSync(mf)) {
    const m = decodeGrayPng(fs.readFileSync(mf)).pixels;
    u8 = u8.map((v, i) => {
      if (!m[i]) return v;
      const l = m[i];
      const r = i % n.Columns,
        rr = Math.floor(i / n.Columns);
      /*edge*/ const e =
        (r > 0 && m[i - 1] !== l) ||
        (r < n.Columns - 1 && m[i + 1] !== l) ||
        (rr > 0 && m[i - n.Columns] !== l) ||
        (rr < n.Rows - 1 && m[i + n.Columns] !== l);
      return e ? 255 : v;
    });
  }
  return { u8, w: n.Columns, h: n.Rows };
});
const S = 320;
const W = S * tiles.length;
const o = new Uint8Array(W * S);
tiles.forEach((t, k) => {
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      o[y * W + k * S + x] = t.u8[Math.floor((y * t.h) / S) * t.w + Math.floor((x * t.w) / S)];
    }
});
fs.writeFileSync(out, encodeGrayPng(o, W, S));
