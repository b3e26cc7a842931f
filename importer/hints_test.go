package importer

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// utf16File is text as PowerShell's Out-File writes it: UTF-16 with or
// without a byte order mark.
func utf16File(text string, order binary.AppendByteOrder, bom bool) []byte {
	var out []byte
	units := utf16.Encode([]rune(text))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	for _, u := range units {
		out = order.AppendUint16(out, u)
	}
	return out
}

func TestImportInputHints(t *testing.T) {
	const op = `{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte(op), 0o600))
	const iconv = "iconv -f UTF-16 -t UTF-8"
	const pwsh = "Out-File -Encoding utf8"
	cases := []struct {
		name    string
		path    string // when set, imported instead of content
		content []byte
		want    []string // in the message
	}{
		{"directory", dir, nil, []string{"import " + dir + ": is a directory: pass the files in it (e.g. " + filepath.Join(dir, "*.json") + ")"}},
		{"directory with slash", dir + "/", nil, []string{"is a directory", filepath.Join(dir, "*.json")}},
		{"UTF-16 LE with BOM", "", utf16File(op+"\r\n", binary.LittleEndian, true), []string{"is UTF-16", iconv, pwsh}},
		{"UTF-16 BE with BOM", "", utf16File(op, binary.BigEndian, true), []string{"is UTF-16", iconv, pwsh}},
		{"UTF-16 LE without BOM", "", utf16File("["+op+"]", binary.LittleEndian, false), []string{"is UTF-16", iconv}},
		{"UTF-16 BE without BOM", "", utf16File(op, binary.BigEndian, false), []string{"is UTF-16", iconv}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := impOpen(t)
			before := impDigest(t, s)
			path := c.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "out.json")
				require.NoError(t, os.WriteFile(path, c.content, 0o600))
			}
			_, err := File(context.Background(), s, path, Options{})
			var ie *Error
			require.True(t, errors.As(err, &ie), "%T: %v", err, err)
			assert.Equal(t, path, ie.File)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), `\xff`)
			assert.NotContains(t, err.Error(), "record 0")
			assert.Equal(t, before, impDigest(t, s), "nothing written")
		})
	}
	// A UTF-8 byte order mark (PowerShell's Out-File -Encoding utf8 writes
	// one) is accepted silently, before any format.
	for _, content := range []string{op, "[" + op + "]", op + "\n" + op + "\n", `{"items":[` + op + `]}`} {
		s := impOpen(t)
		st := impRun(t, s, impFile(t, "bom.json", "\xEF\xBB\xBF"+content))
		assert.Equal(t, int64(1), st.Kinds[KindBatchOperation].New, content)
	}
}
