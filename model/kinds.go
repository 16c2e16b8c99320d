package model

// Kind names.
const (
	KindIdentification = "identification"
	KindActionWeek     = "action_week"
	KindSiteVisit      = "site_visit"
)

// Well-known field names the server's access rules rely on.
const (
	FieldDeleted      = "deleted"
	FieldTeam         = "team"
	FieldActionWeek   = "action_week"
	FieldHostTeam     = "host_team"
	FieldStatus       = "status"
	FieldReviewStatus = "review_status"
	FieldRegion       = "region"
	FieldEndsOn       = "ends_on"
)

// SchemaVersion is bumped whenever a kind, field or allowed value changes.
// Version 2 removed the identification field linked_records: links between
// records are supervisor data kept by the server (GET/POST
// /v1/review/links), never record state, so that no reader of one record
// learns the id of another it may not read.
//
// Version 3 added the attachments log of identifications and site visits.
const SchemaVersion = 3

// Size bounds of values, in bytes of canonical JSON.
const (
	maxShort = 256
	maxText  = 16 << 10
	maxEntry = 64 << 10
)

var (
	fieldTeam       = []Role{RoleFieldWorker, RoleTeamLead, RoleVisitor, RoleSupervisor}
	supervisorsOnly = []Role{RoleSupervisor}
	leadsUp         = []Role{RoleTeamLead, RoleSupervisor}
)

func register(t ValueType, writers []Role) *Field {
	max := maxShort
	if t == TypeString {
		max = maxText
	}
	return &Field{Class: ClassRegister, Type: t, Writers: writers, MaxBytes: max}
}

func enum(writers []Role, values ...string) *Field {
	return &Field{Class: ClassRegister, Type: TypeString, Values: values, Writers: writers, MaxBytes: maxShort}
}

func formatted(format Format, writers []Role) *Field {
	return &Field{Class: ClassRegister, Type: TypeString, Format: format, Writers: writers, MaxBytes: maxShort}
}

func codeSet(writers []Role, values ...string) *Field {
	return &Field{Class: ClassSet, Type: TypeString, Values: values, Writers: writers, MaxBytes: maxShort}
}

func logOf(writers []Role, required ...string) *Field {
	return &Field{Class: ClassLog, Type: TypeObject, Writers: writers, Redactors: supervisorsOnly, Required: required, MaxBytes: maxEntry}
}

func scoped(f *Field) *Field {
	f.ChangeWriters = supervisorsOnly
	return exempt(f)
}

// exempt marks a decision field whose writes are never refused for the
// record's size.
func exempt(f *Field) *Field {
	f.SizeExempt = true
	return f
}

// DefaultSchema returns the schema fieldsync ships with. Each call returns
// a fresh copy the caller may keep.
func DefaultSchema() *Schema {
	cat := DefaultCatalogue()
	return &Schema{
		Version:    SchemaVersion,
		Indicators: cat,
		Limits:     DefaultRecordLimits,
		Kinds: map[string]*Kind{
			KindIdentification: identificationKind(cat),
			KindActionWeek:     actionWeekKind(),
			KindSiteVisit:      siteVisitKind(),
		},
	}
}

func identificationKind(cat *Catalogue) *Kind {
	status := enum(fieldTeam, "potential", "presumed", "identified", "not_victim", "withdrawn")
	status.RestrictedValues = map[string][]Role{"identified": supervisorsOnly, "not_victim": supervisorsOnly}
	return &Kind{Scope: FieldTeam, Fields: map[string]*Field{
		FieldDeleted:      exempt(register(TypeBool, leadsUp)),
		FieldTeam:         scoped(formatted(FormatUUID, fieldTeam)),
		"code":            {Class: ClassRegister, Type: TypeString, Writers: fieldTeam, MaxBytes: 64},
		FieldStatus:       exempt(status),
		"identifier_type": enum(fieldTeam, "first_responder", "formal"),
		"encounter_date":  register(TypeDate, fieldTeam),
		"region":          {Class: ClassRegister, Type: TypeString, Writers: fieldTeam, MaxBytes: maxShort},
		"location":        {Class: ClassRegister, Type: TypeString, Writers: fieldTeam, MaxBytes: maxShort},
		"sex":             enum(fieldTeam, "female", "male", "other", "unknown"),
		"age_group":       enum(fieldTeam, "child", "adult", "unknown"),
		"age_estimate":    register(TypeNumber, fieldTeam),
		"citizenship":     formatted(FormatCountry, fieldTeam),
		"child_presumed":  register(TypeBool, fieldTeam),
		"exploitation_types": codeSet(fieldTeam, "sexual", "labour", "begging", "forced_criminality",
			"forced_marriage", "organ_removal", "illegal_adoption", "surrogacy", "pornography", "other"),
		"indicators":           codeSet(fieldTeam, cat.Codes()...),
		"recruitment_channels": codeSet(fieldTeam, "social_network", "messaging_app", "online_ad", "family", "acquaintance", "agency", "other"),
		"payment_means":        codeSet(fieldTeam, "cash", "bank_transfer", "money_transfer_service", "crypto", "in_kind", "other"),
		"consent":              logOf(fieldTeam, "scope"),
		"referrals":            logOf(fieldTeam, "service"),
		"notes":                logOf(fieldTeam, "text"),
		FieldAttachments:       attachmentsOf(),
		FieldReviewStatus:      exempt(enum(supervisorsOnly, "pending", "reviewed", "needs_info")),
		FieldActionWeek:        formatted(FormatUUID, fieldTeam),
	}}
}

func actionWeekKind() *Kind {
	return &Kind{Fields: map[string]*Field{
		FieldDeleted:          exempt(register(TypeBool, supervisorsOnly)),
		"name":                {Class: ClassRegister, Type: TypeString, Writers: supervisorsOnly, MaxBytes: maxShort},
		"origin_country":      formatted(FormatCountry, supervisorsOnly),
		"destination_country": formatted(FormatCountry, supervisorsOnly),
		"starts_on":           register(TypeDate, supervisorsOnly),
		FieldEndsOn:           register(TypeDate, supervisorsOnly),
		FieldHostTeam:         exempt(formatted(FormatUUID, supervisorsOnly)),
		"towns":               {Class: ClassSet, Type: TypeString, Writers: supervisorsOnly, MaxBytes: maxShort},
	}}
}

func siteVisitKind() *Kind {
	return &Kind{Scope: FieldActionWeek, Fields: map[string]*Field{
		FieldDeleted:     exempt(register(TypeBool, leadsUp)),
		FieldActionWeek:  scoped(formatted(FormatUUID, fieldTeam)),
		"town":           {Class: ClassRegister, Type: TypeString, Writers: fieldTeam, MaxBytes: maxShort},
		"visited_on":     register(TypeDate, fieldTeam),
		"participants":   {Class: ClassSet, Type: TypeString, Writers: fieldTeam, MaxBytes: maxShort},
		"summary":        register(TypeString, fieldTeam),
		"notes":          logOf(fieldTeam, "text"),
		FieldAttachments: attachmentsOf(),
	}}
}
