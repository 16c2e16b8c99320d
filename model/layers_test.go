package model_test

import (
	"os/exec"
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

// TestFiguresImportNoIO fails when server/figures (the monitoring figures'
// counting and suppression) depends on fiber, badger, net/http or another
// server package: it stays a pure function of the records it is fed, so
// that its property tests cover what the server serves.
func TestFiguresImportNoIO(t *testing.T) {
	const figures = "github.com/fieldsync/fieldsync/server/figures"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", figures).CombinedOutput()
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
			if dep != figures && strings.HasPrefix(dep, f) {
				t.Errorf("server/figures depends on %s", dep)
			}
		}
	}
}
