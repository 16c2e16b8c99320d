package model_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPureLayersImportNoIO fails when model or any sync/... package
// depends, even indirectly, on fiber, badger or net/http (DESIGN §2): the
// merge engine and the domain stay pure and deterministic.
func TestPureLayersImportNoIO(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/fieldsync/fieldsync/model", "github.com/fieldsync/fieldsync/sync/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/gofiber/", "github.com/dgraph-io/badger", "net/http", "github.com/valyala/fasthttp", "github.com/fieldsync/fieldsync/server", "github.com/fieldsync/fieldsync/api", "github.com/fieldsync/fieldsync/clients"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned only %v", deps)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("a pure layer depends on %s", dep)
			}
		}
	}
}

// TestCaseworkImportNoIO fails when a package of casework rules under
// server/ (the monitoring figures' counting and suppression, the review
// queue, the duplicate rule and links, the export rows, the retention
// rules) depends on fiber,
// badger, net/http or another server package: each stays a pure function
// of the records it is fed, so that its table and property tests cover
// what the server serves.
func TestCaseworkImportNoIO(t *testing.T) {
	for _, pkg := range []string{"figures", "review", "export", "retention"} {
		t.Run(pkg, func(t *testing.T) {
			path := "github.com/fieldsync/fieldsync/server/" + pkg
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", path).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			forbidden := []string{"github.com/gofiber/", "github.com/dgraph-io/badger", "net/http", "github.com/valyala/fasthttp", "github.com/fieldsync/fieldsync/server/", "github.com/fieldsync/fieldsync/clients"}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list returned only %v", deps)
			}
			for _, dep := range deps {
				for _, f := range forbidden {
					if dep != path && strings.HasPrefix(dep, f) {
						t.Errorf("server/%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}

// TestTestProxyOnlyInTests fails when a package's non-test code imports
// server/testproxy, the tests' broken network: it is no internal package
// (the server's tests and clients/go/e2e share it, and they have no common
// directory for one), so this test keeps it out of every program.
func TestTestProxyOnlyInTests(t *testing.T) {
	const proxy = "github.com/fieldsync/fieldsync/server/testproxy"
	out, err := exec.Command("go", "list", "-tags", "browser", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "github.com/fieldsync/fieldsync/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list returned only %d packages", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg != proxy && slices.Contains(strings.Fields(imports), proxy) {
			t.Errorf("%s imports %s outside its tests", pkg, proxy)
		}
	}
}
