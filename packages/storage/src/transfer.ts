import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from './store';

/** How many objects move at once between a folder and the store. */
const PARALLEL = 8;

async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
}

/**
 * Copies every object under `prefix` (ending in `/`) to `dir`, keeping the rest of each key as its path;
 * returns the keys copied. Rejects (NotFoundError, UnavailableError) when one cannot be.
 */
export async function downloadPrefix(store: ObjectStore, prefix: string, dir: string): Promise<string[]> {
  const keys = await store.list(prefix);
  await eachLimited(keys, (key) =>
    store.getToFile(key, path.join(dir, ...key.slice(prefix.length).split('/'))),
  );
  return keys;
}

/** The files under `dir` (recursively), as `/`-separated relative paths, sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** Puts every file under `dir` to `<prefix>/<relative path>`; returns the keys written. */
export async function uploadDir(store: ObjectStore, dir: string, prefix: string): Promise<string[]> {
  const files = await filesUnder(dir);
  const keys = files.map((f) => `${prefix}/${f}`);
  await eachLimited(files, (f) =>
    store.putFile(`${prefix}/${f}`, path.join(dir, ...f.split('/'))).then(() => undefined),
  );
  return keys;
}
