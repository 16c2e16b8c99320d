package server

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestStreamHub: per-user cap, one stream per device (the new one
// replaces and ends the old), close of a replaced stream changes nothing,
// and rechecks reach the right streams.
func TestStreamHub(t *testing.T) {
	h := newStreamHub(2)
	a1, err := h.open("alice", "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.open("alice", "dev2"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.open("alice", "dev3"); model.ErrorCode(err) != model.CodeRateLimited {
		t.Errorf("third stream of alice: %v, want rate_limited", err)
	}
	if _, err := h.open("bob", "dev4"); err != nil {
		t.Errorf("bob's stream refused for alice's cap: %v", err)
	}
	a1again, err := h.open("alice", "dev1")
	if err != nil {
		t.Fatalf("dev1 reconnecting at the cap: %v", err)
	}
	select {
	case <-a1.ended:
	default:
		t.Error("the replaced stream was not ended")
	}
	h.close(a1) // the replaced stream's goroutine exits late
	if got := h.byUser["alice"]; got != 2 {
		t.Errorf("alice holds %d streams after the replaced one closed, want 2", got)
	}
	h.recheckUser("alice")
	h.recheckDevice("dev4")
	for name, st := range map[string]*stream{"dev1": a1again, "dev4": h.byDevice["dev4"]} {
		select {
		case <-st.recheck:
		default:
			t.Errorf("%s was not asked to recheck", name)
		}
	}
	h.close(a1again)
	if _, ok := h.byDevice["dev1"]; ok || h.byUser["alice"] != 1 {
		t.Errorf("after close: dev1 registered %v, alice holds %d", ok, h.byUser["alice"])
	}
}
