// Package storage is batchql's read model: Camunda 7 batches, Camunda 8
// batch operations and their items in one bbolt file, with the indexes and
// counters that answer the GraphQL connections (filters, multi-field
// orderBy, cursors, totalCount) without scanning more than a page.
//
// # Buckets
//
//   - "meta": the schema version ("schema" → 1). Open refuses a file of
//     another version. "counted" lists the counter sets the file keeps
//     (upgrade.go), one a line, each named by its counters' name prefix
//     ("b", "b/TYPE/", "b/TENANT_ID/", "b/TENANT_ID,TYPE/", ...); a file
//     without it keeps the first schema's sets (all but the two TENANT_ID
//     ones). A replica (package replication) also keeps
//     "applied/<stream>" → 16 bytes: the stream sequence of the last applied
//     message and the highest fencing token seen, both 8-byte big-endian
//     (meta.go), written in the same transaction as that message's records.
//   - one primary bucket per kind — "batches", "operations", "items" — keyed
//     by the encoded natural key (batchId; batchOperationKey;
//     batchOperationKey‖itemKey), the value being the encoded record.
//   - secondary index buckets, "ix <kind> [FIELD ...]" (schema.go lists
//     them), whose keys are the encoded field values followed by the
//     record's primary key (value‖key) and whose values are empty. Scanning
//     one yields records already in that order, so a filter on the leading
//     fields plus an orderBy on the next one is a range scan.
//     Batches have TENANT_ID-first indexes (TENANT_ID alone, then with
//     TYPE, START_TIME and END_TIME), so a tenant-scoped list is one range
//     per visible tenant under every orderBy, and FAILING (failedJobs > 0,
//     Camunda 7's withFailures) indexes [FAILING START_TIME] and [FAILING
//     TYPE START_TIME] with, for a tenant scope, TENANT_ID before
//     START_TIME ([FAILING TENANT_ID START_TIME], [FAILING TYPE TENANT_ID
//     START_TIME]): withFailures by start time, with or without a type, is
//     ranges merged by START_TIME with nothing checked per record, scoped
//     or not. Open builds an index bucket a
//     file lacks from its records (in its one write transaction), so a file
//     made before an index existed is upgraded in place, and drops the
//     buckets of indexes the schema no longer has; Verify checks every
//     index entry against the records.
//   - "counters": record totals and per-value counts, 8-byte big-endian
//     integers named "<tag>" or "<tag>/<FIELDS>/<encoded values>" (the
//     values' key encodings concatenated in the FIELDS' order), one per
//     value combination of a counter set (schema.go): batches ("b") by
//     TYPE, TENANT_ID and (TENANT_ID, TYPE); operations ("o") by STATE and
//     OPERATION_TYPE; items ("i") by STATE, BATCH_OPERATION_KEY and
//     (BATCH_OPERATION_KEY, STATE). They answer totalCount for filters of
//     exact equalities on a set's fields (equalities on one field merged
//     first: a tenant scope and a tenantId filter are one TENANT_ID
//     equality), so a tenant-scoped totalCount, alone or with a type, is a
//     counter read per visible tenant; and they help the planner estimate
//     selectivity. A counter that reaches zero is deleted. Open counts a
//     set that "counted" lacks from the records, in its one write
//     transaction, records it and drops the counters of sets the schema no
//     longer has: a file made before a set existed is upgraded once, in
//     place. A read-only Open of such a file does without the index
//     buckets and counter sets it lacks (the planner skips them, counts
//     walk an index instead). Verify recounts every counter of every set.
//     (A file written by an older batchql after a newer one counted it
//     keeps stale tenant counters; Verify reports them.)
//
// # Encodings
//
// Key components (keys.go) are order-preserving and self-delimiting: a tag
// byte, then for decimal keys within int64 and for dates and ints 8
// big-endian bytes with the sign bit flipped, for strings the bytes with
// 0x00 escaped and a 0x00 0x01 terminator; null is the tag 0xFF alone, so it
// sorts last. Natural keys that are decimal numbers sort as numbers, before
// all other keys (UUIDs), which sort bytewise. Components concatenate into
// composite keys that compare correctly bytewise.
//
// Values (codec.go) are a compact binary format: a version byte, varints,
// length-prefixed strings, a presence byte per nullable field, one-byte enum
// codes and dates as Unix nanoseconds. Records returned to callers are
// decoded copies.
//
// # Cursors
//
// A cursor (cursor.go) is base64url of a version byte, the connection, the
// canonical text of the orderBy it was made under, the encoded sort values of
// its record and its primary key. It is a position, not an offset: the next
// page is a seek to it in the chosen index, whatever the depth. A cursor of
// another connection or orderBy, or a garbled one, is an *InputError.
//
// # A query's path
//
// A connection request goes through these files, in this order:
//
//   - the router (web/router.go, NewRouter) hands /query to the GraphQL
//     handler (graph/handler.go);
//   - a graph resolver (graph/schema.resolvers.go; graph/fastlist.go
//     writes the record lists and fetches nested items) converts the arguments
//     (graph/args.go: paging, orderBy, an items connection's parent scope;
//     graph/model/datetime.go: DateTime values, parsed by ParseTime in
//     date.go) into a Query;
//   - the storage query API (query.go: Reader and Store's Batches,
//     BatchOperations, Items, and runQuery) opens one read transaction;
//   - the tenant scope (tenant.go): Store.View takes the caller's tenant
//     scope from the context (WithTenants, set by the web layer from the
//     token); the Reader adds it to a batch query as one more term,
//     tenantId in [ids…] or null, and Reader.Batch returns nil for a batch
//     outside it (as for an unknown one). Terms on one field are merged
//     (plan.go, condsOf), so the planner turns the scope into index
//     prefixes like any `in` filter; totalCount, cursors and
//     hasNextPage/hasPreviousPage are computed on the visible set;
//   - filter terms (filter.go) turn the filter into per-field terms: a
//     predicate on a record and, where an index can answer it, a cond (an
//     equality or a [lo, hi) range of encoded values); dates become ranges
//     on millisecond boundaries, the precision they are served at;
//   - the planner (plan.go), the one place a filter becomes key ranges,
//     picks the index and the ranges of its keys (schema.go lists the
//     indexes); ranges of several prefixes are merged by the key after the
//     prefix, or by the whole key when the order starts with the fields the
//     prefixes fix to several values (orderBy TENANT_ID under a tenant
//     scope);
//   - the scanner (scan.go), the only file of the query engine that touches
//     a bbolt cursor, walks those ranges and checks what the ranges leave;
//   - paging (page.go) checks first/last (PageRequest.Check, the one check
//     of them) and reads the page in order or sorts it, seeking to the
//     positions cursors (cursor.go) decode to, and the page's cursors are
//     encoded when asked for;
//   - counting (count.go) answers totalCount when it is selected, from
//     counters or a key walk, in the same transaction as the page (runQuery
//     merges the terms' conds once, then counts, then plans).
//
// # Transactions
//
// Every write updates the record, its index entries and the counters in the
// same read-write transaction, so a committed database is always
// consistent (Verify checks it). There are two ways to write, both inside a
// caller's Store.Update, whose size is the caller's choice:
//
//   - the upsert seam, Writer.UpsertBatch, UpsertBatchOperation and
//     UpsertItem (upsert.go): the caller names a record by its natural key
//     and gives a merge function, which gets a copy of the stored record
//     (nil when there is none) and returns the record to store. The upsert
//     reports an Outcome: New, Updated, or Unchanged when the merged
//     record encodes to the stored value, and then nothing is written (no
//     record, index or counter write). Every change of a record passes
//     through it, one record at a time in bbolt's single writer, which is
//     where the change feed (feed.go: the records changed by a commit, in
//     commit order) collects its entries. The importer's patches (package
//     importer) write this way: import and POST /import (10,000 records a
//     transaction by default), the live sync and the replication apply.
//   - PutBatch, PutBatchOperation and PutItem store whole records: they
//     are upserts whose merge ignores the stored record, so they write (and
//     feed) exactly what an upsert would. The demo generator (package demo)
//     writes this way, 20,000 records a transaction.
//
// Bounded transactions mean a crash or a cancelled import leaves a
// consistent database holding whole transactions, and because records are
// upserted by natural key, running the import again completes it.
//
// Reads map onto requests as one read transaction per connection field: the
// Store's Batches, BatchOperations and Items methods compute a connection's
// edges, pageInfo and totalCount inside one View, from one snapshot, so
// totalCount always agrees with the page even while an import commits
// alongside (bbolt runs readers concurrently with its single writer). The
// fields of one GraphQL request may come from different snapshots: two
// connections in one query each see the database as of their own read.
// Scans check the request's context every 1024 keys, so a cancelled or
// timed-out request stops reading promptly.
package storage
