package server

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// documentedRoutes reads "METHOD /path" pairs from api/openapi.yaml
// (paths at two spaces of indent, methods at four).
func documentedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathLine := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	methodLine := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):\s*$`)
	out := map[string]bool{}
	inPaths, current := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inPaths = false
		case inPaths && pathLine.MatchString(line):
			current = pathLine.FindStringSubmatch(line)[1]
		case inPaths && current != "" && methodLine.MatchString(line):
			out[strings.ToUpper(methodLine.FindStringSubmatch(line)[1])+" "+current] = true
		}
	}
	return out
}

var fiberParam = regexp.MustCompile(`:([a-z_]+)`)

// TestEveryRouteHasPolicyAndDoc fails when a route is added without a
// policy (deny by default) or without its description in openapi.yaml.
func TestEveryRouteHasPolicyAndDoc(t *testing.T) {
	s := &Server{metrics: newMetrics()}
	docs := documentedRoutes(t)
	if len(docs) == 0 {
		t.Fatal("found no routes in api/openapi.yaml")
	}
	seen := map[string]bool{}
	for _, r := range s.routes() {
		key := r.method + " " + fiberParam.ReplaceAllString(r.path, "{$1}")
		seen[key] = true
		if !r.public && len(r.roles) == 0 {
			t.Errorf("%s has no access policy: mark it public or list its roles", key)
		}
		if r.public && len(r.roles) > 0 {
			t.Errorf("%s is public and lists roles; choose one", key)
		}
		if !docs[key] {
			t.Errorf("%s is registered but not described in api/openapi.yaml", key)
		}
	}
	for key := range docs {
		if !seen[key] {
			t.Errorf("api/openapi.yaml describes %s, which the server does not register", key)
		}
	}
}
