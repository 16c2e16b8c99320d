package model

// Class is a field's merge class (DESIGN §3).
type Class string

// The merge classes.
const (
	ClassRegister Class = "register"
	ClassSet      Class = "set"
	ClassLog      Class = "log"
)

// Action is what an op does to its field.
type Action string

// The op actions and the class each belongs to.
const (
	ActionSet    Action = "set"
	ActionAdd    Action = "add"
	ActionRemove Action = "remove"
	ActionAppend Action = "append"
	ActionRedact Action = "redact"
)

// Allows reports whether action a belongs to class c.
func (c Class) Allows(a Action) bool {
	switch c {
	case ClassRegister:
		return a == ActionSet
	case ClassSet:
		return a == ActionAdd || a == ActionRemove
	case ClassLog:
		return a == ActionAppend || a == ActionRedact
	}
	return false
}

// ValueType is the JSON type of a field's values (for sets, of one element;
// for logs, of one entry).
type ValueType string

// The value types.
const (
	TypeString ValueType = "string"
	TypeNumber ValueType = "number"
	TypeBool   ValueType = "bool"
	TypeDate   ValueType = "date"
	TypeObject ValueType = "object"
)

// Format narrows a string value beyond its type.
type Format string

// The formats.
const (
	FormatNone    Format = ""
	FormatUUID    Format = "uuid"           // a canonical lowercase UUID (record, team, action week ids)
	FormatCountry Format = "iso3166_alpha2" // an ISO 3166-1 alpha-2 code, upper case
	// FormatAttachment (attachment.go): a log entry naming a blob.
)

// Field declares one field of a kind.
type Field struct {
	Class  Class     `json:"class"`
	Type   ValueType `json:"type"`
	Format Format    `json:"format,omitempty"`
	// Values is the closed list of allowed values (set elements), if any.
	Values []string `json:"values,omitempty"`
	// Writers may write the field.
	Writers []Role `json:"writers"`
	// ChangeWriters, when set, are the only roles that may write the field
	// once the record exists at the server (the record's scope: team,
	// action week).
	ChangeWriters []Role `json:"change_writers,omitempty"`
	// RestrictedValues maps a value to the only roles that may set it; while
	// the shown value is restricted, only its roles may replace it.
	RestrictedValues map[string][]Role `json:"restricted_values,omitempty"`
	// Redactors may redact entries of a log.
	Redactors []Role `json:"redactors,omitempty"`
	// Required lists keys a log entry object must hold as non-empty strings.
	Required []string `json:"required,omitempty"`
	// MaxBytes bounds one value's canonical JSON size.
	MaxBytes int `json:"max_bytes"`
	// SizeExempt marks a field whose writes are never refused for the
	// record's size (RecordLimits): deletion, status, review and scope
	// decisions must still be possible on a full record.
	SizeExempt bool `json:"size_exempt,omitempty"`
}

// Allowed reports whether v is in f.Values (true when f.Values is empty).
func (f *Field) Allowed(v string) bool {
	if len(f.Values) == 0 {
		return true
	}
	for _, x := range f.Values {
		if x == v {
			return true
		}
	}
	return false
}

// Kind declares one record kind.
type Kind struct {
	// Scope names the field that places a record in an access bucket and
	// that a record's first op must bring ("" for a kind that is its own
	// scope, such as action_week).
	Scope  string            `json:"scope,omitempty"`
	Fields map[string]*Field `json:"fields"`
}

// Schema is the full declarative schema served at GET /v1/schema.
type Schema struct {
	Version    int              `json:"version"`
	Kinds      map[string]*Kind `json:"kinds"`
	Indicators *Catalogue       `json:"indicator_catalogue"`
	// Limits bound how large one record may grow.
	Limits RecordLimits `json:"limits"`
}

// Field returns the declaration of kind.field, or an *Error with
// CodeUnknownKind or CodeUnknownField.
func (s *Schema) Field(kind, field string) (*Field, error) {
	k, ok := s.Kinds[kind]
	if !ok {
		return nil, Errorf(CodeUnknownKind, "There is no record kind %q.", kind)
	}
	f, ok := k.Fields[field]
	if !ok {
		return nil, Errorf(CodeUnknownField, "Records of kind %q have no field %q.", kind, field)
	}
	return f, nil
}

// HasRole reports whether role is in roles.
func HasRole(roles []Role, role Role) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
