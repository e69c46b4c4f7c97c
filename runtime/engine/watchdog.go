package engine

import (
	"context"
	"sync"
	"time"
)

// watchdogTick is how often running calls are checked against their
// deadline: a runaway guest is interrupted at most this late.
const watchdogTick = 5 * time.Millisecond

// watchdog interrupts calls that pass their deadline or whose caller's
// context is done. One goroutine per engine scans running instances, so a
// call costs two atomic operations (and, for a cancellable caller, two
// uncontended locks) instead of arming and stopping a timer (measured: a
// per-instance time.AfterFunc Reset/Stop pair added ≈0.3 µs to every call;
// a context.AfterFunc four allocations).
type watchdog struct {
	mu   sync.Mutex
	live map[*instance]struct{}
	stop chan struct{}
	once sync.Once
	// epoch is the origin of instance deadlines (monotonic clock).
	epoch time.Time
}

func newWatchdog() *watchdog {
	w := &watchdog{live: map[*instance]struct{}{}, stop: make(chan struct{}), epoch: time.Now()}
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
		case <-t.C:
			n := int64(time.Since(w.epoch))
			due = due[:0]
			w.mu.Lock()
			for in := range w.live {
				if dl := in.deadline.Load(); dl > 0 {
					due = append(due, in)
				}
			}
			w.mu.Unlock()
			for _, in := range due {
				dl := in.deadline.Load()
				switch {
				case dl <= 0:
				case dl <= n:
					in.fire(dl, context.DeadlineExceeded)
				default:
					if err := in.canceled(); err != nil {
						in.fire(dl, err)
					}
				}
			}
		}
	}
}

func (w *watchdog) close() { w.once.Do(func() { close(w.stop) }) }
