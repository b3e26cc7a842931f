// Package yieldtest measures whether code gives way to other goroutines,
// for the tests of writers that run beside the server (storage.GiveWay).
package yieldtest

import (
	"runtime"
	"sync/atomic"
)

// Turns runs f on one processor while another goroutine, runnable
// throughout, counts the turns it gets, and returns that count: a few when
// f only loses the processor to preemption (every 10 ms), about one per
// yield when f yields.
func Turns(f func()) int64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var turns atomic.Int64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			turns.Add(1)
			runtime.Gosched()
		}
	}()
	runtime.Gosched() // let it start
	before := turns.Load()
	f()
	during := turns.Load() - before
	stop.Store(true)
	<-done
	return during
}
