package graph

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Global ids are base64url (unpadded) of "<Type>:<natural key>":
//
//	Batch:<batchId>
//	BatchOperation:<batchOperationKey>
//	BatchOperationItem:<len(batchOperationKey)>:<batchOperationKey>:<itemKey>
//
// The length prefix makes the item id unambiguous for keys containing ':'.
// Ids depend only on natural keys, so they are stable across restarts and
// re-imports. Only the canonical encoding is accepted.
const (
	typeBatch          = "Batch"
	typeBatchOperation = "BatchOperation"
	typeItem           = "BatchOperationItem"
)

var idEncoding = base64.RawURLEncoding

func batchID(batchID string) string { return encodeID(typeBatch + ":" + batchID) }

func operationID(key string) string { return encodeID(typeBatchOperation + ":" + key) }

func itemID(opKey, itemKey string) string {
	return encodeID(typeItem + ":" + strconv.Itoa(len(opKey)) + ":" + opKey + ":" + itemKey)
}

func encodeID(s string) string { return idEncoding.EncodeToString([]byte(s)) }

// globalID is a decoded global id. For items, key is the operation key and
// itemKey the item key.
type globalID struct {
	typ     string
	key     string
	itemKey string
}

// parseID decodes a global id; ok is false for a malformed one.
func parseID(id string) (g globalID, ok bool) {
	raw, err := idEncoding.Strict().DecodeString(id)
	if err != nil || idEncoding.EncodeToString(raw) != id || !utf8.Valid(raw) {
		return g, false
	}
	typ, rest, found := strings.Cut(string(raw), ":")
	if !found || rest == "" {
		return g, false
	}
	switch typ {
	case typeBatch, typeBatchOperation:
		return globalID{typ: typ, key: rest}, true
	case typeItem:
		digits, tail, found := strings.Cut(rest, ":")
		n, err := strconv.Atoi(digits)
		if !found || err != nil || n <= 0 || strconv.Itoa(n) != digits || len(tail) < n+2 || tail[n] != ':' {
			return g, false
		}
		return globalID{typ: typ, key: tail[:n], itemKey: tail[n+1:]}, true
	}
	return g, false
}
