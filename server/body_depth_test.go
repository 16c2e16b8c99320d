package server

import (
	"strings"
	"testing"
)

// depthByState is jsonDepth as a byte-by-byte state machine: the
// reference of TestJSONDepthAsStateMachine.
func depthByState(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// depthBodies are edge cases of strings, escapes and brackets.
var depthBodies = []string{
	``, `[]`, `[[[]]]`, `{"a":[{"b":[]}]}`, `"[[["`, `["\"[["]`, `["\\"[[]`, `["\\\"[["]`, `["\\\\"[[]]`,
	`"\`, `"\"`, `"abc`, `[["unterminated [[[`, `]]][[`, `{"a":"}{"}`, `\"[`, `"x\\\\\\"[`, `[` + strings.Repeat(`"\\\"",`, 50) + `[]]`,
	`{"ops":[{"value":{"text":"a [bracket] and a \"quote\" and a \\"}}]}`,
}

// TestJSONDepthAsStateMachine: jsonDepth, which skips strings with a
// search, agrees with the byte-by-byte state machine it replaced.
func TestJSONDepthAsStateMachine(t *testing.T) {
	for _, body := range depthBodies {
		if got, want := jsonDepth([]byte(body)), depthByState([]byte(body)); got != want {
			t.Errorf("jsonDepth(%q) = %d, want %d", body, got, want)
		}
	}
}

// FuzzJSONDepthAsStateMachine is TestJSONDepthAsStateMachine on any
// bytes.
func FuzzJSONDepthAsStateMachine(f *testing.F) {
	for _, body := range depthBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := jsonDepth(body), depthByState(body); got != want {
			t.Errorf("jsonDepth(%q) = %d, want %d", body, got, want)
		}
	})
}
