package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fieldsync/fieldsync/model"
)

// decodeBody parses a JSON request body strictly into dst: one object, no
// unknown keys, nesting at most maxDepth (the top-level object is depth 1).
func decodeBody(body []byte, maxDepth int, dst any) error {
	if d := jsonDepth(body); d > maxDepth {
		return model.Errorf(model.CodeTooDeep, "The body nests %d levels deep; at most %d are allowed.", d, maxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return model.Errorf(model.CodeInvalidJSON, "The body holds more than one JSON value.")
	}
	return nil
}

func bodyError(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return &model.Error{Code: model.CodeInvalidJSON, Message: fmt.Sprintf("%q must be a JSON %s.", typeErr.Field, typeErr.Type.Kind()), Err: err}
	case bytes.HasPrefix([]byte(err.Error()), []byte("json: unknown field")):
		return &model.Error{Code: model.CodeInvalidRequest, Message: fmt.Sprintf("The body has an unknown key (%s).", err.Error()[len("json: unknown field "):]), Err: err}
	}
	return &model.Error{Code: model.CodeInvalidJSON, Message: "The body is not valid JSON of the expected shape.", Err: err}
}

// jsonDepth returns the deepest nesting of objects and arrays in data,
// ignoring brackets inside strings. It does not validate. A string is
// skipped in one search for its closing quote (one not escaped: preceded
// by an even run of backslashes), which is most of a push body.
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i = stringEnd(data, i+1)
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// stringEnd returns the index of the quote that closes the string whose
// contents start at from (len(data) when none does).
func stringEnd(data []byte, from int) int {
	for i := from; i < len(data); {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			break
		}
		q += i
		backslashes := 0
		for j := q - 1; j >= from && data[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		i = q + 1
	}
	return len(data)
}
