package storage

import (
	"time"
)

// Batch is a Camunda 7 batch: the runtime record (GET /batch), its statistics
// (GET /batch/statistics) and the historic record (GET /history/batch) merged
// by BatchID. Field names follow the GraphQL schema so gqlgen binds them.
type Batch struct {
	BatchID                string
	Type                   string
	TotalJobs              int
	JobsCreated            *int
	BatchJobsPerSeed       *int
	InvocationsPerBatchJob *int
	SeedJobDefinitionID    *string
	MonitorJobDefinitionID *string
	BatchJobDefinitionID   *string
	Suspended              bool
	TenantID               *string
	CreateUserID           *string
	StartTime              *time.Time
	ExecutionStartTime     *time.Time
	EndTime                *time.Time
	RemovalTime            *time.Time
	Statistics             *BatchStatistics
}

// Completed reports whether the batch has ended (the historic endTime is set).
func (b *Batch) Completed() bool { return b.EndTime != nil }

// failing reports Camunda 7's withFailures: statistics with failed jobs.
func (b *Batch) failing() bool { return b.Statistics != nil && b.Statistics.FailedJobs > 0 }

// BatchStatistics are the job counts of GET /batch/statistics.
type BatchStatistics struct {
	RemainingJobs int
	CompletedJobs int
	FailedJobs    int
}

// BatchOperation is a Camunda 8 batch operation with its errors inline.
type BatchOperation struct {
	BatchOperationKey        string
	BatchOperationType       OperationType
	State                    OperationState
	StartDate                *time.Time
	EndDate                  *time.Time
	ActorType                *ActorType
	ActorID                  *string
	OperationsTotalCount     int
	OperationsFailedCount    int
	OperationsCompletedCount int
	Errors                   []BatchOperationError
}

// BatchOperationError is the error one partition reported for an operation.
type BatchOperationError struct {
	PartitionID int
	Type        ErrorType
	Message     string
}

// BatchOperationItem is one item of a Camunda 8 batch operation.
type BatchOperationItem struct {
	BatchOperationKey      string
	ItemKey                string
	OperationType          OperationType
	ProcessInstanceKey     *string
	RootProcessInstanceKey *string
	State                  ItemState
	ProcessedDate          *time.Time
	ErrorMessage           *string
}

// The Camunda 8 enums. Values are the engines' names; the lists below are the
// closed sets the GraphQL schema declares, and the order of each list is the
// one-byte code of the value encoding, so it may only grow at the end.
type (
	OperationType  string
	OperationState string
	ItemState      string
	ActorType      string
	ErrorType      string
)

var (
	OperationTypes = []OperationType{
		"ADD_VARIABLE", "CANCEL_PROCESS_INSTANCE", "DELETE_DECISION_DEFINITION",
		"DELETE_DECISION_INSTANCE", "DELETE_PROCESS_DEFINITION", "DELETE_PROCESS_INSTANCE",
		"MIGRATE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "RESOLVE_INCIDENT",
		"RESUME_PROCESS_INSTANCE", "SUSPEND_PROCESS_INSTANCE", "UPDATE_JOB", "UPDATE_VARIABLE",
	}
	OperationStates = []OperationState{
		"CREATED", "ACTIVE", "SUSPENDED", "COMPLETED", "PARTIALLY_COMPLETED", "CANCELED", "FAILED",
	}
	ItemStates = []ItemState{"ACTIVE", "COMPLETED", "SKIPPED", "CANCELED", "FAILED"}
	ActorTypes = []ActorType{"ANONYMOUS", "CLIENT", "UNKNOWN", "USER"}
	ErrorTypes = []ErrorType{"QUERY_FAILED", "RESULT_BUFFER_SIZE_EXCEEDED"}
)

func enumCode[E ~string](list []E, v E) (byte, bool) {
	for i, x := range list {
		if x == v {
			return byte(i), true
		}
	}
	return 0, false
}

// Valid reports whether v is one of the known values.
func (v OperationType) Valid() bool  { _, ok := enumCode(OperationTypes, v); return ok }
func (v OperationState) Valid() bool { _, ok := enumCode(OperationStates, v); return ok }
func (v ItemState) Valid() bool      { _, ok := enumCode(ItemStates, v); return ok }
func (v ActorType) Valid() bool      { _, ok := enumCode(ActorTypes, v); return ok }
func (v ErrorType) Valid() bool      { _, ok := enumCode(ErrorTypes, v); return ok }
