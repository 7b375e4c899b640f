export type {
  TargetClient,
  TargetKind,
  TargetCallOptions,
  ObserveOptions,
  DeliveryRequest,
  SourceVersionFacts,
  DeliveryOutcome,
  DeleteOutcome,
  ValidationProblem,
} from './contract.js';
export { TransientTargetError } from './contract.js';
