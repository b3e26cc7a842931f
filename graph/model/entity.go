package model

// ProcessInstance is a Camunda 8 process instance as batchql knows it: only
// its key. It is a federation entity owned by another subgraph; batchql adds
// the batch operation items that touched it (a resolver).
type ProcessInstance struct {
	ProcessInstanceKey string
}

// IsEntity marks ProcessInstance as a federation entity (gqlgen binds the
// _Entity union to fedruntime.Entity, which has this one method).
func (*ProcessInstance) IsEntity() {}
