#!/usr/bin/env node
// The receiver's file calls per instance, two ways, CPU per instance (user and system, all threads): every call
// through libuv's thread pool (fs/promises: open, writev, fsync, link, unlink, close), against what
// services/receiver does (open, writev and fsync in the pool; link, unlink and close as synchronous calls).
// Four chains at once, as four associations; 260 KB per file, as a phantom instance. Alternating runs.
// Usage: node bench/fs-calls.js [FILES=1000] [ROUNDS=3] [DIR=a new folder under the system's temp folder]
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const files = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);
const root = fs.mkdtempSync(path.join(process.argv[4] ?? os.tmpdir(), 'lumbar-fs-calls-'));
const buffers = [Buffer.alloc(132), ...Array.from({ length: 16 }, () => Buffer.alloc(16_384, 7))];
const [openP, writevP, fsyncP] = [fs.open, fs.writev, fs.fsync].map((f) => promisify(f));

const ways = {
  async pool(dir, i) {
    const [from, to] = [path.join(dir, 'in', `${i}.part`), path.join(dir, 'out', `${i}.dcm`)];
    const fh = await fsp.open(from, 'wx+');
    await fh.writev(buffers, 0);
    await fh.sync();
    await fsp.link(from, to);
    await fsp.unlink(from);
    await fh.close();
  },
  async receiver(dir, i) {
    const [from, to] = [path.join(dir, 'in', `${i}.part`), path.join(dir, 'out', `${i}.dcm`)];
    const fd = await openP(from, 'wx+');
    await writevP(fd, buffers, 0);
    await fsyncP(fd);
    fs.linkSync(from, to);
    fs.unlinkSync(from);
    fs.closeSync(fd);
  },
};

async function run(way, r) {
  const dir = path.join(root, `${way}-${r}`);
  fs.mkdirSync(path.join(dir, 'in'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  const cpu0 = process.cpuUsage();
  let next = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (next < files) await ways[way](dir, next++);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  fs.rmSync(dir, { recursive: true, force: true });
  return [cpu.user / 1000 / files, cpu.system / 1000 / files];
}

(async () => {
  const out = { pool: [], receiver: [] };
  for (let r = 0; r < rounds; r++) for (const way of Object.keys(ways)) out[way].push(await run(way, r));
  for (const [way, runs] of Object.entries(out))
    console.log(
      `${way.padEnd(8)} CPU ms per file (user+system): ${runs.map(([u, s]) => `${u.toFixed(3)}+${s.toFixed(3)}`).join(' / ')}`,
    );
  fs.rmSync(root, { recursive: true, force: true });
})();
