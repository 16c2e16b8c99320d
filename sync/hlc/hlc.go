// Package hlc implements the hybrid logical clock (HLC) used by the sync
// engine to order events across offline-first replicas.
//
// The package owns two things: the Timestamp encoding and the Clock that
// issues Timestamps. It is pure: it performs no I/O and reads wall time only
// through the function injected into NewClock.
//
// Invariants:
//
//   - Monotonic: every Timestamp returned by a Clock (from Now or Update) is
//     strictly greater than every Timestamp it returned before, even when the
//     wall clock jumps backwards. The only exception is saturation at
//     MaxTimestamp, which wall time cannot reach before the year 10889.
//   - Causal: Update returns a Timestamp strictly greater than the remote one.
//   - String order equals time order: String yields exactly 16 lowercase,
//     zero-padded hex digits, so comparing strings byte-wise orders
//     Timestamps exactly as comparing them numerically does.
//   - Drift guard: a Clock built with a positive maxDrift rejects, with
//     ErrDrift and without changing its state, remote Timestamps further
//     ahead of the local wall clock than maxDrift.
//
// A Timestamp is 64 bits: the high 48 bits hold Unix milliseconds and the low
// 16 bits a logical counter. 48 bits of milliseconds last until the year
// 10889; wall times beyond that (or before 1970) are clamped into range, so a
// Timestamp whose milliseconds exceed 48 bits can never be constructed.
package hlc

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	counterBits = 16
	// MaxMillis is the largest millisecond value a Timestamp can hold
	// (2^48-1, in the year 10889).
	MaxMillis = 1<<48 - 1
	// MaxTimestamp is the largest Timestamp: MaxMillis with counter 0xffff.
	MaxTimestamp = Timestamp(1<<64 - 1)
	// encodedLen is the length of the string form of a Timestamp.
	encodedLen = 16
)

// ErrInvalid is wrapped by every error returned from Parse and UnmarshalText.
var ErrInvalid = errors.New("hlc: invalid timestamp")

// ErrDrift is wrapped by the error Update returns when the remote Timestamp
// is further ahead of the local wall clock than the Clock's maxDrift.
var ErrDrift = errors.New("hlc: remote timestamp exceeds max clock drift")

// ErrOverflow is wrapped by the error Update returns when no Timestamp
// greater than the remote one exists (the remote is MaxTimestamp).
var ErrOverflow = errors.New("hlc: timestamp overflow")

// Timestamp is a hybrid logical clock value: Unix milliseconds in the high
// 48 bits and a logical counter in the low 16 bits. The zero value is the
// zero Timestamp, smaller than every Timestamp a Clock issues after 1970.
type Timestamp uint64

// New builds a Timestamp from Unix milliseconds and a counter. ms is clamped
// to [0, MaxMillis], so the result never has ms beyond 48 bits.
func New(ms int64, counter uint16) Timestamp {
	return Timestamp(clampMillis(ms))<<counterBits | Timestamp(counter)
}

// clampMillis limits ms to the range a Timestamp can represent.
func clampMillis(ms int64) int64 {
	return min(max(ms, 0), MaxMillis)
}

// Millis returns the Unix milliseconds part of t.
func (t Timestamp) Millis() int64 { return int64(t >> counterBits) }

// Counter returns the logical counter part of t.
func (t Timestamp) Counter() uint16 { return uint16(t) }

// Time returns the wall time of t's milliseconds part, in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis()).UTC() }

// IsZero reports whether t is the zero Timestamp.
func (t Timestamp) IsZero() bool { return t == 0 }

// String returns t as exactly 16 lowercase, zero-padded hex digits, so that
// string order equals numeric (time) order.
func (t Timestamp) String() string {
	var b [encodedLen]byte
	for i := encodedLen - 1; i >= 0; i-- {
		b[i] = "0123456789abcdef"[t&0xf]
		t >>= 4
	}
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler using String, so a Timestamp
// encodes as a JSON string.
func (t Timestamp) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using Parse.
func (t *Timestamp) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Parse parses the String form of a Timestamp: exactly 16 lowercase hex
// digits. Errors wrap ErrInvalid and say whether the length was wrong, a
// digit was uppercase, or a character was not hex.
func Parse(s string) (Timestamp, error) {
	if len(s) != encodedLen {
		return 0, fmt.Errorf("%w: length %d, want %d", ErrInvalid, len(s), encodedLen)
	}
	var v uint64
	for i := range len(s) {
		d, err := hexDigit(s, i)
		if err != nil {
			return 0, err
		}
		v = v<<4 | d
	}
	return Timestamp(v), nil
}

// hexDigit returns the value of the lowercase hex digit at s[i].
func hexDigit(s string, i int) (uint64, error) {
	switch c := s[i]; {
	case '0' <= c && c <= '9':
		return uint64(c - '0'), nil
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, nil
	case 'A' <= c && c <= 'F':
		return 0, fmt.Errorf("%w: %q: uppercase hex digit %q at index %d, want lowercase",
			ErrInvalid, s, rune(c), i)
	default:
		r, _ := utf8.DecodeRuneInString(s[i:])
		return 0, fmt.Errorf("%w: %q: non-hex character %q at index %d", ErrInvalid, s, r, i)
	}
}

// Clock issues strictly increasing Timestamps. It is safe for concurrent
// use. Create it with NewClock.
type Clock struct {
	mu       sync.Mutex
	wall     func() time.Time
	maxDrift time.Duration
	last     Timestamp
}

// NewClock returns a Clock reading wall time from wall. If maxDrift > 0,
// Update rejects remote Timestamps more than maxDrift ahead of wall time;
// maxDrift <= 0 disables the guard. NewClock panics if wall is nil.
func NewClock(wall func() time.Time, maxDrift time.Duration) *Clock {
	if wall == nil {
		panic("hlc: NewClock: nil wall clock function")
	}
	return &Clock{wall: wall, maxDrift: maxDrift}
}

// Last returns the most recent Timestamp the Clock issued, or zero if none.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Now returns a Timestamp for a local or send event, strictly greater than
// every Timestamp the Clock issued before. If the wall clock is ahead of the
// last Timestamp it returns (wall ms, 0); otherwise it returns the last
// Timestamp with its counter incremented, carrying into the milliseconds when
// the counter would exceed 0xffff. At MaxTimestamp it saturates.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.wallMillis()
	if pt > c.last.Millis() {
		c.last = New(pt, 0)
	} else if c.last != MaxTimestamp {
		c.last = c.last.next()
	}
	return c.last
}

// Update merges a remote Timestamp on receipt of a message (the HLC receive
// rule) and returns a Timestamp strictly greater than both the Clock's
// previous Timestamp and remote. The milliseconds become max(last, remote,
// wall); the counter follows Kulkarni et al.: 0 if wall time alone is
// largest, otherwise one more than the largest counter among the Timestamps
// sharing the new milliseconds (carrying into the milliseconds on overflow).
//
// If the drift guard is enabled and remote is more than maxDrift ahead of
// wall time, Update returns an error wrapping ErrDrift and leaves the Clock
// unchanged. If remote is MaxTimestamp it returns an error wrapping
// ErrOverflow, also leaving the Clock unchanged.
func (c *Clock) Update(remote Timestamp) (Timestamp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.wallMillis()
	if err := c.checkDrift(remote, pt); err != nil {
		return 0, err
	}
	top := max(c.last, remote)
	if pt > top.Millis() {
		c.last = New(pt, 0)
		return c.last, nil
	}
	// top is the larger of last and remote. If their ms are equal, its
	// counter is the larger one; otherwise only top has the new ms. Either
	// way the Kulkarni counter is top's counter + 1, which next computes.
	if top == MaxTimestamp {
		return 0, fmt.Errorf("%w: no timestamp after %s", ErrOverflow, top)
	}
	c.last = top.next()
	return c.last, nil
}

// checkDrift returns an ErrDrift error if remote is more than maxDrift ahead
// of the wall time pt (ms). It returns nil when the guard is disabled. The
// comparison is in whole milliseconds so it cannot overflow time.Duration.
func (c *Clock) checkDrift(remote Timestamp, pt int64) error {
	if c.maxDrift <= 0 {
		return nil
	}
	aheadMs := remote.Millis() - pt
	if aheadMs <= c.maxDrift.Milliseconds() {
		return nil
	}
	return fmt.Errorf("%w: remote %s is %s ahead of local wall clock (max drift %v)",
		ErrDrift, remote, formatMillis(aheadMs), c.maxDrift)
}

// formatMillis renders ms as a time.Duration when it fits, else as "<n>ms".
func formatMillis(ms int64) string {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return fmt.Sprintf("%dms", ms)
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

// wallMillis reads the injected wall clock as clamped Unix milliseconds.
func (c *Clock) wallMillis() int64 { return clampMillis(c.wall().UnixMilli()) }

// next returns the Timestamp after t: counter+1, or (ms+1, 0) when the
// counter is 0xffff. Because the counter occupies the low bits this is plain
// integer increment; callers must not pass MaxTimestamp.
func (t Timestamp) next() Timestamp { return t + 1 }
