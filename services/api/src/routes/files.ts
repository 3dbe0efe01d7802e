import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { NotFoundError } from '@lumbar/core';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { requireResult } from '../results';
import { AUTH_ERRORS, binary, errors, IdParams } from '../schemas';

/** Reads a file of an analysis' output folder; a name that would leave the folder is refused. */
async function readOutput(outputDir: string, file: string, what: string): Promise<Buffer> {
  const root = path.resolve(outputDir);
  const full = path.resolve(root, file);
  if (!full.startsWith(root + path.sep)) throw new NotFoundError(`${what}: not in the output folder`);
  try {
    return await readFile(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${what}: file missing`);
    throw err;
  }
}

/** Sends one DICOM output of an analysis as a Part 10 download, or 404 when it is not there. */
async function sendDicom(
  reply: FastifyReply,
  outputDir: string,
  output: { file: string } | undefined,
  what: string,
) {
  if (!output) throw new NotFoundError(`${what}: none`);
  const bytes = await readOutput(outputDir, output.file, what);
  return reply
    .type('application/dicom')
    .header('content-disposition', `attachment; filename="${path.basename(output.file)}"`)
    .send(bytes);
}

const FILE_ERRORS = errors(...AUTH_ERRORS, 404);

/** Downloads: the DICOM SEG (per view), the DICOM SR, and the key images as PNG. */
export const fileRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;

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
      return sendDicom(reply, analysis.outputDir, seg, `study ${study.id}: ${view} segmentation`);
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
      return sendDicom(reply, analysis.outputDir, sr, `study ${study.id}: structured report`);
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
      const bytes = await readOutput(
        analysis.outputDir,
        path.join('key-images', `${n}.png`),
        `key image ${n}`,
      );
      return reply.type('image/png').send(bytes);
    },
  );
};
