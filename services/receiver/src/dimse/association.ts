import type { Socket } from 'node:net';
import { join } from 'node:path';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '@lumbar/dicom';
import { dimseStatusLabel, metricsRecorder } from '@lumbar/jobs'; // metrics hook (issue 18)
import { callerAllowed } from '../callers';
import { InstanceFile } from '../instance-file';
import type { ScpContext } from '../scp';
import { STATUS, storeInstance, type StoreResult } from '../store';
import {
  COMMAND,
  decodeCommand,
  encodeResponse,
  hasResponse,
  UNRECOGNIZED_OPERATION,
  type Command,
} from './command';
import {
  ABORT_REASON,
  ABORT_SOURCE,
  decodeAssociateRq,
  decodePDataParts,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodePData,
  encodeRelease,
  PC_RESULT,
  PDU,
  PduError,
  PduReader,
  type AssociateRq,
  type PresentationContextAc,
} from './pdu';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/**
 * The longest P-DATA-TF variable field we receive, advertised in the A-ASSOCIATE-AC. Large PDUs mean fewer
 * PDUs (and fewer PDVs to write) per instance; one PDU is the most an association holds beyond the instance.
 */
export const MAX_PDU_LENGTH = 262_144;
/** A PDU longer than this is refused (A-ABORT) whatever its type: bounds the memory of one connection. */
export const PDU_LENGTH_CAP = 4 * MAX_PDU_LENGTH;
/** A command set longer than this is refused (A-ABORT): a real one is a few hundred bytes. */
export const MAX_COMMAND_BYTES = 256 * 1024;
/** ARTIM (PS3.8 9.1.5): a connection that sends no A-ASSOCIATE-RQ within this is closed, as is one released. */
export const ARTIM_MS = 30_000;
/** An association idle this long (nothing received, nothing of ours in progress) is aborted. */
export const IDLE_MS = 60_000;

/** A-ASSOCIATE-RJ result, source, reason (PS3.8 table 9-21). */
const RJ = {
  permanent: 1,
  transient: 2,
  serviceUser: 1,
  serviceProviderAcse: 2,
  serviceProviderPresentation: 3,
  calledAeNotRecognized: 7,
  callingAeNotRecognized: 3,
  localLimitExceeded: 2,
  protocolVersionNotSupported: 2,
} as const;

/** ARTIM and idle timeouts (ms), ARTIM_MS and IDLE_MS unless given (tests). */
export interface AssociationTimers {
  artimMs?: number;
  idleMs?: number;
}

interface Accepted {
  abstractSyntax: string;
  transferSyntax: string;
}

/** A response command set, and what to do once it is sent. */
interface Response {
  bytes: Buffer;
  after?: () => void;
}

/** A command whose data set is arriving: into `file` for a C-STORE, skipped for anything else. */
interface Incoming {
  command: Command;
  contextId: number;
  file?: InstanceFile;
  /** The C-STORE's InstanceFile could not be made: the request is answered A700 once its data set ends. */
  failed?: Error;
}

/**
 * One association over one socket (plain or TLS), from the A-ASSOCIATE-RQ to its release or abort: PS3.8's
 * state machine for an acceptor, reduced to what a C-STORE/C-ECHO SCP goes through. C-STORE data sets stream
 * into an InstanceFile and go through storeInstance() exactly as with the dcmjs-dimse SCP (../scp.ts).
 */
export class Association {
  private readonly reader = new PduReader(PDU_LENGTH_CAP);
  private state: 'idle' | 'open' | 'closing' = 'idle';
  private callingAeTitle = '';
  private readonly contexts = new Map<number, Accepted>();
  /** The peer's maximum P-DATA-TF length (0 = no limit): what we send is cut to fit. */
  private peerMaxPdu = 0;
  private commandParts: Buffer[] = [];
  private commandBytes = 0;
  private commandContext = -1;
  private incoming: Incoming | null = null;
  /** Responses leave in request order: each waits for the one before. */
  private tail: Promise<void> = Promise.resolve();
  /** Requests received and not yet answered. */
  private inProgress = 0;
  private paused = false;
  /** When we last answered on this association (performance.now()): the sender's share of the time. */
  private answeredAt: number | undefined;

  private readonly artimMs: number;
  private readonly idleMs: number;

  constructor(
    private readonly ctx: ScpContext,
    private readonly socket: Socket,
    timers: AssociationTimers = {},
  ) {
    this.artimMs = timers.artimMs ?? ARTIM_MS;
    this.idleMs = timers.idleMs ?? IDLE_MS;
    socket.setNoDelay(true); // Nagle's algorithm costs ~45 ms per instance (PITFALLS.md)
    socket.setTimeout(this.artimMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () => this.onTimeout());
    socket.on('error', (err) => {
      if (this.state !== 'closing') ctx.log.warn({ err: err.message }, 'DICOM network error');
    });
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closing') return;
    this.reader.push(chunk);
    try {
      for (let p = this.reader.nextParts(); p; p = this.closing() ? null : this.reader.nextParts())
        this.onPdu(p.type, p.parts);
    } catch (err) {
      if (err instanceof PduError) return this.abort(err.reason, err.message);
      this.ctx.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'DICOM association failed',
      );
      this.abort(ABORT_REASON.notSpecified, 'internal error');
    }
  }

  private closing(): boolean {
    return this.state === 'closing';
  }

  /** One PDU: its body as one buffer, but a P-DATA-TF's as the slices of the chunks it came in. */
  private onPdu(type: number, parts: Buffer[]): void {
    if (type === PDU.pData && this.state !== 'idle') return this.onPData(parts);
    const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (type === PDU.abort) return this.onPeerAbort();
    if (this.state === 'idle') {
      if (type !== PDU.associateRq)
        throw new PduError(`PDU 0x${type.toString(16)} before A-ASSOCIATE-RQ`, ABORT_REASON.unexpectedPdu);
      return this.onAssociateRq(decodeAssociateRq(body));
    }
    if (type === PDU.releaseRq) return this.onReleaseRq();
    throw new PduError(
      `unexpected PDU 0x${type.toString(16)} on an open association`,
      ABORT_REASON.unexpectedPdu,
    );
  }

  private onAssociateRq(rq: AssociateRq): void {
    const calling = rq.callingAeTitle;
    const called = rq.calledAeTitle;
    const host = this.socket.remoteAddress ?? '';
    this.callingAeTitle = calling;
    const reject = (result: number, source: number, reason: number, why: string) => {
      this.ctx.log.warn({ calling, called, host, why }, 'association rejected');
      metricsRecorder(this.ctx.queues).inc('associations', { calling_ae: calling, result: 'rejected' }); // metrics hook
      this.finish(encodeAssociateRj(result, source, reason));
    };
    if ((rq.protocolVersion & 1) === 0) {
      return reject(RJ.permanent, RJ.serviceProviderAcse, RJ.protocolVersionNotSupported, 'protocol version');
    }
    if (called !== this.ctx.dicom.aeTitle) {
      return reject(RJ.permanent, RJ.serviceUser, RJ.calledAeNotRecognized, 'called AE title');
    }
    if (!callerAllowed(this.ctx.dicom.allowedCallers, calling, host)) {
      return reject(RJ.permanent, RJ.serviceUser, RJ.callingAeNotRecognized, 'not in LUMBAR_ALLOWED_CALLERS');
    }
    if (this.ctx.active.size >= this.ctx.dicom.maxAssociations) {
      return reject(
        RJ.transient,
        RJ.serviceProviderPresentation,
        RJ.localLimitExceeded,
        'too many associations',
      );
    }
    this.ctx.active.add(this);
    this.peerMaxPdu = rq.maxPduLength;
    const results: PresentationContextAc[] = rq.presentationContexts.map((pc) => {
      const result = this.negotiate(pc.abstractSyntax, pc.transferSyntaxes);
      if (result.result === PC_RESULT.accept)
        this.contexts.set(pc.id, {
          abstractSyntax: pc.abstractSyntax,
          transferSyntax: result.transferSyntax,
        });
      return { id: pc.id, ...result };
    });
    this.ctx.log.info({ calling, host }, 'association accepted');
    metricsRecorder(this.ctx.queues).inc('associations', { calling_ae: calling, result: 'accepted' }); // metrics hook
    this.state = 'open';
    this.socket.setTimeout(this.idleMs);
    this.send([
      encodeAssociateAc({
        echo: rq.echo,
        applicationContext: rq.applicationContext,
        presentationContexts: results,
        maxPduLength: MAX_PDU_LENGTH,
        implementationClassUid: IMPLEMENTATION_CLASS_UID,
        implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      }),
    ]);
  }

  /** Verification or one of our SOP classes; the first proposed transfer syntax we accept (no transcoding). */
  private negotiate(abstract: string, proposed: string[]): { result: number; transferSyntax: string } {
    const fallback = proposed[0] ?? '1.2.840.10008.1.2';
    if (abstract !== VERIFICATION_SOP_CLASS && !this.ctx.dicom.sopClasses.includes(abstract))
      return { result: PC_RESULT.abstractSyntaxNotSupported, transferSyntax: fallback };
    const ts = proposed.find((t) => this.ctx.dicom.transferSyntaxes.includes(t));
    if (ts) return { result: PC_RESULT.accept, transferSyntax: ts };
    return { result: PC_RESULT.transferSyntaxesNotSupported, transferSyntax: fallback };
  }

  private onPData(body: Buffer[]): void {
    for (const pdv of decodePDataParts(body)) {
      if (!this.contexts.has(pdv.contextId))
        throw new PduError(`PDV on presentation context ${pdv.contextId}, not accepted`);
      if (pdv.command) {
        if (this.incoming)
          throw new PduError('command fragment inside a data set', ABORT_REASON.unexpectedPduParameter);
        if (this.commandParts.length > 0 && this.commandContext !== pdv.contextId)
          throw new PduError(
            'command fragments on two presentation contexts',
            ABORT_REASON.unexpectedPduParameter,
          );
        this.commandContext = pdv.contextId;
        for (const d of pdv.data) {
          this.commandParts.push(d);
          this.commandBytes += d.length;
        }
        if (this.commandBytes > MAX_COMMAND_BYTES)
          throw new PduError(
            `command set over ${MAX_COMMAND_BYTES} bytes`,
            ABORT_REASON.invalidPduParameterValue,
          );
        if (!pdv.last) continue;
        const bytes =
          this.commandParts.length === 1
            ? this.commandParts[0]
            : Buffer.concat(this.commandParts, this.commandBytes);
        this.commandParts = [];
        this.commandBytes = 0;
        let command: Command;
        try {
          command = decodeCommand(bytes);
        } catch (err) {
          throw new PduError(`command set: ${(err as Error).message}`, ABORT_REASON.invalidPduParameterValue);
        }
        this.onCommand(command, pdv.contextId);
      } else {
        const incoming = this.incoming;
        if (!incoming || incoming.contextId !== pdv.contextId)
          throw new PduError('data set fragment without its command', ABORT_REASON.unexpectedPduParameter);
        for (const d of pdv.data)
          if (incoming.file && !incoming.file.write(d)) this.backPressure(incoming.file);
        if (pdv.last) {
          this.incoming = null;
          this.onDataSet(incoming);
        }
      }
    }
  }

  /**
   * Stops reading the socket until the file has taken what it was given: its 'drain', or its 'finish' when the
   * data set ended meanwhile (a Writable that is ending emits no 'drain').
   */
  private backPressure(file: InstanceFile): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
    const resume = () => {
      file.off('drain', resume);
      file.off('finish', resume);
      file.off('close', resume);
      this.paused = false;
      if (!this.closing()) this.socket.resume();
    };
    file.on('drain', resume);
    file.on('finish', resume);
    file.on('close', resume);
  }

  private onCommand(command: Command, contextId: number): void {
    const field = command.commandField;
    if (field === COMMAND.cStoreRq) {
      if (!command.hasDataSet) return this.answerStore(command, contextId, undefined);
      const incoming: Incoming = { command, contextId };
      try {
        const file = new InstanceFile(join(this.ctx.dataDir, 'incoming'), {
          sopClassUid: command.str(0x0002) ?? '',
          sopInstanceUid: command.str(0x1000) ?? '',
          transferSyntaxUid: this.contexts.get(contextId)?.transferSyntax ?? '',
          callingAeTitle: this.callingAeTitle,
        });
        if (this.answeredAt !== undefined) file.senderMs = file.startedAt - this.answeredAt;
        incoming.file = file;
      } catch (err) {
        incoming.failed = err instanceof Error ? err : new Error(String(err));
      }
      this.incoming = incoming;
      return;
    }
    if (field !== undefined && hasResponse(field)) {
      if (command.hasDataSet) this.incoming = { command, contextId };
      else this.onDataSet({ command, contextId });
      return;
    }
    this.ctx.log.warn(
      { calling: this.callingAeTitle, commandField: field },
      'DIMSE command without a response form',
    );
    this.abort(ABORT_REASON.notSpecified, 'unrecognised DIMSE command', ABORT_SOURCE.user);
  }

  /** The request (and its data set, if any) is whole: answer it, in turn. */
  private onDataSet(incoming: Incoming): void {
    const { command, contextId } = incoming;
    if (command.commandField === COMMAND.cStoreRq) {
      if (incoming.failed) return this.answerStore(command, contextId, Promise.reject(incoming.failed));
      const file = incoming.file!;
      file.end();
      return this.answerStore(command, contextId, storeInstance(this.ctx, file));
    }
    const status = command.commandField === COMMAND.cEchoRq ? STATUS.success : UNRECOGNIZED_OPERATION;
    this.respond(contextId, Promise.resolve({ bytes: encodeResponse(command, status) }));
  }

  private answerStore(command: Command, contextId: number, stored: Promise<StoreResult> | undefined): void {
    const answer = (r: StoreResult): Response => {
      this.answeredAt = performance.now();
      const comment = r.comment && r.status !== STATUS.success ? r.comment : undefined;
      return {
        bytes: encodeResponse(command, r.status, { comment }),
        // metrics hook: fire-and-forget, counted once the response is on its way (it costs ~0.4 ms of CPU)
        after: () =>
          metricsRecorder(this.ctx.queues).inc('instances', {
            calling_ae: this.callingAeTitle,
            status: dimseStatusLabel(r.status),
          }),
      };
    };
    if (!stored)
      return this.respond(
        contextId,
        Promise.resolve(answer({ status: STATUS.cannotUnderstand, comment: 'no data set' })),
      );
    const response = stored.then(answer).catch((err: unknown) => {
      // Never leave a C-STORE without a response: that aborts the sender's association.
      this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'C-STORE handler failed');
      return answer({ status: STATUS.outOfResources, comment: 'internal error' });
    });
    this.respond(contextId, response);
  }

  /** Sends the response once those before it are out (responses go in request order). */
  private respond(contextId: number, response: Promise<Response>): void {
    this.inProgress++;
    this.tail = this.tail
      .then(() => response)
      .then(({ bytes, after }) => {
        this.send(encodePData(contextId, true, bytes, this.peerMaxPdu));
        after?.();
      })
      .catch((err: unknown) =>
        this.ctx.log.error(
          { err: err instanceof Error ? err.message : String(err) },
          'DIMSE response failed',
        ),
      )
      .finally(() => this.inProgress--);
  }

  private send(pdus: Buffer[]): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    if (pdus.length === 1) {
      s.write(pdus[0]);
      return;
    }
    s.cork();
    for (const p of pdus) s.write(p);
    s.uncork();
  }

  private onReleaseRq(): void {
    this.dropIncoming();
    this.state = 'closing';
    this.socket.setTimeout(this.artimMs);
    // the requests still in progress are answered first, then A-RELEASE-RP
    void this.tail.then(() => this.finish(encodeRelease(PDU.releaseRp)));
  }

  private onPeerAbort(): void {
    this.ctx.log.warn({ calling: this.callingAeTitle }, 'association aborted by the peer');
    this.state = 'closing';
    this.dropIncoming();
    this.socket.destroy();
  }

  /** A-ABORT (source: the service provider unless said) and close: a PDU we cannot follow. */
  private abort(reason: number, why: string, source: number = ABORT_SOURCE.provider): void {
    if (this.state === 'closing') return;
    this.ctx.log.warn({ calling: this.callingAeTitle, why, reason }, 'association aborted');
    this.dropIncoming();
    this.finish(encodeAbort(source, source === ABORT_SOURCE.provider ? reason : 0));
  }

  /** Sends a last PDU and closes our side; the peer closes the connection (or ARTIM does). */
  private finish(last: Buffer): void {
    this.state = 'closing';
    this.socket.setTimeout(this.artimMs);
    if (this.socket.destroyed) return;
    this.socket.end(last);
    this.socket.resume();
  }

  /** The data set being received will not be: its file goes. */
  private dropIncoming(): void {
    const file = this.incoming?.file;
    this.incoming = null;
    this.commandParts = [];
    if (file) {
      file.end();
      void file.discard();
    }
  }

  private onTimeout(): void {
    if (this.state === 'open' && (this.inProgress > 0 || this.paused)) {
      this.socket.setTimeout(this.idleMs); // our side is busy (storing, or the disk is slow): not idle
      return;
    }
    if (this.state === 'idle') {
      this.ctx.log.warn({ host: this.socket.remoteAddress }, 'no A-ASSOCIATE-RQ in time (ARTIM): closed');
      this.socket.destroy();
    } else if (this.state === 'open') {
      this.ctx.log.warn({ calling: this.callingAeTitle, idleMs: this.idleMs }, 'idle association: aborted');
      this.abort(ABORT_REASON.notSpecified, 'idle');
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else {
      this.socket.destroy();
    }
  }

  private onClose(): void {
    this.ctx.active.delete(this);
    this.dropIncoming(); // a connection lost mid data set: the partial file goes
    this.state = 'closing';
    this.socket.setTimeout(0);
  }
}
