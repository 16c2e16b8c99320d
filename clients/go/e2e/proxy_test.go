package e2e

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/server/testproxy"
)

// startProxy puts a TCP proxy on 127.0.0.1 in front of the server that
// breaks every connection sooner or later: each connection may carry a
// random number of bytes towards the server and back before the proxy
// cuts it, so requests die mid-request (the server never sees them whole)
// and mid-response (the server applied them, the device never hears), and
// every chunk is delayed a little. The bytes a connection carries are
// kept small (the SDK compresses pushes and the server pulls, so a 100-op
// push is a few KiB on the wire).
func startProxy(t testing.TB, target string, seed uint64) *testproxy.Proxy {
	return startChaosProxy(t, target, seed, 64<<10, 2*time.Millisecond)
}

// startChaosProxy is startProxy with at most maxDown bytes per connection
// towards the device and chunks delayed up to maxDelay.
func startChaosProxy(t testing.TB, target string, seed uint64, maxDown int, maxDelay time.Duration) *testproxy.Proxy {
	t.Helper()
	const maxUp = 16 << 10
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 99))
	intn := func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return rng.IntN(n)
	}
	return testproxy.StartTCP(t, target, testproxy.TCP{
		Conn: func() (up, down testproxy.Budget) {
			up = testproxy.Bytes(256 + intn(maxUp))
			return up, testproxy.Bytes(256 + intn(maxDown))
		},
		Delay: func() time.Duration { return time.Duration(intn(int(maxDelay))) },
		Chunk: 4096,
	})
}
