package storage

// Matchers evaluate a filter on one decoded record with exactly the
// semantics of the queries' filters (filter.go): the change feed's
// subscribers use them to test a changed record's new state.

// MatchBatch returns the predicate of f. A bad filter (a malformed like
// pattern) is an *InputError naming the argument.
func MatchBatch(f *BatchFilter) (func(*Batch) bool, error) {
	if f == nil {
		return func(*Batch) bool { return true }, nil
	}
	ts, err := batchTerms(f)
	return matcher(ts), err
}

// MatchBatchOperation returns the predicate of f; see MatchBatch.
func MatchBatchOperation(f *BatchOperationFilter) (func(*BatchOperation) bool, error) {
	if f == nil {
		return func(*BatchOperation) bool { return true }, nil
	}
	ts, err := operationTerms(f)
	return matcher(ts), err
}

// MatchItem returns the predicate of f; see MatchBatch.
func MatchItem(f *BatchOperationItemFilter) (func(*BatchOperationItem) bool, error) {
	if f == nil {
		return func(*BatchOperationItem) bool { return true }, nil
	}
	ts, err := itemTerms(f)
	return matcher(ts), err
}

func matcher[R any](ts []term[R]) func(*R) bool {
	return func(r *R) bool {
		for _, t := range ts {
			if !t.pred(r) {
				return false
			}
		}
		return true
	}
}
