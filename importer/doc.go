// Package importer has one job: it reads the engines' JSON and NDJSON
// (contract §5), turns every record into a Patch, and applies the patches to
// the store through storage's upsert seam.
//
// An import is File, Reader (standard input, spooled to a temp file) or Open
// (an open file, e.g. a request body POST /import spooled). An input without
// a single JSON value and an engine's error response are refused as such
// (*Error); a search response that holds part of its result is imported
// with a warning (Stats.Warnings).
//
// The importer never opens bbolt itself: the check pass reads through
// storage.Store.View, the write pass writes with storage.Writer's UpsertBatch, UpsertBatchOperation and UpsertItem inside
// storage.Store.Update transactions whose size it chooses, and storage keeps
// the indexes and counters in the same transaction. Each upsert's
// storage.Outcome (New, Updated, Unchanged) is what Stats counts.
//
// A file is read twice. The check pass parses and validates every record and
// checks the rules that depend on stored state (a record that lacks a field a
// new record needs must update a record that is stored or comes earlier in
// the file); it writes nothing, so bad input leaves the database untouched.
// The write pass reads the file again and upserts the records in write
// transactions of Options.BatchSize records. Upserts are idempotent, so
// when the write pass stops part-way (crash, cancelled context) the database
// is consistent and importing the file again completes it.
//
// Neither pass holds the file in memory: a small hand-written JSON scanner
// streams it (a top-level array or the "items" of a search response are read
// one element at a time) and splits each record once into one json.RawMessage
// per known field, sub-slices of its read buffer, without allocating.
// encoding/json (json.Decoder into a struct of json.RawMessage) was measured
// at ~360k item records/s for decoding alone, too slow for two passes within
// the import's speed target (300k records/s); the scanner, validation
// included, is more than twice as fast, and it knows the line of every field
// for error messages.
package importer
