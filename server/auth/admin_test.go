package auth

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

func TestEnsureAdmin(t *testing.T) {
	tests := []struct {
		name          string
		existing      bool
		password      string
		wantGenerated bool
		want          model.Code
	}{
		{"generated", false, "", true, ""},
		{"given", false, "a strong admin password", false, ""},
		{"given weak", false, "short", false, model.CodeWeakPassword},
		{"users exist", true, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.existing {
				f.addUser(t, "ana", model.RoleFieldWorker)
			}
			generated, err := f.svc.EnsureAdmin(t.Context(), tt.password)
			wantCode(t, err, tt.want)
			if got := generated != ""; got != tt.wantGenerated {
				t.Fatalf("generated = %q, want one: %v", generated, tt.wantGenerated)
			}
			if tt.wantGenerated && len(generated) != 24 {
				t.Errorf("generated password has %d characters, want 24", len(generated))
			}
			if tt.wantGenerated {
				wantCode(t, CheckPasswordStrength(generated), "")
			}
			u, lookErr := f.store.UserByName(t.Context(), AdminUsername)
			if err != nil || tt.existing {
				if lookErr == nil {
					t.Errorf("admin created: %+v", u)
				}
				return
			}
			if lookErr != nil || u.Role != model.RoleAdmin || !model.ValidID(u.ID) {
				t.Fatalf("admin = %+v, %v", u, lookErr)
			}
			pw := tt.password
			if pw == "" {
				pw = generated
			}
			if _, err := f.svc.Login(t.Context(), LoginRequest{Username: AdminUsername, Password: pw}); err != nil {
				t.Errorf("admin cannot log in: %v", err)
			}
		})
	}
}

func TestEnsureAdminOnce(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.EnsureAdmin(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.EnsureAdmin(t.Context(), "")
	if err != nil || again != "" {
		t.Errorf("second EnsureAdmin = %q, %v; want nothing", again, err)
	}
}
