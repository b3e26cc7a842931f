package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Applied is how far a server has applied a replicated stream (package
// replication): the stream sequence of the last message whose writes are
// committed, and the highest fencing token (a lease term) seen up to it.
// Replication stores it with Writer.SetApplied in the same transaction as
// that message's writes, so a crash never separates the two.
type Applied struct {
	Seq   uint64
	Fence uint64
}

func appliedKey(stream string) []byte { return []byte("applied/" + stream) }

// SetApplied records a in the "meta" bucket for the stream, within w's
// transaction. The sequence never goes back: a lower one is an error.
func (w *Writer) SetApplied(stream string, a Applied) error {
	if stream == "" {
		return errors.New("set applied: empty stream name")
	}
	old, err := w.Applied(stream)
	if err != nil {
		return err
	}
	if a.Seq < old.Seq {
		return fmt.Errorf("set applied %s: sequence %d is below the stored %d", stream, a.Seq, old.Seq)
	}
	v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), a.Seq), a.Fence)
	return w.tx.Bucket(bucketMeta).Put(appliedKey(stream), v)
}

// Applied returns what SetApplied stored for the stream; the zero Applied
// when nothing was.
func (r *Reader) Applied(stream string) (Applied, error) {
	v := r.tx.Bucket(bucketMeta).Get(appliedKey(stream))
	if v == nil {
		return Applied{}, nil
	}
	if len(v) != 16 {
		return Applied{}, fmt.Errorf("applied %s: stored value has %d bytes, not 16", stream, len(v))
	}
	return Applied{Seq: binary.BigEndian.Uint64(v), Fence: binary.BigEndian.Uint64(v[8:])}, nil
}
