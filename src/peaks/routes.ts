import { actorFields, auditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import { agentScope } from '../auth/permissions.js';
import { NotFoundError } from '../errors.js';
import type { SecureRouter } from '../http/secure-router.js';
import type { RecordingStore } from '../recordings/store.js';
import type { PeaksService } from './service.js';

/**
 * `GET /v1/recordings/{id}/peaks`: the waveform of a recording for the console's player. Peaks
 * reveal the call's envelope (who spoke when, and how loud), so they are guarded like the
 * recording itself: recording:view, the agent scope, 404 across tenants, an audited read
 * (`media.peaks`, durable before the answer leaves) and no-store.
 */
export interface PeaksRouteDeps {
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly peaks: Pick<PeaksService, 'get'>;
}

export function registerPeaksRoutes(router: SecureRouter, deps: PeaksRouteDeps): void {
  router.route({
    method: 'get', path: '/v1/recordings/:id/peaks', permission: 'recording:view',
    handler: async (req, res, ctx) => {
      res.setHeader('Cache-Control', 'no-store');
      const p = ctx.principal;
      const recording = await deps.recordings.findActive(p.tenant, String(req.params.id), agentScope(p, 'recording:view'));
      if (!recording) throw new NotFoundError('No such recording');
      const { peaks, cached } = await deps.peaks.get(recording);
      await deps.audit.record({
        tenant: p.tenant, ...actorFields(auditActor(ctx)), action: 'media.peaks', outcome: 'allowed', recordingId: recording.id,
        details: { cached, channels: peaks.channels, bucketMs: peaks.bucketMs, columns: (peaks.peaks[0]?.length ?? 0) / 2 },
      });
      res.json(peaks);
    },
  });
}
