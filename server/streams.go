package server

import (
	"sync"

	"github.com/fieldsync/fieldsync/model"
)

// streamHub tracks the open event streams: at most perUser per user
// (CodeRateLimited beyond) and one per device (a new stream of a device
// replaces its old one, so a client reconnecting after a dead connection
// that the server has not noticed yet never locks itself out). It can ask
// the streams of a device or a user to check their token again at once
// (after a revoke or an account change).
type streamHub struct {
	mu       sync.Mutex
	perUser  int
	byDevice map[string]*stream
	byUser   map[string]int
}

// stream is one open event stream.
type stream struct {
	user, device string
	// recheck asks the stream to authenticate again now (buffered: one
	// pending request is enough).
	recheck chan struct{}
	// ended is closed when the stream must end (replaced by a newer one).
	ended chan struct{}
}

func newStreamHub(perUser int) *streamHub {
	return &streamHub{perUser: perUser, byDevice: map[string]*stream{}, byUser: map[string]int{}}
}

// open registers a stream of device for user, ending the device's
// previous stream; CodeRateLimited when user already has perUser streams.
func (h *streamHub) open(user, device string) (*stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.byDevice[device]; ok {
		h.removeLocked(old)
		close(old.ended)
	}
	if h.byUser[user] >= h.perUser {
		return nil, model.Errorf(model.CodeRateLimited, "Your account has %d event streams open, the most allowed; close one or retry later.", h.perUser)
	}
	st := &stream{user: user, device: device, recheck: make(chan struct{}, 1), ended: make(chan struct{})}
	h.byDevice[device] = st
	h.byUser[user]++
	return st, nil
}

// close unregisters st unless a newer stream replaced it already.
func (h *streamHub) close(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byDevice[st.device] == st {
		h.removeLocked(st)
	}
}

func (h *streamHub) removeLocked(st *stream) {
	delete(h.byDevice, st.device)
	if h.byUser[st.user]--; h.byUser[st.user] <= 0 {
		delete(h.byUser, st.user)
	}
}

// recheckDevice asks the stream of device to authenticate again.
func (h *streamHub) recheckDevice(device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st, ok := h.byDevice[device]; ok {
		st.poke()
	}
}

// recheckUser asks every stream of user to authenticate again (for an
// account disabled or its grant changed).
func (h *streamHub) recheckUser(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.byDevice {
		if st.user == user {
			st.poke()
		}
	}
}

func (st *stream) poke() {
	select {
	case st.recheck <- struct{}{}:
	default:
	}
}
