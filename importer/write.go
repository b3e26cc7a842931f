package importer

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/batchql/batchql/storage"
)

// write is the second pass: upsert in transactions of im.batch records.
func (im *run) write() error {
	fi, err := im.f.Stat()
	if err != nil {
		return fmt.Errorf("import %s: %w", im.name, err)
	}
	if fi.Size() != im.size {
		return fmt.Errorf("import %s: the file changed while it was imported", im.name)
	}
	sc := im.reader()
	im.opTypes = map[string]storage.OperationType{}
	im.last = time.Time{} // the first report of a phase comes early
	if im.apply != nil {
		return im.writeVia(sc)
	}
	var (
		p    Patch
		n    int64
		done bool
	)
	rec, err := sc.next()
	if err == io.EOF {
		done = true
	} else if err != nil {
		return im.fail(sc, err)
	}
	for !done {
		err := im.s.Update(im.ctx, func(w *storage.Writer) error {
			for i := 0; i < im.batch; i++ {
				if i > 0 {
					if err := im.ctx.Err(); err != nil {
						return err
					}
					var err error
					if rec, err = sc.next(); err == io.EOF {
						done = true
						return nil
					} else if err != nil {
						return err
					}
				}
				if err := p.parse(rec); err != nil {
					return err
				}
				if err := im.upsert(w, &p, rec); err != nil {
					return err
				}
				n++
				im.stats.Records++
				im.progress("write", n, sc, false)
			}
			return nil
		})
		if err != nil {
			return im.fail(sc, err)
		}
		if !done {
			if err := im.ctx.Err(); err != nil {
				return im.fail(sc, err)
			}
			if rec, err = sc.next(); err == io.EOF {
				done = true
			} else if err != nil {
				return im.fail(sc, err)
			}
		}
	}
	im.progress("write", n, sc, true)
	return nil
}

// upsert applies p through the store's upsert seam and counts the outcome.
func (im *run) upsert(w *storage.Writer, p *Patch, rec *rawRecord) error {
	if p.kind == kindOp {
		im.opTypes[p.o.BatchOperationKey] = p.o.BatchOperationType
	}
	out, err := p.apply(w, im.opTypes)
	if err != nil {
		var me *missingError
		if errors.As(err, &me) {
			return &Error{Record: rec.num, Line: rec.fieldLine(fieldIndex[me.field]), Field: me.field,
				Reason: "is missing and the record is not stored (the file changed between the passes?)"}
		}
		return err
	}
	im.stats.Kinds[kindNames[p.kind]].add(out)
	return nil
}

// writeVia is the write pass through Options.Apply: the records become
// patches, im.batch at a time, which Apply writes (with --nats: publishes
// to the stream and waits for the local apply).
func (im *run) writeVia(sc *jsonScanner) error {
	var n int64
	patches := make([]*Patch, 0, min(im.batch, 10000))
	flush := func() error {
		if len(patches) == 0 {
			return nil
		}
		counts, err := im.apply(im.ctx, patches)
		if err != nil {
			return err
		}
		for kind, c := range counts {
			if k := im.stats.Kinds[kind]; k != nil {
				k.plus(c)
			}
		}
		patches = patches[:0]
		return nil
	}
	for {
		if err := im.ctx.Err(); err != nil {
			return im.fail(sc, err)
		}
		rec, err := sc.next()
		if err == io.EOF {
			break
		} else if err != nil {
			return im.fail(sc, err)
		}
		p := new(Patch)
		if err := p.parse(rec); err != nil {
			return im.fail(sc, err)
		}
		patches = append(patches, p)
		n++
		im.stats.Records++
		im.progress("write", n, sc, false)
		if len(patches) == im.batch {
			if err := flush(); err != nil {
				return im.fail(sc, err)
			}
		}
	}
	if err := flush(); err != nil {
		return im.fail(sc, err)
	}
	im.progress("write", n, sc, true)
	return nil
}
