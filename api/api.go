// Package api is fieldsync's wire contract in Go: the request and response
// bodies of DESIGN §5, shared by the server and the Go client. openapi.yaml
// beside it describes every route, body and error.
//
// Invariants: field names and shapes here are contract; add optional
// fields, never rename or repurpose one.
package api

import (
	"encoding/json"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// ErrorBody is every error response: {"error":{"code","message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and sentence of an error.
type ErrorDetail struct {
	Code    model.Code `json:"code"`
	Message string     `json:"message"`
	// Wipe tells a device to erase its local data (device revoked, grant
	// ended).
	Wipe bool `json:"wipe,omitempty"`
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	DeviceID   string `json:"device_id,omitempty"`
	DeviceName string `json:"device_name,omitempty"`
}

// RefreshRequest is the body of POST /v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// TokenResponse answers login and refresh.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	DeviceID     string `json:"device_id"`
	User         User   `json:"user"`
}

// User is a user as served (never the password hash).
type User struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Role       model.Role `json:"role"`
	Teams      []string   `json:"teams"`
	ActionWeek string     `json:"action_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// UserOf returns the served form of u.
func UserOf(u model.User) User {
	teams := u.Teams
	if teams == nil {
		teams = []string{}
	}
	return User{ID: u.ID, Username: u.Username, Role: u.Role, Teams: teams, ActionWeek: u.ActionWeek, ValidUntil: u.ValidUntil, CreatedAt: u.CreatedAt}
}

// CreateUserRequest is the body of POST /v1/admin/users.
type CreateUserRequest struct {
	Username   string     `json:"username"`
	Password   string     `json:"password"`
	Role       model.Role `json:"role"`
	Teams      []string   `json:"teams"`
	ActionWeek string     `json:"action_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// CreateTeamRequest is the body of POST /v1/admin/teams.
type CreateTeamRequest struct {
	Name   string `json:"name"`
	Region string `json:"region"`
}

// Device is a device as served, with its state.
type Device struct {
	model.Device
	Username string `json:"username"`
	State    string `json:"state"`
}

// PushRequest is the body of POST /v1/sync/push. Ops stay raw so that one
// malformed op is that op's rejection, not the request's.
type PushRequest struct {
	Ops []json.RawMessage `json:"ops"`
}

// PushResponse answers a push: one result per op, in order.
type PushResponse struct {
	Results   []protocol.Result `json:"results"`
	ServerHLC string            `json:"server_hlc"`
}

// PullResponse is one page of GET /v1/sync/pull.
type PullResponse struct {
	Ops       []json.RawMessage `json:"ops"`
	Cursor    string            `json:"cursor"`
	More      bool              `json:"more"`
	Drop      []string          `json:"drop"`
	ServerHLC string            `json:"server_hlc"`
}

// RecordList is a page of GET /v1/records.
type RecordList struct {
	Records []RecordSummary `json:"records"`
	Next    string          `json:"next,omitempty"`
}

// RecordSummary is one record of a list.
type RecordSummary struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Team         string    `json:"team,omitempty"`
	ActionWeek   string    `json:"action_week,omitempty"`
	Status       string    `json:"status,omitempty"`
	Region       string    `json:"region,omitempty"`
	ReviewStatus string    `json:"review_status,omitempty"`
	Conflicts    []string  `json:"conflicts"`
	Deleted      bool      `json:"deleted"`
	HLC          string    `json:"hlc"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
}
