package demo

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/batchql/batchql/storage"
)

// ---------------------------------------------------------------------------
// The generator: a pull-based state machine, so Write can spread records
// over transactions and Generate can push them to a callback.

type demoGen struct {
	cfg    Config
	baseMs int64
	salt   uint64
	plan   *demoPlan

	brng  *rand.Rand
	nodes []demoEngineNode
	ttls  []int64
	bi    int // next batch

	oi       int  // current operation
	inItems  bool // emitting the items of ops[oi]
	finished bool

	nb, no, ni int64 // emitted counts

	// items of the current operation
	op        *demoOp
	rng       *rand.Rand
	parts     [3]int   // items per partition
	partStart [3]int64 // first slot per partition
	pi        int      // current partition index
	ppos      int      // position within the partition
	slot      int64
	left      int    // items left
	processed int    // items processed (the first ones in key order)
	cnt       [5]int // items left per state, indexed like storage.ItemStates
	gmax      int
	startMs   int64
	spanMs    int64
	cancelMs  int64
	roots     bool
	item      storage.BatchOperationItem
	date      time.Time
	pik, root string
	msg       string
	buf       []byte
}

func newDemoGen(cfg Config) (*demoGen, error) {
	if cfg.Batches < 0 || cfg.Operations < 0 || cfg.ItemsPerOperation < 0 {
		return nil, errors.New("demo: batches, operations and items per operation must not be negative")
	}
	if int64(cfg.Operations)*int64(cfg.ItemsPerOperation) > 1<<40 {
		return nil, errors.New("demo: too many items")
	}
	baseMs := demoBaseTime.UnixMilli()
	g := &demoGen{
		cfg:    cfg,
		baseMs: baseMs,
		salt:   demoMix(uint64(cfg.Seed) ^ 0x6b657973),
		plan:   planDemo(cfg, baseMs),
		brng:   demoRand(cfg.Seed, demoStreamBatches),
		buf:    make([]byte, 0, 256),
	}
	for range 2 + g.brng.IntN(2) {
		g.nodes = append(g.nodes, demoEngineNode{
			clockSeq: uint16(g.brng.Uint32()),
			node:     0x0242ac130000 | uint64(2+g.brng.IntN(250)),
		})
	}
	g.ttls = make([]int64, len(demoBatchTypes))
	for i := range g.ttls {
		g.ttls[i] = demoTTLs[demoTTLWeights.pick(g.brng)]
	}
	return g, nil
}

func (g *demoGen) totalRecords() int64 {
	return int64(g.cfg.Batches) + int64(len(g.plan.ops)) + g.plan.items
}

func (g *demoGen) stats(began time.Time) *Stats {
	return &Stats{Batches: g.nb, Operations: g.no, Items: g.ni, Elapsed: time.Since(began)}
}

func (s *Stats) records() int64 { return s.Batches + s.Operations + s.Items }

// next returns the next record, or nil at the end.
func (g *demoGen) next() any {
	if g.bi < g.cfg.Batches {
		b := g.batch(g.bi)
		g.bi++
		g.nb++
		return b
	}
	for g.oi < len(g.plan.ops) {
		if !g.inItems {
			g.inItems = true
			g.no++
			return g.startOp(g.oi)
		}
		if g.left > 0 {
			g.ni++
			return g.nextItem()
		}
		g.inItems = false
		g.oi++
	}
	g.finished = true
	return nil
}
