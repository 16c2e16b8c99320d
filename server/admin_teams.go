package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
)

// teamStore is what the team endpoints need from storage.
type teamStore interface {
	CreateTeam(ctx context.Context, t model.Team) error
	ListTeams(ctx context.Context) ([]model.Team, error)
}

// createTeam handles POST /v1/admin/teams.
func (s *Server) createTeam(c *fiber.Ctx) error {
	var req api.CreateTeamRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	req.Name, req.Region = strings.TrimSpace(req.Name), strings.TrimSpace(req.Region)
	if req.Name == "" {
		return model.Errorf(model.CodeInvalidRequest, "A team needs a name (at most %d characters) and optionally a region.", model.MaxTeamNameLength)
	}
	if err := model.CheckName("name", req.Name, model.MaxTeamNameLength); err != nil {
		return err
	}
	if err := model.CheckName("region", req.Region, model.MaxTeamNameLength); err != nil {
		return err
	}
	t := model.Team{ID: newID(), Name: req.Name, Region: req.Region, CreatedAt: s.now().UTC()}
	if err := s.db.CreateTeam(c.UserContext(), t); err != nil {
		return err
	}
	s.record(c.UserContext(), event(c, audit.ActionTeamCreated, t.ID, ""))
	return c.Status(http.StatusCreated).JSON(t)
}

// listTeams handles GET /v1/admin/teams.
func (s *Server) listTeams(c *fiber.Ctx) error {
	teams, err := s.db.ListTeams(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"teams": nonNil(teams)})
}

// newID returns a new time-ordered UUID in canonical lowercase form.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
