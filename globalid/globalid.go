// Package globalid encodes and decodes the API's global object ids (Relay's
// Node.id): base64url, unpadded, of "<Type>:<natural key>":
//
//	Batch:<batchId>
//	BatchOperation:<batchOperationKey>
//	BatchOperationItem:<len(batchOperationKey)>:<batchOperationKey>:<itemKey>
//
// The length prefix makes the item id unambiguous for keys containing ':'.
// Ids depend only on natural keys, so they are stable across restarts and
// re-imports. Only the canonical encoding is accepted.
//
// It is a package of its own so that the records (package storage) can
// answer their id without a resolver: gqlgen executes a resolver field per
// object through a deferred closure, a plain method inline.
package globalid

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The type names an id starts with.
const (
	TypeBatch          = "Batch"
	TypeBatchOperation = "BatchOperation"
	TypeItem           = "BatchOperationItem"
)

var enc = base64.RawURLEncoding

// Batch is the id of the Camunda 7 batch batchID.
func Batch(batchID string) string { return encode(TypeBatch, "", batchID) }

// Operation is the id of the batch operation key.
func Operation(key string) string { return encode(TypeBatchOperation, "", key) }

// Item is the id of item itemKey of operation opKey.
func Item(opKey, itemKey string) string { return encode(TypeItem, opKey, itemKey) }

// AppendBatch, AppendOperation and AppendItem append the id, quoted as a
// JSON string (base64url needs no escaping), without allocating.
func AppendBatch(dst []byte, batchID string) []byte { return appendQuoted(dst, TypeBatch, "", batchID) }

func AppendOperation(dst []byte, key string) []byte {
	return appendQuoted(dst, TypeBatchOperation, "", key)
}

func AppendItem(dst []byte, opKey, itemKey string) []byte {
	return appendQuoted(dst, TypeItem, opKey, itemKey)
}

func appendQuoted(dst []byte, typ, op, key string) []byte {
	return append(appendID(append(dst, '"'), typ, op, key), '"')
}

// appendID appends the base64 of "typ:[len(op):op:]key", built in a stack
// buffer when it fits.
func appendID(dst []byte, typ, op, key string) []byte {
	var buf [128]byte
	raw := append(buf[:0], typ...)
	raw = append(raw, ':')
	if typ == TypeItem {
		raw = strconv.AppendInt(raw, int64(len(op)), 10)
		raw = append(raw, ':')
		raw = append(raw, op...)
		raw = append(raw, ':')
	}
	raw = append(raw, key...)
	return enc.AppendEncode(dst, raw)
}

// encode is the id as a string: one allocation, the string itself, when the
// id fits the stack buffer.
func encode(typ, op, key string) string {
	var out [172]byte // base64 of 128 bytes
	return string(appendID(out[:0], typ, op, key))
}

// ID is a decoded global id. For items, Key is the operation key and
// ItemKey the item key.
type ID struct {
	Type    string
	Key     string
	ItemKey string
}

// Parse decodes a global id; ok is false for a malformed or non-canonical
// one.
func Parse(id string) (g ID, ok bool) {
	raw, err := enc.Strict().DecodeString(id)
	if err != nil || enc.EncodeToString(raw) != id || !utf8.Valid(raw) {
		return g, false
	}
	typ, rest, found := strings.Cut(string(raw), ":")
	if !found || rest == "" {
		return g, false
	}
	switch typ {
	case TypeBatch, TypeBatchOperation:
		return ID{Type: typ, Key: rest}, true
	case TypeItem:
		digits, tail, found := strings.Cut(rest, ":")
		n, err := strconv.Atoi(digits)
		if !found || err != nil || n <= 0 || strconv.Itoa(n) != digits || len(tail) < n+2 || tail[n] != ':' {
			return g, false
		}
		return ID{Type: typ, Key: tail[:n], ItemKey: tail[n+1:]}, true
	}
	return g, false
}
