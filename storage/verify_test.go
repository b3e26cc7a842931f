package storage

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// Verify passes on a consistent database and names each kind of damage:
// a wrong counter, a missing index entry, an index entry without record and
// an undecodable record.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	require.NoError(t, s.Verify(ctx), "empty database")
	randomData(21, 20, 20, 300).load(t, s)
	require.NoError(t, s.Verify(ctx))

	damage := func(name string, fn func(tx *bolt.Tx) error, wantMsg string) {
		t.Run(name, func(t *testing.T) {
			s := openTemp(t)
			randomData(21, 20, 20, 300).load(t, s)
			require.NoError(t, s.DB().Update(fn))
			err := s.Verify(ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), wantMsg)
		})
	}
	damage("counter", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounters).Put([]byte("i"), binary.BigEndian.AppendUint64(nil, 1))
	}, `counter "i" is 1, a recount gives 300`)
	damage("missing index entry", func(tx *bolt.Tx) error {
		b := tx.Bucket(itemKind.indexes[1].bucket)
		k, _ := b.Cursor().First()
		return b.Delete(k)
	}, "is missing")
	damage("orphan index entry", func(tx *bolt.Tx) error {
		return tx.Bucket(itemKind.indexes[2].bucket).Put([]byte{tagKeyStr, 'x', 0, 1}, nil)
	}, "belongs to no record")
	damage("undecodable record", func(tx *bolt.Tx) error {
		b := tx.Bucket(operationKind.primary.bucket)
		k, _ := b.Cursor().First()
		return b.Put(k, []byte{0xEE})
	}, "batch operation")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Verify(cctx), context.Canceled)
}
