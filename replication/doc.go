// Package replication keeps several batchql servers' bbolt files equal
// through a NATS JetStream stream (contract §13): writes are published to
// the stream as batches of normalized patches (importer.Patch), and every
// server applies the stream in order to its own database, exactly once.
//
// # Seams
//
//   - Start(ctx, store, Config) connects, creates the stream and the lease
//     bucket when missing, and applies the stream from the sequence after
//     the one the store holds (storage.Reader.Applied). Close stops it.
//   - Node.Apply(ctx, patches): publish without a fence and wait for the
//     local apply; returns what the apply did (Written, Rejected). The
//     write of POST /import in --nats mode.
//   - Node.Lead(ctx, fn): compete for the sync lease; fn runs while this
//     server holds it, with a *Leader whose Apply publishes fenced by the
//     leader's term — the live sync's Applier in --nats mode.
//   - Node.Status(): applied sequence, tail, lag, readiness and the
//     leader, for /readyz, syncStatus and the replication metrics.
//
// # Files
//
//   - message.go: the message format (NDJSON of patches, at most 900 KiB;
//     headers Nats-Msg-Id and Batchql-Fence).
//   - publish.go: publishing with awaited acknowledgements, retried under
//     the same message id.
//   - apply.go: the exactly-once apply (sequence and fence stored in the
//     same transaction as the writes), fencing of stale leaders, and the
//     dry run that keeps patches which change nothing off the stream.
//   - lease.go: the lease in a key-value bucket (TTL, renewal, term).
//   - node.go: connection, stream and bucket, the ordered consumer, the
//     tail check behind readiness and lag.
package replication
