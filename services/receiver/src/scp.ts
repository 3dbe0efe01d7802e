import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import dimse from 'dcmjs-dimse';
import type { Config } from '@lumbar/core';
import { dimseStatusLabel, metricsRecorder } from '@lumbar/jobs'; // metrics hook (issue 18)
import { callerAllowed } from './callers';
import { InstanceFile } from './instance-file';
import { STATUS, storeInstance, type StoreContext, type StoreResult } from './store';

const { Scp, Dataset } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason, SopClass, Status } =
  dimse.constants;

type Association = InstanceType<typeof dimse.association.Association>;
type PresentationContext = InstanceType<typeof dimse.association.PresentationContext>;
type CStoreRequest = InstanceType<typeof dimse.requests.CStoreRequest>;
type CEchoRequest = InstanceType<typeof dimse.requests.CEchoRequest>;
type StoreResponse = InstanceType<typeof CStoreResponse>;

export interface ScpContext extends StoreContext {
  dicom: Config['dicom'];
  /** Open associations, shared by all connections of one listener (the cap). */
  active: Set<object>;
}

const FILE = Symbol('lumbar.instanceFile');
type DatasetWithFile = InstanceType<typeof Dataset> & { [FILE]?: InstanceFile };

/** The C-STORE SCP class for dcmjs-dimse's Server, bound to one context. */
export function scpClass(ctx: ScpContext): typeof Scp {
  return class LumbarScp extends Scp {
    private callingAeTitle = '';
    /** When we last answered on this association (performance.now()): the sender's share of the time. */
    private answeredAt: number | undefined;

    private get sock(): Socket {
      return (this as unknown as { socket: Socket }).socket;
    }

    override associationRequested(association: Association): void {
      this.sock.setNoDelay(true); // Nagle's algorithm costs ~45 ms per instance (PITFALLS.md)
      const calling = association.getCallingAeTitle().trim();
      const called = association.getCalledAeTitle().trim();
      const host = this.sock.remoteAddress ?? '';
      this.callingAeTitle = calling;
      const reject = (result: number, source: number, reason: number, why: string) => {
        ctx.log.warn({ calling, called, host, why }, 'association rejected');
        metricsRecorder(ctx.queues).inc('associations', { calling_ae: calling, result: 'rejected' }); // metrics hook
        this.sendAssociationReject(result, source, reason);
      };
      if (called !== ctx.dicom.aeTitle) {
        return reject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CalledAeNotRecognized,
          'called AE title',
        );
      }
      if (!callerAllowed(ctx.dicom.allowedCallers, calling, host)) {
        return reject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CallingAeNotRecognized,
          'not in LUMBAR_ALLOWED_CALLERS',
        );
      }
      if (ctx.active.size >= ctx.dicom.maxAssociations) {
        return reject(
          RejectResult.Transient,
          RejectSource.ServiceProviderPresentation,
          RejectReason.LocalLimitExceeded,
          'too many associations',
        );
      }
      ctx.active.add(this);
      this.sock.once('close', () => ctx.active.delete(this));
      for (const { context } of association.getPresentationContexts()) this.negotiate(context);
      ctx.log.info({ calling, host }, 'association accepted');
      metricsRecorder(ctx.queues).inc('associations', { calling_ae: calling, result: 'accepted' }); // metrics hook
      this.sendAssociationAccept();
    }

    private negotiate(pc: PresentationContext): void {
      const abstract = pc.getAbstractSyntaxUid();
      if (abstract !== SopClass.Verification && !ctx.dicom.sopClasses.includes(abstract)) {
        pc.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
        return;
      }
      // The first proposed transfer syntax we accept: no transcoding, the pipeline decodes them all.
      const ts = pc.getTransferSyntaxUids().find((t) => ctx.dicom.transferSyntaxes.includes(t));
      if (ts) pc.setResult(PresentationContextResult.Accept, ts);
      else pc.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override abort(): void {
      ctx.log.warn({ calling: this.callingAeTitle }, 'association aborted by the peer');
    }

    override cEchoRequest(
      request: CEchoRequest,
      callback: (r: InstanceType<typeof CEchoResponse>) => void,
    ): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    override createStoreWritableStream(pc: PresentationContext, request: CStoreRequest) {
      const file = new InstanceFile(join(ctx.dataDir, 'incoming'), {
        sopClassUid: request.getAffectedSopClassUid(),
        sopInstanceUid: request.getAffectedSopInstanceUid(),
        transferSyntaxUid: pc.getAcceptedTransferSyntaxUid() ?? '',
        callingAeTitle: this.callingAeTitle,
      });
      if (this.answeredAt !== undefined) file.senderMs = file.startedAt - this.answeredAt;
      return file;
    }

    override createDatasetFromStoreWritableStream(
      writable: Writable,
      pc: PresentationContext,
      callback: (dataset: InstanceType<typeof Dataset>) => void,
    ): void {
      // The data set stays on disk; the request only carries the file along to cStoreRequest.
      const ds: DatasetWithFile = new Dataset({}, pc.getAcceptedTransferSyntaxUid());
      ds[FILE] = writable as InstanceFile;
      callback(ds);
    }

    override cStoreRequest(request: CStoreRequest, callback: (r: StoreResponse) => void): void {
      const answer = (r: StoreResult) => {
        this.answeredAt = performance.now();
        const response = CStoreResponse.fromRequest(request);
        response.setStatus(r.status);
        // metrics hook: fire-and-forget, never delays the response
        metricsRecorder(ctx.queues).inc('instances', {
          calling_ae: this.callingAeTitle,
          status: dimseStatusLabel(r.status),
        });
        if (r.comment && r.status !== STATUS.success) response.setErrorComment(r.comment);
        callback(response);
      };
      const file = (request.getDataset() as DatasetWithFile | undefined)?.[FILE];
      if (!file) return answer({ status: STATUS.cannotUnderstand, comment: 'no data set' });
      storeInstance(ctx, file)
        .then(answer)
        .catch((err: unknown) => {
          // Never leave a C-STORE without a response: that aborts the sender's association.
          ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'C-STORE handler failed');
          answer({ status: STATUS.outOfResources, comment: 'internal error' });
        });
    }
  };
}
