export { takeSnapshot, settleSecret, checkFailure, driftedPlacements } from './snapshot.js';
export type { FleetPorts, SnapshotOptions } from './snapshot.js';
export { compareSecret, listedSource, locationOf, observeFromListing, plannedFor } from './compare.js';
export type { ListedSource } from './compare.js';
export { decodeToken, fleetOrder, fleetStatus, placementStatus, FLEET_STATES } from './status.js';
export type { FleetStatus, FleetStatusFilter, FleetStatusSecret, FleetStatusTarget, FleetState, LastDelivery } from './status.js';
export type {
  CheckFailure,
  FleetListingPort,
  FleetPlacement,
  FleetSecret,
  FleetSnapshot,
  ListingCallOptions,
  TargetListing,
  UnlistedSource,
} from './types.js';
export { driftReportView, isReconcileReport } from './report.js';
export type { DriftReportFinding, DriftReportRepair, DriftReportView } from './report.js';
export { latestDriftReportIn } from './reports.js';
