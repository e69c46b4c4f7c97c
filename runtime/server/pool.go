package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reefhq/reef/runtime/metrics"
)

// errQueueFull and errQueueTimeout become 429 overloaded.
var (
	errQueueFull    = errors.New("queue full")
	errQueueTimeout = errors.New("waited too long for a worker")
)

// pool admits calls: at most workers at once, at most perSkill of one
// skill, at most queue waiting.
//
// A call takes its skill's slot first and a global worker second. Why this
// order: a skill stuck at its own limit (a runaway loop, a slow site) then
// queues only on its own semaphore and never holds a global worker while
// it waits, so it can take at most perSkill workers away from the others.
// The other order would let its waiting callers sit on global workers.
//
// Waiting calls are bounded twice: queue in all (the memory bound) and
// skillQueue (half of queue) waiting for one skill's slot, so one skill's
// backlog cannot use up the queue room other skills need.
//
// Rejected alternative: a weighted fair queue across skills. It gives
// better tail latency under mixed overload but needs a scheduler
// goroutine and per-call allocations; two semaphores are enough to meet
// the "cannot starve others beyond its own limit" rule.
type pool struct {
	global       chan struct{}
	perSkill     int
	queue        int
	skillQueue   int
	queueTimeout time.Duration
	m            *metrics.Metrics

	mu      sync.Mutex
	skills  map[string]*skillSlots
	spare   []*skillSlots // dropped entries kept for reuse (at most maxSpare)
	waiting int
}

// maxSpare bounds the dropped per-skill entries kept for reuse: a skill
// called by one client at a time drops and re-creates its entry on every
// call otherwise.
const maxSpare = 64

type skillSlots struct {
	ch      chan struct{}
	users   int // holders and waiters; the entry is dropped at 0
	waiting int
}

// admission is one admitted call; release frees its slots once.
type admission struct {
	p     *pool
	ss    *skillSlots
	skill string
	done  atomic.Bool
}

func (a *admission) release() {
	if !a.done.CompareAndSwap(false, true) {
		return
	}
	<-a.p.global
	<-a.ss.ch
	a.p.m.WorkersAdd(-1)
	a.p.drop(a.skill, a.ss)
}

func newPool(workers, perSkill, queue int, queueTimeout time.Duration, m *metrics.Metrics) *pool {
	workers = max(workers, 1)
	perSkill = min(max(perSkill, 1), workers)
	queue = max(queue, 0)
	return &pool{global: make(chan struct{}, workers), perSkill: perSkill, queue: queue, skillQueue: max(queue/2, 1),
		queueTimeout: queueTimeout, m: m, skills: map[string]*skillSlots{}}
}

// PoolStats is a snapshot of the worker pool.
type PoolStats struct {
	Workers, Busy, Waiting int
}

func (p *pool) stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Workers: cap(p.global), Busy: len(p.global), Waiting: p.waiting}
}

// acquire admits one call of skill; release must be called once it ends.
func (p *pool) acquire(ctx context.Context, skill string) (release func(), err error) {
	p.mu.Lock()
	ss := p.skills[skill]
	if ss == nil {
		if n := len(p.spare); n > 0 {
			ss, p.spare = p.spare[n-1], p.spare[:n-1]
		} else {
			ss = &skillSlots{ch: make(chan struct{}, p.perSkill)}
		}
		p.skills[skill] = ss
	}
	ss.users++
	p.mu.Unlock()

	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	deadline := func() <-chan time.Time {
		if timer == nil {
			timer = time.NewTimer(p.queueTimeout)
		}
		return timer.C
	}

	// Stage 1: the skill's own slot.
	if err := p.take(ctx, ss.ch, ss, deadline); err != nil {
		p.drop(skill, ss)
		return nil, err
	}
	// Stage 2: a global worker.
	if err := p.take(ctx, p.global, nil, deadline); err != nil {
		<-ss.ch
		p.drop(skill, ss)
		return nil, err
	}
	p.m.WorkersAdd(1)
	a := &admission{p: p, ss: ss, skill: skill}
	return a.release, nil
}

// take sends into sem, waiting (counted in the queue) if it is full. ss
// is the skill whose per-skill queue bound applies (nil for the global
// stage).
func (p *pool) take(ctx context.Context, sem chan struct{}, ss *skillSlots, deadline func() <-chan time.Time) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	p.mu.Lock()
	if p.waiting >= p.queue || (ss != nil && ss.waiting >= p.skillQueue) {
		p.mu.Unlock()
		return errQueueFull
	}
	p.waiting++
	if ss != nil {
		ss.waiting++
	}
	p.mu.Unlock()
	p.m.QueueAdd(1)
	defer func() {
		p.mu.Lock()
		p.waiting--
		if ss != nil {
			ss.waiting--
		}
		p.mu.Unlock()
		p.m.QueueAdd(-1)
	}()
	select {
	case sem <- struct{}{}:
		return nil
	case <-deadline():
		return errQueueTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) drop(skill string, ss *skillSlots) {
	p.mu.Lock()
	ss.users--
	if ss.users == 0 {
		// No holder and no waiter: ss.ch is empty and nobody else has ss,
		// so it can serve another skill.
		delete(p.skills, skill)
		if len(p.spare) < maxSpare {
			p.spare = append(p.spare, ss)
		}
	}
	p.mu.Unlock()
}
