// Package enginefake provides stateful fakes of the Camunda 8 and Camunda 7
// REST APIs for tests.
//
// [NewCamunda8] serves the batch-operation endpoints of the Orchestration
// Cluster REST API under /v2 (searches with filters, sorts, the four page
// shapes and the 10,000 cap on totalItems; GET by key), with no auth, basic
// auth or OAuth 2.0 client credentials ([TokenPath]). [NewCamunda7] serves the
// batch endpoints of the Camunda 7 engine REST API under /engine-rest
// (runtime, statistics, history, counts, offset paging, sortBy/sortOrder
// validation). Both follow /work/shared/domain/camunda8-batch-operations.md
// and camunda7-batches.md; e2e/enginefake.test.mjs checks the Camunda 8 fake
// against the official SDK's zod schemas.
//
// Each fake is an http.Handler (use it with httptest.NewServer) with a
// goroutine-safe state API for tests (add records, advance an operation item
// by item, finish a batch), switchable faults ([Fault]: error statuses with
// Retry-After, garbage bodies, delays, hangs, dropped connections), a request
// log and an in-flight counter. Paths under /__fake/ are the fakes' own, not
// Camunda's: GET /__fake/requests lists the request log as JSON and
// GET /__fake/inflight the in-flight counter. The enginefake command serves
// both fakes on one port for Node tests, with state changes through
// [NewControl].
package enginefake
