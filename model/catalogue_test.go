package model

import (
	"regexp"
	"slices"
	"testing"
)

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func TestDefaultCatalogueCodes(t *testing.T) {
	cat := DefaultCatalogue()
	if cat.Version != 1 {
		t.Errorf("Version = %d, want 1", cat.Version)
	}
	seen := map[string]bool{}
	for _, ind := range cat.Indicators {
		if seen[ind.Code] {
			t.Errorf("duplicate code %q", ind.Code)
		}
		seen[ind.Code] = true
		if !codePattern.MatchString(ind.Code) {
			t.Errorf("code %q is not snake_case ASCII", ind.Code)
		}
		if len(ind.Code) > 48 {
			t.Errorf("code %q is %d bytes, max 48", ind.Code, len(ind.Code))
		}
	}
	if got := cat.Codes(); len(got) != len(cat.Indicators) {
		t.Errorf("Codes() has %d entries, want %d", len(got), len(cat.Indicators))
	}
}

func TestDefaultCatalogueIndicators(t *testing.T) {
	cat := DefaultCatalogue()
	perDim := map[Dimension]int{}
	for _, ind := range cat.Indicators {
		if !slices.Contains(Dimensions, ind.Dimension) {
			t.Errorf("%s: unknown dimension %q", ind.Code, ind.Dimension)
		}
		perDim[ind.Dimension]++
		if n := len(ind.Audiences); n < 1 || n > 2 {
			t.Errorf("%s: %d audiences, want 1 or 2", ind.Code, n)
		}
		seen := map[Audience]bool{}
		for _, a := range ind.Audiences {
			if a != AudienceAdult && a != AudienceChild {
				t.Errorf("%s: unknown audience %q", ind.Code, a)
			}
			if seen[a] {
				t.Errorf("%s: duplicate audience %q", ind.Code, a)
			}
			seen[a] = true
		}
		if ind.Label == "" {
			t.Errorf("%s: empty label", ind.Code)
		}
	}
	for _, d := range Dimensions {
		if perDim[d] < 7 {
			t.Errorf("dimension %s has %d indicators, want at least 7", d, perDim[d])
		}
	}
}

func TestDefaultCatalogueIndependentCopies(t *testing.T) {
	a := DefaultCatalogue()
	want := DefaultCatalogue()
	a.Version = 99
	a.Indicators[0].Code = "mutated"
	a.Indicators[0].Label = "mutated"
	a.Indicators[0].Audiences[0] = "mutated"
	a.Indicators = append(a.Indicators[:1], Indicator{Code: "extra"})

	b := DefaultCatalogue()
	if b.Version != want.Version {
		t.Errorf("Version changed to %d", b.Version)
	}
	if len(b.Indicators) != len(want.Indicators) {
		t.Fatalf("got %d indicators, want %d", len(b.Indicators), len(want.Indicators))
	}
	for i := range b.Indicators {
		g, w := b.Indicators[i], want.Indicators[i]
		if g.Code != w.Code || g.Label != w.Label || g.Dimension != w.Dimension || !slices.Equal(g.Audiences, w.Audiences) {
			t.Errorf("indicator %d changed: got %+v, want %+v", i, g, w)
		}
	}
}

func TestDefaultCatalogueLookup(t *testing.T) {
	cat := DefaultCatalogue()
	for _, code := range []string{"debt_bondage", "documents_withheld"} {
		ind, ok := cat.Lookup(code)
		if !ok {
			t.Errorf("Lookup(%q) found nothing", code)
			continue
		}
		if ind.Code != code || ind.Dimension != DimCoercionAtDestination {
			t.Errorf("Lookup(%q) = %+v", code, ind)
		}
	}
	if _, ok := cat.Lookup("no_such_indicator"); ok {
		t.Error("Lookup found a code that does not exist")
	}
}
