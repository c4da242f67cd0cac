export * from './types.js';
export { actorFields, auditActor, type ActorRequest, type AuditActor, type SystemActorName } from './actor.js';
export { ChainedAuditLog, type ChainedAuditLogOptions } from './chain-writer.js';
export { canonicalEvent, hashEvent, jcs } from './canonical.js';
export {
  ANCHOR_PREFIX, ensureAnchorKey, loadAnchors, loadAnchorsFromDir, loadPublicKey, publicKeyPathFor, signAnchor,
  startAnchorSchedule, type AnchorKey, type AnchorSchedule, type SignedAnchor,
} from './anchors.js';
export { streamAuditExport, type AuditExportFilters, type AuditExportFormat } from './export.js';
export { verifyEvents, verifyExportFile, verifyTable, type FileVerifyResult, type VerifyOptions } from './verify.js';
export { ExportSlots, type AuditExportDeps } from './export-limits.js';
export { handleAuditExport, parseExportQuery, type AuditRouteContext, type AuditRouteDeps } from './routes.js';
export { cliAuditAnchor, cliAuditExport, cliAuditVerify, type AuditCliDeps } from './cli.js';
