package model

// Dimension is one of the six ILO/EC (Delphi 2009) dimensions of
// trafficking indicators.
type Dimension string

// The six dimensions.
const (
	DimDeceptiveRecruitment     Dimension = "deceptive_recruitment"
	DimCoerciveRecruitment      Dimension = "coercive_recruitment"
	DimRecruitmentAbuseVuln     Dimension = "recruitment_abuse_of_vulnerability"
	DimExploitativeConditions   Dimension = "exploitative_conditions"
	DimCoercionAtDestination    Dimension = "coercion_at_destination"
	DimAbuseOfVulnAtDestination Dimension = "abuse_of_vulnerability_at_destination"
)

// Dimensions lists the six dimensions in the ILO order.
var Dimensions = []Dimension{DimDeceptiveRecruitment, DimCoerciveRecruitment, DimRecruitmentAbuseVuln,
	DimExploitativeConditions, DimCoercionAtDestination, DimAbuseOfVulnAtDestination}

// Audience says whether an indicator applies to adults, children or both.
type Audience string

// The audiences.
const (
	AudienceAdult Audience = "adult"
	AudienceChild Audience = "child"
)

// Indicator is one entry of the catalogue. Its Code is stable forever:
// records keep it for years; a wording change keeps the code, a change of
// meaning retires the code and adds a new one.
type Indicator struct {
	Code      string     `json:"code"`
	Dimension Dimension  `json:"dimension"`
	Audiences []Audience `json:"audiences"`
	Label     string     `json:"label"`
}

// Catalogue is a versioned list of indicators.
type Catalogue struct {
	Version    int         `json:"version"`
	Indicators []Indicator `json:"indicators"`
}

// Codes returns the catalogue's codes in catalogue order.
func (c *Catalogue) Codes() []string {
	codes := make([]string, len(c.Indicators))
	for i, ind := range c.Indicators {
		codes[i] = ind.Code
	}
	return codes
}

// Lookup returns the indicator with code, if any.
func (c *Catalogue) Lookup(code string) (Indicator, bool) {
	for _, ind := range c.Indicators {
		if ind.Code == code {
			return ind, true
		}
	}
	return Indicator{}, false
}
