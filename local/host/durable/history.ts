/** History event types (durable-functions `HistoryEventType`, DurableTask.Core `EventType`). */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

/** Names of the event types, as the status API prints them. */
export const EVENT_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([name, value]) => [value, name]));

/** Failure details on the wire (PascalCase), as the extension writes them into TaskFailed / sub-orchestration failures. */
export interface FailureDetailsDto {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable: boolean;
  Properties?: Record<string, unknown>;
  InnerFailure?: FailureDetailsDto;
}

/** One history event (PascalCase fields, numeric `EventType`, ISO `Timestamp`). */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Version?: string;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetailsDto;
  OrchestrationStatus?: string;
}

/** Creates a history event with the common fields set. */
export function historyEvent(type: number, timestamp: Date, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: timestamp.toISOString(), ...fields };
}

/** The sequence id a completion event answers, if any. */
export function completedTaskId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}

/** Whether the event records newly scheduled work (its `EventId` is the task's sequence id). */
export function isSchedulingEvent(event: HistoryEvent): boolean {
  return (
    event.EventType === EventType.TaskScheduled ||
    event.EventType === EventType.TimerCreated ||
    event.EventType === EventType.SubOrchestrationInstanceCreated
  );
}
