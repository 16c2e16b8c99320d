package crdt

import (
	"encoding/json"
	"slices"

	"github.com/fieldsync/fieldsync/model"
)

// Validate checks a decoded op against the schema: the kind and field
// exist, the action belongs to the field's class, the base has the shape
// the action needs, and the value has the field's type, format and allowed
// values. It says nothing about who may write (that is access control).
// Errors are *model.Error with codes unknown_kind, unknown_field,
// invalid_op or invalid_value.
func Validate(s *model.Schema, op *Op) error {
	f, err := s.Field(op.Kind, op.Field)
	if err != nil {
		return err
	}
	if !f.Class.Allows(op.Action) {
		return model.Errorf(model.CodeInvalidOp, "The field %q is a %s; %q is not one of its actions.", op.Field, f.Class, op.Action)
	}
	if err := checkBase(op); err != nil {
		return err
	}
	return checkValue(s, op, f)
}

func checkBase(op *Op) error {
	switch op.Action {
	case model.ActionAdd, model.ActionAppend:
		if len(op.Base) != 0 {
			return model.Errorf(model.CodeInvalidOp, "An %s op supersedes nothing; its base must be empty.", op.Action)
		}
	case model.ActionRedact:
		if len(op.Base) != 1 {
			return model.Errorf(model.CodeInvalidOp, "A redact op names exactly one append op in its base.")
		}
	}
	if slices.Contains(op.Base, op.ID) {
		return model.Errorf(model.CodeInvalidOp, "An op cannot name itself in its base.")
	}
	return nil
}

func checkValue(s *model.Schema, op *Op, f *model.Field) error {
	if len(op.Value) > f.MaxBytes {
		return model.Errorf(model.CodeInvalidValue, "The value of %q is %d bytes; at most %d are allowed.", op.Field, len(op.Value), f.MaxBytes)
	}
	switch op.Action {
	case model.ActionRedact:
		if !IsNull(op.Value) {
			return model.Errorf(model.CodeInvalidValue, "A redact op carries no value.")
		}
		return nil
	case model.ActionSet:
		if IsNull(op.Value) {
			return checkClearable(s, op, f)
		}
	case model.ActionRemove:
		// A remove may name a code the catalogue has since retired.
		if _, ok := rawString([]byte(op.Value)); !ok {
			return model.Errorf(model.CodeInvalidValue, "The element of %q must be a string.", op.Field)
		}
		return nil
	case model.ActionAppend:
		return checkEntry(op, f)
	}
	return checkScalar(op, f)
}

// checkClearable allows null (a cleared value) except for the deleted flag
// and the field that scopes the record.
func checkClearable(s *model.Schema, op *Op, f *model.Field) error {
	if op.Field == model.FieldDeleted || s.Kinds[op.Kind].Scope == op.Field {
		return model.Errorf(model.CodeInvalidValue, "The field %q cannot be cleared; it needs a %s.", op.Field, f.Type)
	}
	return nil
}

// checkScalar checks a register value or set element against the field's
// type. Values are canonical JSON (DecodeOp), so the first byte tells the
// JSON type.
func checkScalar(op *Op, f *model.Field) error {
	v := op.Value
	switch f.Type {
	case model.TypeBool:
		if string(v) != "true" && string(v) != "false" {
			return wrongType(op, f)
		}
	case model.TypeNumber:
		if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return wrongType(op, f)
		}
	case model.TypeDate:
		if s, ok := rawString([]byte(v)); !ok || !model.ValidDate(s) {
			return model.Errorf(model.CodeInvalidValue, "The value of %q must be a date written YYYY-MM-DD.", op.Field)
		}
	case model.TypeString:
		s, ok := rawString([]byte(v))
		if !ok {
			return wrongType(op, f)
		}
		return checkString(op, f, s)
	default:
		return wrongType(op, f)
	}
	return nil
}

func checkString(op *Op, f *model.Field, s string) error {
	switch f.Format {
	case model.FormatUUID:
		if !model.ValidID(s) {
			return model.Errorf(model.CodeInvalidValue, "The value of %q must be a UUID in canonical lowercase form.", op.Field)
		}
	case model.FormatCountry:
		if !model.IsCountry(s) {
			return model.Errorf(model.CodeInvalidValue, "The value of %q must be an ISO 3166-1 alpha-2 country code such as \"AL\".", op.Field)
		}
	}
	if !f.Allowed(s) {
		return model.Errorf(model.CodeInvalidValue, "%q is not an allowed value of %q.", s, op.Field)
	}
	if f.Class == model.ClassSet && s == "" {
		return model.Errorf(model.CodeInvalidValue, "An element of %q cannot be empty.", op.Field)
	}
	return nil
}

func checkEntry(op *Op, f *model.Field) error {
	var entry map[string]any
	if json.Unmarshal(op.Value, &entry) != nil || entry == nil {
		return model.Errorf(model.CodeInvalidValue, "An entry of %q must be a JSON object.", op.Field)
	}
	for _, key := range f.Required {
		if s, ok := entry[key].(string); !ok || s == "" {
			return model.Errorf(model.CodeInvalidValue, "An entry of %q needs %q as a non-empty string.", op.Field, key)
		}
	}
	if f.Format == model.FormatAttachment {
		return checkAttachment(op, entry)
	}
	return nil
}

// checkAttachment checks an entry naming a blob: a SHA-256 digest in
// lowercase hex, a positive whole size, an allowed media type, and a file
// name and caption that are short strings when present.
func checkAttachment(op *Op, entry map[string]any) error {
	if !model.ValidDigest(entry["digest"].(string)) {
		return model.Errorf(model.CodeInvalidValue, "The digest of an entry of %q must be a SHA-256 digest in lowercase hex.", op.Field)
	}
	size, ok := entry["size"].(float64)
	if !ok || size < 1 || size > 1<<53 || size != float64(int64(size)) {
		return model.Errorf(model.CodeInvalidValue, "The size of an entry of %q must be a positive whole number of bytes.", op.Field)
	}
	if !model.AllowedAttachmentType(entry["media_type"].(string)) {
		return model.Errorf(model.CodeInvalidValue, "The media type of an entry of %q must be one of %v.", op.Field, model.AttachmentTypes)
	}
	for _, key := range []string{"name", "caption"} {
		v, present := entry[key]
		if s, ok := v.(string); present && (!ok || len(s) > model.MaxAttachmentName) {
			return model.Errorf(model.CodeInvalidValue, "The %s of an entry of %q must be a string of at most %d bytes.", key, op.Field, model.MaxAttachmentName)
		}
	}
	return nil
}

func wrongType(op *Op, f *model.Field) error {
	return model.Errorf(model.CodeInvalidValue, "The value of %q must be a %s.", op.Field, f.Type)
}
