package fieldsync

import (
	"context"
	"sync"
)

// subscribers fans changed record ids out to Subscribe channels without
// ever blocking a write: each subscriber has a pending set that coalesces
// ids it has not taken yet, so a slow reader misses no record, only
// repeated notices of the same one.
type subscribers struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	mu      sync.Mutex
	order   []string
	pending map[string]bool
	wake    chan struct{}
}

func (s *subscribers) add(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[*subscriber]struct{}{}
	}
	s.subs[sub] = struct{}{}
}

func (s *subscribers) remove(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sub)
}

// notify tells every subscriber that the records in ids changed.
func (s *subscribers) notify(ids map[string]bool) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.push(ids)
	}
}

func (sub *subscriber) push(ids map[string]bool) {
	sub.mu.Lock()
	for id := range ids {
		if !sub.pending[id] {
			sub.pending[id] = true
			sub.order = append(sub.order, id)
		}
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) next() (string, bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.order) == 0 {
		return "", false
	}
	id := sub.order[0]
	sub.order = sub.order[1:]
	delete(sub.pending, id)
	return id, true
}

// Subscribe returns a channel that receives the id of every record whose
// local state changes (local writes, pulls, drops, rejections), until ctx
// ends or the Client closes or wipes; then it is closed. Notices of a
// record not yet taken coalesce, so a slow reader never blocks the SDK
// and never misses a record. Read the record with Record.
func (c *Client) Subscribe(ctx context.Context) <-chan string {
	out := make(chan string)
	sub := &subscriber{pending: map[string]bool{}, wake: make(chan struct{}, 1)}
	c.subs.add(sub)
	go func() {
		defer close(out)
		defer c.subs.remove(sub)
		for {
			id, ok := sub.next()
			if !ok {
				select {
				case <-sub.wake:
					continue
				case <-ctx.Done():
					return
				case <-c.done:
					return
				}
			}
			select {
			case out <- id:
			case <-ctx.Done():
				return
			case <-c.done:
				return
			}
		}
	}()
	return out
}
