package engine

import (
	"context"
	"sync"
	"time"
)

// watchdogTick is how often running calls are checked against their
// deadline: a runaway guest is interrupted at most this late.
const watchdogTick = 5 * time.Millisecond

// watchdog interrupts calls that pass their deadline. One goroutine per
// engine scans live instances, so a call costs two atomic operations
// instead of arming and stopping a timer (measured: a per-instance
// time.AfterFunc Reset/Stop pair added ≈0.3 µs to every call).
type watchdog struct {
	mu   sync.Mutex
	live map[*instance]struct{}
	stop chan struct{}
	once sync.Once
}

func newWatchdog() *watchdog {
	w := &watchdog{live: map[*instance]struct{}{}, stop: make(chan struct{})}
	go w.run()
	return w
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	w.live[in] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.live, in)
	w.mu.Unlock()
}

func (w *watchdog) run() {
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	var due []*instance
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			n := now.UnixNano()
			due = due[:0]
			w.mu.Lock()
			for in := range w.live {
				if dl := in.deadline.Load(); dl > 0 && dl <= n {
					due = append(due, in)
				}
			}
			w.mu.Unlock()
			for _, in := range due {
				in.fire(in.deadline.Load(), context.DeadlineExceeded)
			}
		}
	}
}

func (w *watchdog) close() { w.once.Do(func() { close(w.stop) }) }
