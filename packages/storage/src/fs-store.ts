import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError, NotFoundError, UnavailableError } from '@lumbar/core';
import { isSafeKey, isSafePrefix, type ObjectStore } from './store';

const errno = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The object store as a folder: key `a/b/c` is the file `<root>/a/b/c`. Writes go to a temporary name beside
 * the object, are fsynced, renamed (or linked, with ifAbsent) into place, and the folder is fsynced: what
 * put() resolved survives a power cut, and no reader ever sees half an object.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private file(key: string): string {
    if (!isSafeKey(key))
      throw new InputError(`object key "${key.slice(0, 200)}" is not a plain relative key`);
    return path.join(this.root, ...key.split('/'));
  }

  location(key: string): string {
    return this.file(key);
  }

  keyOf(location: string): string | null {
    const full = path.resolve(location);
    if (!full.startsWith(this.root + path.sep)) return null;
    const key = full
      .slice(this.root.length + 1)
      .split(path.sep)
      .join('/');
    return isSafeKey(key) ? key : null;
  }

  private async write(
    key: string,
    fill: (tmp: string) => Promise<void>,
    ifAbsent: boolean,
  ): Promise<boolean> {
    const final = this.file(key);
    const dir = path.dirname(final);
    const tmp = path.join(dir, `.${path.basename(final)}.${randomUUID()}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      await fill(tmp);
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      let created = true;
      if (ifAbsent) {
        try {
          await link(tmp, final);
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
          created = false;
        }
        await rm(tmp, { force: true });
      } else {
        await rename(tmp, final);
      }
      await fsyncDir(dir);
      return created;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new UnavailableError(`cannot write ${key}: ${(err as Error).message}`);
    }
  }

  async putFile(key: string, file: string, opts: { ifAbsent?: boolean } = {}) {
    const created = await this.write(key, (tmp) => copyFile(file, tmp), opts.ifAbsent ?? false);
    return { created };
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.write(
      key,
      async (tmp) => {
        const fh = await open(tmp, 'wx');
        try {
          await fh.writeFile(body);
        } finally {
          await fh.close();
        }
      },
      false,
    );
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.file(key));
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR' || errno(err) === 'EISDIR')
        throw new NotFoundError(`no object ${key}`);
      throw err;
    }
  }

  async getToFile(key: string, file: string): Promise<void> {
    const from = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    try {
      await pipeline(createReadStream(from), createWriteStream(file));
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'EISDIR') {
        await rm(file, { force: true });
        throw new NotFoundError(`no object ${key}`);
      }
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (!isSafePrefix(prefix))
      throw new InputError(`object prefix "${prefix.slice(0, 200)}" is not a plain prefix`);
    // the folder that holds every key of the prefix, walked; temporary names (.x.tmp) are not objects
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const keys: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (e.isFile() && !e.name.startsWith('.') && key.startsWith(prefix)) keys.push(key);
      }
    };
    await walk(base ? path.join(this.root, ...base.split('/')) : this.root, base);
    return keys.sort();
  }

  async check(): Promise<void> {
    try {
      if (!(await stat(this.root)).isDirectory()) throw new Error('not a folder');
    } catch (err) {
      throw new UnavailableError(`object folder ${this.root}: ${(err as Error).message}`);
    }
  }

  close(): void {}
}
