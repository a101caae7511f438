// The pure domain core: no I/O, no clock (every time is a parameter), no framework imports.
export * from './dag/dag.types';
export * from './dag/dag-input';
export { parseDuration } from './dag/duration';
export { parseMemory } from './dag/memory';
export { imageReferenceProblem, type ImageReferenceProblem } from './dag/image-reference';
export {
  validateDag, dagHash, canonicalJson, nearestNames, suggestName, ID_PATTERN, MAX_ID_LENGTH, VARIABLE_KEY_PATTERN,
  BUILTIN_TASK_DEFAULTS, BUILTIN_DOCKER_DEFAULTS, type FieldSpelling, type ValidateDagOptions,
} from './dag/validate-dag';
export { graphOf, downstreamOf, descendantsOf, ancestorsOf, relativesOf, findCycle, type DagGraph } from './dag/graph';
export { planRun, runOutcome, type OutcomeCursor, type PlannedTransition, type TaskStates } from './dag/plan';
export * from './state/states';
export {
  NEXT, USER_ONLY_EDGES, canTransition, transition, userTransition, decideTransition, assertTransition, assertSteps,
  type TiStep, type TransitionVerdict, type TransitionDecision,
} from './state/state-machine';
export { planMark, planCancel, type MarkState, type PlannedUserChange } from './state/user-actions';
export * from './messages/messages';
export * from './messages/claims';
export * from './errors';
export { evaluateTriggerRule, type TriggerDecision } from './trigger-rules/trigger-rules';
export { retryDelayMs, afterFailure } from './retry/retry';
export { validateSchedule, dueLogicalDates, nextRunAfter, SCHEDULE_PRESETS, type DueLogicalDatesInput } from './schedule/schedule';
export { checkManualLogicalDate, LOGICAL_DATE_FUTURE_TOLERANCE_MS } from './schedule/logical-date';
export { resolveParams, checkParamValue, PARAM_TYPES } from './params/params';
export {
  renderTemplate, renderCommand, renderShellCommand, templateContext, templateProblem, outputTasksRead, TEMPLATE_VARIABLES, type TemplateContext, type TemplateProblem,
} from './templating/templating';
export { ROLES, isRole, roleAllows, type Role } from './auth/roles';
export {
  USER_NAME_PATTERN, MIN_PASSWORD_LENGTH, userNameProblem, passwordProblem,
  type User, type ApiTokenInfo, type AuthMethod, type Caller, type AuditOutcome, type AuditEntry, type AuditWrite,
} from './auth/accounts';
export { planRunUpgrade, upgradeChangesTasks, RunUpgradeError, type RunUpgradePlan } from './dag/upgrade';
export {
  backfillDates, selectBackfillTasks, planBackfill, backfillState, backfillRunId, BackfillRequestError, MAX_BACKFILL_RUNS,
  type BackfillSelection, type BackfillAction, type BackfillDatePlan, type BackfillState, type ExistingBackfillRun,
} from './backfill/backfill';
export {
  parseArtifactsUrl, artifactsUrlOf, runArtifactsLocation, tryArtifactsLocation, logArchiveLocation, logArchiveName, keyPart, keyPartId, ArtifactsUrlError,
  type ArtifactsLocation, type TryRef,
} from './artifacts/artifacts';
export { checkTaskPattern, TaskPatternError, MAX_TASK_PATTERN_LENGTH } from './patterns/task-pattern';
export { unservedQueueReason, type QueueServer } from './workers/queue-coverage';
export {
  awaitsAdoption, DEFAULT_HANDOFF_TIMEOUT_MS, notAdoptedReason, pendingHandOver, type HandedOver, type PendingHandOver, type TryRef as HandedOverTry,
} from './workers/hand-over';
export {
  cacheKey, cacheNamespaceOf, cacheForceMatcher, cacheEntryFresh, imageWithRecordedDigest, versionSetOf, imagePinnedByDigest, cacheHitNeedsWorker,
  type UpstreamResult, type RecordedImage, type RenderedDefinition, type CacheForceMatcher,
} from './cache/cache-key';
export {
  decideReplicas, rememberDecision, checkScalingPolicy, ScalingPolicyError, DEFAULT_SCALING,
  type ScalingPolicy, type GroupLoad, type ScalingMemory, type ScalingAction, type ScalingDecision,
} from './autoscaling/decision';
export { planScaleIn, type GroupWorker, type ScaleInInput, type ScaleInPlan } from './autoscaling/scale-in';
