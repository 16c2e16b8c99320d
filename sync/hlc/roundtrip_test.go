package hlc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestEveryDigitRoundTrips: each of the 16 hex digits at each of the 16
// positions formats and parses back, and Parse accepts exactly the bytes
// 0-9 and a-f at every position (hlc.go's hexDigit ranges).
func TestEveryDigitRoundTrips(t *testing.T) {
	for pos := range 16 {
		for d := range uint64(16) {
			ts := hlc.Timestamp(d << (4 * pos))
			got, err := hlc.Parse(ts.String())
			if err != nil || got != ts {
				t.Fatalf("Parse(%q) = %v, %v; want %v", ts.String(), got, err, ts)
			}
		}
		for c := range 256 {
			s := []byte(strings.Repeat("0", 16))
			s[pos] = byte(c)
			_, err := hlc.Parse(string(s))
			want := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
			if got := err == nil; got != want {
				t.Fatalf("Parse(%q) accepted = %v, want %v (%v)", s, got, want, err)
			}
		}
	}
}

// TestPropertyRoundTrip: every Timestamp formats to 16 lowercase hex
// digits and parses back, as text and as JSON.
func TestPropertyRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ts := hlc.Timestamp(rapid.Uint64().Draw(t, "ts"))
		s := ts.String()
		got, err := hlc.Parse(s)
		if err != nil || got != ts {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s, got, err, ts)
		}
		js, err := json.Marshal(ts)
		if err != nil {
			t.Fatal(err)
		}
		var back hlc.Timestamp
		if err := json.Unmarshal(js, &back); err != nil || back != ts {
			t.Fatalf("JSON %s decoded to %v, %v; want %v", js, back, err, ts)
		}
		if n := hlc.New(ts.Millis(), ts.Counter()); n != ts {
			t.Fatalf("New(Millis, Counter) of %v = %v", ts, n)
		}
	})
}

// TestDriftMessageAtDurationLimit: a drift of exactly the largest whole
// number of milliseconds a time.Duration holds is still written as a
// duration, one more as milliseconds (hlc.go formatMillis).
func TestDriftMessageAtDurationLimit(t *testing.T) {
	limit := int64(math.MaxInt64 / int64(time.Millisecond))
	for _, tc := range []struct {
		ahead int64
		want  string
	}{
		{limit, (time.Duration(limit) * time.Millisecond).String()},
		{limit + 1, fmt.Sprintf("%dms", limit+1)},
	} {
		c := hlc.NewClock(func() time.Time { return time.UnixMilli(0) }, time.Millisecond)
		_, err := c.Update(hlc.New(tc.ahead, 0))
		if !errors.Is(err, hlc.ErrDrift) || !strings.Contains(err.Error(), " is "+tc.want+" ahead") {
			t.Errorf("Update %d ms ahead: %v, want ErrDrift saying %s", tc.ahead, err, tc.want)
		}
	}
}
