// Package demo makes the demo data set and writes it into a store: `serve
// --demo` and the demo command fill a database with it, tests and the
// benchmark tools (e2e/bench) generate it. It depends only on storage's
// exported API: Write stores records with storage.Writer's Put methods in
// bounded storage.Store.Update transactions; Generate hands them to a
// callback without a store.
//
// The data set is a deterministic, realistic synthetic set of Camunda 7
// batches and Camunda 8 batch operations with their items that obeys the
// engines' invariants (see shared/domain). One seed always gives the same
// records in the same order.
//
// Order of records: all batches (by start time), then every operation
// followed by its items in item-key order. Numeric operation keys come
// first in key order, then the legacy (UUID) operations in key order, so a
// store receives its primary keys sequentially. An operation works through
// its items in key order: the processed ones come first, with processedDate
// rising along the keys (give or take a few items), then the ACTIVE or
// CANCELED rest; so the per-operation state and date indexes grow almost
// by appending, which keeps writing giant operations cheap.
//
// Sizes: the item total is Operations×ItemsPerOperation. The largest
// operation gets max(T/10, min(T/4, 2500)) items, large sets (≥1000 and
// ≥10000 operations) get one or two more giants of 90% and 80% of that; the
// rest is spread by a log-normal distribution (σ=1.6), so most operations
// have 1–100 items and a few thousands.
package demo
