package model

import (
	"slices"
	"testing"
)

func TestClassAllows(t *testing.T) {
	allowed := map[Class][]Action{
		ClassRegister: {ActionSet},
		ClassSet:      {ActionAdd, ActionRemove},
		ClassLog:      {ActionAppend, ActionRedact},
		"":            nil,
		"map":         nil,
	}
	actions := []Action{ActionSet, ActionAdd, ActionRemove, ActionAppend, ActionRedact, ""}
	for c, ok := range allowed {
		for _, a := range actions {
			t.Run(string(c)+"/"+string(a), func(t *testing.T) {
				if got, want := c.Allows(a), slices.Contains(ok, a); got != want {
					t.Errorf("%q.Allows(%q) = %v, want %v", c, a, got, want)
				}
			})
		}
	}
}

func TestFieldAllowed(t *testing.T) {
	open := &Field{}
	closed := &Field{Values: []string{"female", "male"}}
	tests := []struct {
		name string
		f    *Field
		v    string
		want bool
	}{
		{"open list takes anything", open, "anything", true},
		{"first value", closed, "female", true},
		{"last value", closed, "male", true},
		{"not listed", closed, "other", false},
		{"empty not listed", closed, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Allowed(tt.v); got != tt.want {
				t.Errorf("Allowed(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestSchemaField(t *testing.T) {
	s := DefaultSchema()
	tests := []struct {
		name, kind, field string
		want              Code // "" = found
	}{
		{"found", KindIdentification, FieldStatus, ""},
		{"unknown kind", "victim", FieldStatus, CodeUnknownKind},
		{"unknown field", KindIdentification, "linked_records", CodeUnknownField},
		{"field of another kind", KindActionWeek, "sex", CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.Field(tt.kind, tt.field)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("Field(%q, %q) error %v, want code %q", tt.kind, tt.field, err, tt.want)
			}
			if tt.want == "" && f != s.Kinds[tt.kind].Fields[tt.field] {
				t.Errorf("Field(%q, %q) = %p, want the schema's declaration", tt.kind, tt.field, f)
			}
			if tt.want != "" && f != nil {
				t.Errorf("Field(%q, %q) = %+v with an error, want nil", tt.kind, tt.field, f)
			}
		})
	}
}

func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

// TestDefaultSchemaShape pins the declarations the access rules and the
// merge rely on: classes, types, formats, scopes and the size bound of
// each kind of field.
func TestDefaultSchemaShape(t *testing.T) {
	s := DefaultSchema()
	if got, want := s.Version, SchemaVersion; got != want {
		t.Errorf("Version = %d, want %d", got, want)
	}
	if got, want := s.Limits, DefaultRecordLimits; got != want {
		t.Errorf("Limits = %+v, want %+v", got, want)
	}
	if s.Indicators == nil || len(s.Indicators.Indicators) == 0 {
		t.Fatal("no indicator catalogue")
	}
	scopes := map[string]string{KindIdentification: FieldTeam, KindActionWeek: "", KindSiteVisit: FieldActionWeek}
	if got, want := len(s.Kinds), len(scopes); got != want {
		t.Errorf("%d kinds, want %d", got, want)
	}
	for kind, scope := range scopes {
		k := s.Kinds[kind]
		if k == nil {
			t.Fatalf("no kind %q", kind)
		}
		if k.Scope != scope {
			t.Errorf("%s: Scope = %q, want %q", kind, k.Scope, scope)
		}
	}
	tests := []struct {
		kind, field string
		want        Field // Writers, ChangeWriters, RestrictedValues, Values and Redactors checked elsewhere
	}{
		{KindIdentification, FieldDeleted, Field{Class: ClassRegister, Type: TypeBool, MaxBytes: maxShort, SizeExempt: true}},
		{KindIdentification, FieldTeam, Field{Class: ClassRegister, Type: TypeString, Format: FormatUUID, MaxBytes: maxShort, SizeExempt: true}},
		{KindIdentification, "code", Field{Class: ClassRegister, Type: TypeString, MaxBytes: 64}},
		{KindIdentification, FieldStatus, Field{Class: ClassRegister, Type: TypeString, MaxBytes: maxShort, SizeExempt: true}},
		{KindIdentification, "encounter_date", Field{Class: ClassRegister, Type: TypeDate, MaxBytes: maxShort}},
		{KindIdentification, "age_estimate", Field{Class: ClassRegister, Type: TypeNumber, MaxBytes: maxShort}},
		{KindIdentification, "citizenship", Field{Class: ClassRegister, Type: TypeString, Format: FormatCountry, MaxBytes: maxShort}},
		{KindIdentification, "indicators", Field{Class: ClassSet, Type: TypeString, MaxBytes: maxShort}},
		{KindIdentification, "notes", Field{Class: ClassLog, Type: TypeObject, Required: []string{"text"}, MaxBytes: maxEntry}},
		{KindIdentification, "consent", Field{Class: ClassLog, Type: TypeObject, Required: []string{"scope"}, MaxBytes: maxEntry}},
		{KindIdentification, FieldAttachments, Field{Class: ClassLog, Type: TypeObject, Format: FormatAttachment, Required: []string{"digest", "media_type"}, MaxBytes: maxEntry}},
		{KindIdentification, FieldReviewStatus, Field{Class: ClassRegister, Type: TypeString, MaxBytes: maxShort, SizeExempt: true}},
		{KindIdentification, FieldActionWeek, Field{Class: ClassRegister, Type: TypeString, Format: FormatUUID, MaxBytes: maxShort}},
		{KindActionWeek, FieldDeleted, Field{Class: ClassRegister, Type: TypeBool, MaxBytes: maxShort, SizeExempt: true}},
		{KindActionWeek, FieldHostTeam, Field{Class: ClassRegister, Type: TypeString, Format: FormatUUID, MaxBytes: maxShort, SizeExempt: true}},
		{KindActionWeek, FieldEndsOn, Field{Class: ClassRegister, Type: TypeDate, MaxBytes: maxShort}},
		{KindActionWeek, "towns", Field{Class: ClassSet, Type: TypeString, MaxBytes: maxShort}},
		{KindSiteVisit, FieldActionWeek, Field{Class: ClassRegister, Type: TypeString, Format: FormatUUID, MaxBytes: maxShort, SizeExempt: true}},
		{KindSiteVisit, "summary", Field{Class: ClassRegister, Type: TypeString, MaxBytes: maxText}},
		{KindSiteVisit, FieldAttachments, Field{Class: ClassLog, Type: TypeObject, Format: FormatAttachment, Required: []string{"digest", "media_type"}, MaxBytes: maxEntry}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"."+tt.field, func(t *testing.T) {
			f, err := s.Field(tt.kind, tt.field)
			if err != nil {
				t.Fatal(err)
			}
			got := Field{Class: f.Class, Type: f.Type, Format: f.Format, Required: f.Required, MaxBytes: f.MaxBytes, SizeExempt: f.SizeExempt}
			w := tt.want
			if got.Class != w.Class || got.Type != w.Type || got.Format != w.Format || !slices.Equal(got.Required, w.Required) || got.MaxBytes != w.MaxBytes || got.SizeExempt != w.SizeExempt {
				t.Errorf("got %+v, want %+v", got, w)
			}
		})
	}
}

// TestDefaultSchemaWriters pins who may write, change, restrict and
// redact: the access rules of DESIGN §6 read these lists.
func TestDefaultSchemaWriters(t *testing.T) {
	s := DefaultSchema()
	team := []Role{RoleFieldWorker, RoleTeamLead, RoleVisitor, RoleSupervisor}
	sup := []Role{RoleSupervisor}
	tests := []struct {
		kind, field               string
		writers, change, redactor []Role
	}{
		{KindIdentification, FieldDeleted, []Role{RoleTeamLead, RoleSupervisor}, nil, nil},
		{KindIdentification, FieldTeam, team, sup, nil},
		{KindIdentification, FieldStatus, team, nil, nil},
		{KindIdentification, "notes", team, nil, sup},
		{KindIdentification, FieldAttachments, team, nil, sup},
		{KindIdentification, FieldReviewStatus, sup, nil, nil},
		{KindIdentification, FieldActionWeek, team, nil, nil},
		{KindActionWeek, FieldDeleted, sup, nil, nil},
		{KindActionWeek, FieldHostTeam, sup, nil, nil},
		{KindActionWeek, "towns", sup, nil, nil},
		{KindSiteVisit, FieldDeleted, []Role{RoleTeamLead, RoleSupervisor}, nil, nil},
		{KindSiteVisit, FieldActionWeek, team, sup, nil},
		{KindSiteVisit, "notes", team, nil, sup},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"."+tt.field, func(t *testing.T) {
			f := s.Kinds[tt.kind].Fields[tt.field]
			if !slices.Equal(f.Writers, tt.writers) {
				t.Errorf("Writers = %v, want %v", f.Writers, tt.writers)
			}
			if !slices.Equal(f.ChangeWriters, tt.change) {
				t.Errorf("ChangeWriters = %v, want %v", f.ChangeWriters, tt.change)
			}
			if !slices.Equal(f.Redactors, tt.redactor) {
				t.Errorf("Redactors = %v, want %v", f.Redactors, tt.redactor)
			}
		})
	}
	status := s.Kinds[KindIdentification].Fields[FieldStatus]
	if got, want := len(status.RestrictedValues), 2; got != want {
		t.Errorf("status has %d restricted values, want %d", got, want)
	}
	for _, v := range []string{"identified", "not_victim"} {
		if got := status.RestrictedValues[v]; !slices.Equal(got, sup) {
			t.Errorf("status %q restricted to %v, want %v", v, got, sup)
		}
	}
}

// TestDefaultSchemaInvariants checks every declaration: a known class,
// type and format, writers that are roles, a positive size bound and
// allowed values the field's own Allowed accepts.
func TestDefaultSchemaInvariants(t *testing.T) {
	s := DefaultSchema()
	for kind, k := range s.Kinds {
		for name, f := range k.Fields {
			t.Run(kind+"."+name, func(t *testing.T) {
				if !slices.Contains([]Class{ClassRegister, ClassSet, ClassLog}, f.Class) {
					t.Errorf("class %q", f.Class)
				}
				if (f.Class == ClassLog) != (f.Type == TypeObject) {
					t.Errorf("class %q with type %q: logs and only logs hold objects", f.Class, f.Type)
				}
				if len(f.Writers) == 0 {
					t.Error("no writers")
				}
				for _, r := range append(append(slices.Clone(f.Writers), f.ChangeWriters...), f.Redactors...) {
					if !r.Valid() {
						t.Errorf("role %q", r)
					}
				}
				if (f.Class == ClassLog) != (len(f.Redactors) > 0) {
					t.Errorf("class %q with redactors %v", f.Class, f.Redactors)
				}
				if f.MaxBytes <= 0 {
					t.Errorf("MaxBytes = %d", f.MaxBytes)
				}
				for _, v := range f.Values {
					if !f.Allowed(v) {
						t.Errorf("Allowed(%q) = false for a listed value", v)
					}
				}
			})
		}
	}
	ind := s.Kinds[KindIdentification].Fields["indicators"]
	if !slices.Equal(ind.Values, s.Indicators.Codes()) {
		t.Error("the indicators field does not allow exactly the catalogue's codes")
	}
}

func TestDefaultSchemaIndependentCopies(t *testing.T) {
	a := DefaultSchema()
	a.Kinds[KindIdentification].Fields["notes"].MaxBytes = 1
	a.Kinds[KindIdentification].Fields[FieldStatus].Values[0] = "mutated"
	delete(a.Kinds, KindSiteVisit)
	a.Indicators.Indicators[0].Code = "mutated"

	b := DefaultSchema()
	if got, want := b.Kinds[KindIdentification].Fields["notes"].MaxBytes, maxEntry; got != want {
		t.Errorf("notes MaxBytes = %d, want %d", got, want)
	}
	if got, want := b.Kinds[KindIdentification].Fields[FieldStatus].Values[0], "potential"; got != want {
		t.Errorf("status value 0 = %q, want %q", got, want)
	}
	if b.Kinds[KindSiteVisit] == nil {
		t.Error("site_visit missing from a fresh schema")
	}
	if b.Indicators.Indicators[0].Code == "mutated" {
		t.Error("the catalogue is shared between schemas")
	}
}

func TestSetLimits(t *testing.T) {
	logs := func(s *Schema) (n int, sizes map[int]int) {
		sizes = map[int]int{}
		for _, k := range s.Kinds {
			for _, f := range k.Fields {
				if f.Class == ClassLog {
					n++
					sizes[f.MaxBytes]++
				}
			}
		}
		return n, sizes
	}
	tests := []struct {
		name      string
		limits    RecordLimits
		wantBytes int
	}{
		{"positive entry bound", RecordLimits{MaxLogEntries: 5, MaxEntryBytes: 1000, MaxRecordBytes: 9000}, 1000},
		{"entry bound of one byte", RecordLimits{MaxEntryBytes: 1}, 1},
		{"zero keeps the declarations", RecordLimits{MaxLogEntries: 5}, maxEntry},
		{"negative keeps the declarations", RecordLimits{MaxEntryBytes: -1}, maxEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSchema()
			s.SetLimits(tt.limits)
			if s.Limits != tt.limits {
				t.Errorf("Limits = %+v, want %+v", s.Limits, tt.limits)
			}
			n, sizes := logs(s)
			if n == 0 || sizes[tt.wantBytes] != n {
				t.Errorf("log max_bytes %v, want all %d of %d", sizes, tt.wantBytes, n)
			}
			for name, f := range s.Kinds[KindIdentification].Fields {
				if f.Class != ClassLog && f.MaxBytes == tt.wantBytes && tt.wantBytes != maxEntry {
					t.Errorf("non-log field %s got the entry bound", name)
				}
			}
		})
	}
}
