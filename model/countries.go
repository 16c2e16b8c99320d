package model

import "strings"

// countryCodes lists, sorted and separated by single spaces, the 249
// officially assigned ISO 3166-1 alpha-2 codes plus XK.
//
// User-assigned codes (AA, QM-QZ, XA-XZ, ZZ) and exceptionally or
// transitionally reserved codes (EU, UK, UN, EZ, ...) are deliberately
// absent: they do not name a country a person can be a citizen of, and
// accepting them would let the same country be recorded two ways (UK/GB).
//
// The one exception is XK, Kosovo. ISO has not assigned it (it is in the
// user-assigned range), but the European Commission, Kosovo's own
// authorities and most Balkan agencies use it as Kosovo's code, and
// fieldsync's teams work in that region, where Kosovo is a common origin and
// destination. Without XK a field worker could not record a Kosovo citizen
// at all. Should ISO ever assign Kosovo a different code, that code is added
// here and XK stays valid for the records that already carry it.
const countryCodes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"XK " +
	"YE YT " +
	"ZA ZM ZW"

// countries is the set form of countryCodes, built once at package
// initialisation and never modified afterwards, so concurrent reads are safe.
var countries = func() map[string]struct{} {
	codes := strings.Fields(countryCodes)
	m := make(map[string]struct{}, len(codes))
	for _, c := range codes {
		m[c] = struct{}{}
	}
	return m
}()

// IsCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 country code, or XK for Kosovo (see countryCodes for why).
// The match is exact: code must be two upper-case ASCII letters, so "de",
// " DE" and the alpha-3 "DEU" are all rejected.
func IsCountry(code string) bool {
	if len(code) != 2 {
		return false
	}
	_, ok := countries[code]
	return ok
}
