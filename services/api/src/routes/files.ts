import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { NotFoundError } from '@lumbar/core';
import { isObjectLocation, openObjectStore, type ObjectStore } from '@lumbar/storage';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { requireResult } from '../results';
import { AUTH_ERRORS, binary, errors, IdParams } from '../schemas';

/**
 * A file name of an analysis' outputs as the worker writes them (`sr.dcm`, `key-images/1.png`): relative,
 * segments of letters, digits, `.`, `_` and `-`, none of them `.` or `..`. The name comes from the database,
 * not from the request, but it still never reaches the file system otherwise (no NUL, no absolute path, no
 * backslash, no traversal).
 */
const SAFE_SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
export function isSafeOutputName(file: string): boolean {
  const segments = file.split('/');
  return segments.length <= 4 && segments.every((s) => SAFE_SEGMENT.test(s) && s !== '.' && s !== '..');
}

const inside = (root: string, full: string) => full.startsWith(root + path.sep);

/**
 * Reads a file of an analysis' output folder; a name that is not a plain relative name, or that leads out of
 * the folder (also through a symbolic link), is refused as missing (404), and so is anything that is not a
 * regular file.
 */
async function readOutput(outputDir: string, file: string, what: string): Promise<Buffer> {
  if (!isSafeOutputName(file)) throw new NotFoundError(`${what}: not a valid file name`);
  if (isObjectLocation(outputDir)) throw new NotFoundError(`${what}: the outputs are in an object store`);
  const root = path.resolve(outputDir);
  const full = path.resolve(root, file);
  if (!inside(root, full)) throw new NotFoundError(`${what}: not in the output folder`);
  try {
    const real = await realpath(full);
    if (!inside(await realpath(root), real)) throw new NotFoundError(`${what}: not in the output folder`);
    if (!(await stat(real)).isFile()) throw new NotFoundError(`${what}: not a file`);
    return await readFile(real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${what}: file missing`);
    throw err;
  }
}

/**
 * LUMBAR_STORAGE=s3: reads a file of an analysis' outputs from the bucket (`outputDir` is
 * `s3://<bucket>/<prefix>outputs/<study>/<analysis>`); the same names are refused as on disk. A bucket that
 * cannot be reached is an UnavailableError (503); outputs in another bucket or prefix than this node's are 404.
 */
async function readObjectOutput(
  objects: ObjectStore | null,
  outputDir: string,
  file: string,
  what: string,
): Promise<Buffer> {
  if (!isSafeOutputName(file)) throw new NotFoundError(`${what}: not a valid file name`);
  const key = objects?.keyOf(outputDir);
  if (!objects || !key) throw new NotFoundError(`${what}: the outputs are not in this node's object store`);
  try {
    return await objects.get(`${key}/${file}`);
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`${what}: file missing`);
    throw err;
  }
}

/** The `filename` of a Content-Disposition: the base name, with any character outside [A-Za-z0-9._-] as _. */
export function dispositionName(file: string): string {
  return path.posix.basename(file).replace(/[^A-Za-z0-9._-]/g, '_') || 'download';
}

/** Sends one DICOM output of an analysis as a Part 10 download, or 404 when it is not there. */
async function sendDicom(
  reply: FastifyReply,
  read: OutputReader,
  outputDir: string,
  output: { file: string } | undefined,
  what: string,
) {
  if (!output) throw new NotFoundError(`${what}: none`);
  const bytes = await read(outputDir, output.file, what);
  return reply
    .type('application/dicom')
    .header('content-disposition', `attachment; filename="${dispositionName(output.file)}"`)
    .send(bytes);
}

/** Reads one file of an analysis' outputs, wherever they are (disk or bucket). */
type OutputReader = (outputDir: string, file: string, what: string) => Promise<Buffer>;

const FILE_ERRORS = errors(...AUTH_ERRORS, 404);

/** Downloads: the DICOM SEG (per view), the DICOM SR, and the key images as PNG. */
export const fileRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;
  // LUMBAR_STORAGE=s3: outputs whose outputDir is s3://... are read from the bucket; the others from disk
  const objects = openObjectStore(deps.config.storage);
  if (objects) app.addHook('onClose', async () => objects.close());
  const read: OutputReader = (outputDir, file, what) =>
    isObjectLocation(outputDir)
      ? readObjectOutput(objects, outputDir, file, what)
      : readOutput(outputDir, file, what);

  app.get(
    '/studies/:id/seg',
    {
      schema: {
        tags: ['files'],
        summary: 'The DICOM Segmentation of the discs in one view',
        params: IdParams,
        querystring: Type.Object({ view: Type.Enum(['sagittal', 'axial']) }),
        response: {
          200: binary('application/dicom', 'DICOM Part 10 file (Segmentation Storage)'),
          ...FILE_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { study, analysis } = await requireResult(db, request.params.id);
      const view = request.query.view;
      const seg = analysis.outputs.find((o) => o.kind === 'seg' && o.view === view);
      return sendDicom(reply, read, analysis.outputDir, seg, `study ${study.id}: ${view} segmentation`);
    },
  );

  app.get(
    '/studies/:id/sr',
    {
      schema: {
        tags: ['files'],
        summary: 'The DICOM Structured Report (TID 1500) of the findings',
        params: IdParams,
        response: {
          200: binary('application/dicom', 'DICOM Part 10 file (Comprehensive SR, TID 1500)'),
          ...FILE_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { study, analysis } = await requireResult(db, request.params.id);
      const sr = analysis.outputs.find((o) => o.kind === 'sr');
      return sendDicom(reply, read, analysis.outputDir, sr, `study ${study.id}: structured report`);
    },
  );

  app.get(
    '/studies/:id/key-images/:n.png',
    {
      schema: {
        tags: ['files'],
        summary: 'Key image n (1-based) as PNG: the discs outlined, with the diagnosis',
        params: Type.Object({ ...IdParams.properties, n: Type.Integer({ minimum: 1, maximum: 1000 }) }),
        response: { 200: binary('image/png', 'PNG image'), ...FILE_ERRORS },
      },
    },
    async (request, reply) => {
      const { analysis } = await requireResult(db, request.params.id);
      const n = request.params.n;
      const bytes = await read(analysis.outputDir, path.join('key-images', `${n}.png`), `key image ${n}`);
      return reply.type('image/png').send(bytes);
    },
  );
};
