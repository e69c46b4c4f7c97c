package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPoolBounds(t *testing.T) {
	p := newPool(2, 1, 4, time.Second, nil)
	ctx := context.Background()
	relA, err := p.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// b runs beside a; a's second call waits on a's own slot, not a worker.
	relB, err := p.acquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	errs := make(chan error, 3)
	for i := 0; i < 2; i++ {
		go func() {
			defer wg.Done()
			rel, err := p.acquire(ctx, "a")
			if err == nil {
				rel()
			}
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.stats().Waiting != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", p.stats())
		}
		time.Sleep(time.Millisecond)
	}
	// a's share of the queue (half of 4) is used up.
	if _, err := p.acquire(ctx, "a"); !errors.Is(err, errQueueFull) {
		t.Fatalf("third waiter of a: %v", err)
	}
	relA()
	relB()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := p.stats(); st.Busy != 0 || st.Waiting != 0 || len(p.skills) != 0 {
		t.Fatalf("after release: %+v, %d skill entries", st, len(p.skills))
	}
}

func TestPoolCanceledWaiter(t *testing.T) {
	p := newPool(1, 1, 4, time.Minute, nil)
	rel, _ := p.acquire(context.Background(), "a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := p.acquire(ctx, "b"); done <- err }()
	for p.stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiter: %v", err)
	}
	rel()
	rel() // idempotent
	if st := p.stats(); st.Busy != 0 || st.Waiting != 0 {
		t.Fatalf("%+v", st)
	}
}
