// Package syncer keeps the read model current from the engines' REST APIs
// while serve serves (contract §8): Camunda 8 batch operations and items
// (camunda8.go) and Camunda 7 batches with their statistics and history
// (camunda7.go).
//
// Each configured engine is a source with its own goroutine: a full
// reconciliation at once and every Config.FullInterval (everything the
// engine returns), and a poll of running work every Config.Interval whose
// cost follows the running work, not the archive. Requests go through a
// client (client.go) with a timeout, at most two in flight per engine,
// retries with exponential backoff and full jitter on overload answers,
// honouring Retry-After, and 401/403 reported as authentication failures;
// auth.go adds OAuth 2.0 client credentials (token cached until shortly
// before it expires) or basic auth.
//
// What the sync reads becomes a stream of normalized, idempotent upserts:
// the importer decodes each record of a response into an importer.Patch
// with the same validation as import (importer.DecodeResponse), record by
// record, so a bad record is quarantined (listed in Status, retried) while
// the others go on. The patches go to an Applier: StoreApplier writes them
// to the local bbolt in bounded transactions through storage's upsert seam
// (unchanged records are not rewritten); a replicated log can sit between
// the sync and the stores instead. Status (status.go) is what syncStatus,
// /healthz and the metrics show.
package syncer
