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
// ignoring brackets inside strings. It does not validate.
func jsonDepth(data []byte) int {
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
			if depth > deepest {
				deepest = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
