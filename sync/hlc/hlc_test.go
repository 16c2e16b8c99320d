package hlc_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// fakeWall is an injectable wall clock set in Unix milliseconds.
type fakeWall struct{ ms atomic.Int64 }

func (w *fakeWall) now() time.Time { return time.UnixMilli(w.ms.Load()) }

// clockWithLast returns a Clock (guard off) whose Last is want, and its wall,
// which is left at 0 so it does not dominate subsequent calls.
func clockWithLast(t *testing.T, want hlc.Timestamp) (*hlc.Clock, *fakeWall) {
	t.Helper()
	w := &fakeWall{}
	c := hlc.NewClock(w.now, 0)
	if want.Counter() == 0 {
		w.ms.Store(want.Millis())
		c.Now()
		w.ms.Store(0)
	} else if _, err := c.Update(want - 1); err != nil {
		t.Fatalf("Update(%s): %v", want-1, err)
	}
	if got := c.Last(); got != want {
		t.Fatalf("setup Last() = %s, want %s", got, want)
	}
	return c, w
}

func TestNewAccessors(t *testing.T) {
	tests := []struct {
		name        string
		ms          int64
		counter     uint16
		wantMs      int64
		wantCounter uint16
	}{
		{"zero", 0, 0, 0, 0},
		{"typical", 1_700_000_000_123, 42, 1_700_000_000_123, 42},
		{"max", hlc.MaxMillis, 0xffff, hlc.MaxMillis, 0xffff},
		{"negative clamps to 0", -5, 1, 0, 1},
		{"beyond 48 bits clamps", hlc.MaxMillis + 10, 3, hlc.MaxMillis, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := hlc.New(tt.ms, tt.counter)
			if got, want := ts.Millis(), tt.wantMs; got != want {
				t.Errorf("Millis() = %d, want %d", got, want)
			}
			if got, want := ts.Counter(), tt.wantCounter; got != want {
				t.Errorf("Counter() = %d, want %d", got, want)
			}
		})
	}
}

func TestTimeAndIsZero(t *testing.T) {
	ts := hlc.New(1_700_000_000_123, 9)
	if got, want := ts.Time(), time.UnixMilli(1_700_000_000_123).UTC(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time() = %v, want %v (UTC)", got, want)
	}
	if got, want := hlc.Timestamp(0).IsZero(), true; got != want {
		t.Errorf("Timestamp(0).IsZero() = %v, want %v", got, want)
	}
	if got, want := ts.IsZero(), false; got != want {
		t.Errorf("%s.IsZero() = %v, want %v", ts, got, want)
	}
}

func TestParseRoundTrip(t *testing.T) {
	tests := []struct {
		ts   hlc.Timestamp
		want string
	}{
		{0, "0000000000000000"},
		{1, "0000000000000001"},
		{hlc.New(1, 0), "0000000000010000"},
		{hlc.New(1_700_000_000_000, 5), "018bcfe568000005"},
		{hlc.New(hlc.MaxMillis, 0), "ffffffffffff0000"},
		{hlc.MaxTimestamp, "ffffffffffffffff"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.ts.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			got, err := hlc.Parse(tt.want)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.want, err)
			}
			if got != tt.ts {
				t.Errorf("Parse(%q) = %d, want %d", tt.want, got, tt.ts)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"empty", "", "length 0, want 16"},
		{"too short", "abc", "length 3, want 16"},
		{"too long", "00000000000000000", "length 17, want 16"},
		{"0x prefix", "0x00000000000000", "non-hex character 'x' at index 1"},
		{"uppercase", "000000000000000A", "uppercase hex digit 'A' at index 15"},
		{"non-hex letter", "00000000g0000000", "non-hex character 'g' at index 8"},
		{"space", " 000000000000000", "non-hex character ' ' at index 0"},
		{"sign", "-000000000000001", "non-hex character '-' at index 0"},
		{"multibyte", "00000000000000é", "non-hex character 'é' at index 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hlc.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want error", tt.in)
			}
			if !errors.Is(err, hlc.ErrInvalid) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", tt.in, err)
			}
			if got := err.Error(); !strings.Contains(got, tt.wantMsg) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, got, tt.wantMsg)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	type doc struct {
		TS hlc.Timestamp `json:"ts"`
	}
	in := doc{TS: hlc.New(1_700_000_000_000, 5)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"ts":"018bcfe568000005"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out, in; got != want {
		t.Errorf("Unmarshal = %+v, want %+v", got, want)
	}
	err = json.Unmarshal([]byte(`{"ts":"018BCFE568000005"}`), &out)
	if !errors.Is(err, hlc.ErrInvalid) {
		t.Errorf("Unmarshal uppercase error = %v, want ErrInvalid", err)
	}
}

func TestStringOrderEqualsNumericOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edges := []hlc.Timestamp{0, 1, 0xffff, 0x10000, hlc.MaxTimestamp - 1, hlc.MaxTimestamp}
	sample := func(i int) hlc.Timestamp {
		if i%10 == 0 {
			return edges[rng.IntN(len(edges))]
		}
		return hlc.Timestamp(rng.Uint64() >> rng.UintN(64)) // vary magnitude
	}
	for i := range 20_000 {
		a, b := sample(i), sample(i+1)
		if got, want := a.String() < b.String(), a < b; got != want {
			t.Fatalf("%d vs %d: string less = %v, numeric less = %v", a, b, got, want)
		}
	}
}

func TestNowMonotonicWithBackwardsWall(t *testing.T) {
	tests := []struct {
		wallMs int64
		want   hlc.Timestamp
	}{
		{1000, hlc.New(1000, 0)},
		{2000, hlc.New(2000, 0)},
		{1500, hlc.New(2000, 1)}, // wall jumped backwards
		{1500, hlc.New(2000, 2)},
		{2000, hlc.New(2000, 3)}, // wall equals last ms
		{3000, hlc.New(3000, 0)},
		{-50, hlc.New(3000, 1)}, // wall before 1970
		{100, hlc.New(3000, 2)},
	}
	w := &fakeWall{}
	c := hlc.NewClock(w.now, time.Second)
	var prev hlc.Timestamp
	for i, tt := range tests {
		w.ms.Store(tt.wallMs)
		got := c.Now()
		if got != tt.want {
			t.Errorf("step %d (wall %d): Now() = %s, want %s", i, tt.wallMs, got, tt.want)
		}
		if got <= prev {
			t.Errorf("step %d: Now() = %s not after %s", i, got, prev)
		}
		if last := c.Last(); last != got {
			t.Errorf("step %d: Last() = %s, want %s", i, last, got)
		}
		prev = got
	}
}

func TestNowCounterOverflow(t *testing.T) {
	const frozen, calls = 5000, 70_000
	w := &fakeWall{}
	w.ms.Store(frozen)
	c := hlc.NewClock(w.now, 0)
	got := make([]hlc.Timestamp, calls)
	for i := range got {
		got[i] = c.Now()
		if i > 0 && got[i] <= got[i-1] {
			t.Fatalf("call %d: %s not after %s", i, got[i], got[i-1])
		}
	}
	checks := []struct {
		i    int
		want hlc.Timestamp
	}{
		{0, hlc.New(frozen, 0)},
		{0xffff, hlc.New(frozen, 0xffff)},
		{0x10000, hlc.New(frozen+1, 0)}, // counter carried into ms
		{calls - 1, hlc.New(frozen+1, calls-1-0x10000)},
	}
	for _, ck := range checks {
		if got[ck.i] != ck.want {
			t.Errorf("call %d: got %s, want %s", ck.i, got[ck.i], ck.want)
		}
	}
}

func TestNowSaturatesAtMax(t *testing.T) {
	c, _ := clockWithLast(t, hlc.MaxTimestamp)
	if got, want := c.Now(), hlc.MaxTimestamp; got != want {
		t.Errorf("Now() at max = %s, want %s", got, want)
	}
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name   string
		last   hlc.Timestamp
		wallMs int64
		remote hlc.Timestamp
		want   hlc.Timestamp
	}{
		{"remote ahead", hlc.New(1000, 3), 1000, hlc.New(2000, 7), hlc.New(2000, 8)},
		{"remote behind", hlc.New(2000, 3), 1500, hlc.New(1000, 9), hlc.New(2000, 4)},
		{"equal ms remote counter higher", hlc.New(2000, 3), 1000, hlc.New(2000, 7), hlc.New(2000, 8)},
		{"equal ms local counter higher", hlc.New(2000, 9), 1000, hlc.New(2000, 2), hlc.New(2000, 10)},
		{"equal ms equal counter", hlc.New(2000, 4), 2000, hlc.New(2000, 4), hlc.New(2000, 5)},
		{"wall ahead of both", hlc.New(2000, 3), 5000, hlc.New(3000, 7), hlc.New(5000, 0)},
		{"wall ties remote ms", hlc.New(1000, 3), 3000, hlc.New(3000, 7), hlc.New(3000, 8)},
		{"remote zero", hlc.New(1000, 3), 0, 0, hlc.New(1000, 4)},
		{"remote counter overflow", hlc.New(1000, 1), 0, hlc.New(2000, 0xffff), hlc.New(2001, 0)},
		{"local counter overflow", hlc.New(2000, 0xffff), 0, hlc.New(2000, 1), hlc.New(2001, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := clockWithLast(t, tt.last)
			w.ms.Store(tt.wallMs)
			got, err := c.Update(tt.remote)
			if err != nil {
				t.Fatalf("Update(%s): %v", tt.remote, err)
			}
			if got != tt.want {
				t.Errorf("Update(%s) = %s, want %s", tt.remote, got, tt.want)
			}
			if got <= tt.last || got <= tt.remote {
				t.Errorf("Update(%s) = %s, not after last %s and remote", tt.remote, got, tt.last)
			}
			if last := c.Last(); last != got {
				t.Errorf("Last() = %s, want %s", last, got)
			}
		})
	}
}

func TestUpdateOverflowLeavesState(t *testing.T) {
	c, _ := clockWithLast(t, hlc.New(1000, 3))
	_, err := c.Update(hlc.MaxTimestamp)
	if !errors.Is(err, hlc.ErrOverflow) {
		t.Fatalf("Update(max) error = %v, want ErrOverflow", err)
	}
	if got, want := c.Last(), hlc.New(1000, 3); got != want {
		t.Errorf("Last() after rejected Update = %s, want %s", got, want)
	}
}

func TestUpdateDriftGuard(t *testing.T) {
	const wallMs = 10_000
	tests := []struct {
		name     string
		maxDrift time.Duration
		remote   hlc.Timestamp
		wantErr  string // empty: accepted
	}{
		{"within drift", time.Second, hlc.New(wallMs+999, 0), ""},
		{"exactly max drift", time.Second, hlc.New(wallMs+1000, 0xffff), ""},
		{"just beyond", time.Second, hlc.New(wallMs+1001, 0), "1.001s ahead of local wall clock (max drift 1s)"},
		{"far beyond", time.Second, hlc.New(hlc.MaxMillis, 0), "ms ahead of local wall clock"},
		{"sub-ms drift", 500 * time.Microsecond, hlc.New(wallMs+1, 0), "1ms ahead"},
		{"guard off zero", 0, hlc.New(wallMs+1_000_000, 0), ""},
		{"guard off negative", -time.Second, hlc.New(wallMs+1_000_000, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &fakeWall{}
			w.ms.Store(wallMs)
			c := hlc.NewClock(w.now, tt.maxDrift)
			before := c.Now()
			got, err := c.Update(tt.remote)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Update(%s): %v", tt.remote, err)
				}
				if got <= tt.remote {
					t.Errorf("Update(%s) = %s, want after remote", tt.remote, got)
				}
				return
			}
			if !errors.Is(err, hlc.ErrDrift) {
				t.Fatalf("Update(%s) error = %v, want ErrDrift", tt.remote, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if got, want := c.Last(), before; got != want {
				t.Errorf("Last() after rejected Update = %s, want %s", got, want)
			}
		})
	}
}

func TestConcurrentNowUnique(t *testing.T) {
	const goroutines, perG = 16, 5000
	var ticks atomic.Int64
	wall := func() time.Time { return time.UnixMilli(1000 + ticks.Add(1)/7) }
	c := hlc.NewClock(wall, 0)
	results := make([][]hlc.Timestamp, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			out := make([]hlc.Timestamp, perG)
			for i := range out {
				out[i] = c.Now()
			}
			results[g] = out
		})
	}
	wg.Wait()
	seen := make(map[hlc.Timestamp]bool, goroutines*perG)
	for g, out := range results {
		for i, ts := range out {
			if i > 0 && ts <= out[i-1] {
				t.Fatalf("goroutine %d: %s not after %s", g, ts, out[i-1])
			}
			if seen[ts] {
				t.Fatalf("duplicate timestamp %s", ts)
			}
			seen[ts] = true
		}
	}
	if got, want := len(seen), goroutines*perG; got != want {
		t.Errorf("unique timestamps = %d, want %d", got, want)
	}
}

func TestNewClockNilWallPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewClock(nil, 0) did not panic")
		}
	}()
	hlc.NewClock(nil, 0)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0000000000000000", "ffffffffffffffff",
		"018bcfe568000005", "018BCFE568000005", "0x00000000000000", "00000000000000é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := hlc.Parse(s)
		if err != nil {
			if !errors.Is(err, hlc.ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if got := ts.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q", s, got)
		}
	})
}
