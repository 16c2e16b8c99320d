package server

import (
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/fieldsync/fieldsync/model"
)

// bodyLimitOf is the largest body the request with these headers may
// send, decided from its headers alone, before a byte of the body is read
// (fasthttp's HeaderReceived): a push that carries a validly signed access
// token may send up to 4x the body limit (so that a moderately oversize
// push still gets a readable 413 from limitBody); every other request
// (login, refresh, administration, a push without a valid token) at most
// the small body limit. A Content-Length over the limit is refused with
// 413 body_too_large without reading the body; a chunked body is read
// only up to the limit.
func (s *Server) bodyLimitOf(h *fasthttp.RequestHeader) int {
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	if !s.takesBigBody(string(h.Method()), path) {
		return s.cfg.SmallBodyLimit
	}
	token, ok := strings.CutPrefix(string(h.Peek(fasthttp.HeaderAuthorization)), "Bearer ")
	if !ok || token == "" {
		return s.cfg.SmallBodyLimit
	}
	if _, err := s.auth.ParseAccess(token); err != nil && model.ErrorCode(err) != model.CodeTokenExpired {
		return s.cfg.SmallBodyLimit
	}
	return 4 * s.cfg.BodyLimit
}

// takesBigBody reports whether a route takes bodies beyond the small
// limit: only the push and an upload's chunks do (the path exactly as the
// client sent it).
func (s *Server) takesBigBody(method, path string) bool {
	if method == fasthttp.MethodPatch {
		id, ok := strings.CutPrefix(path, "/v1/uploads/")
		return ok && model.ValidID(id)
	}
	return method == fasthttp.MethodPost && path == "/v1/sync/push"
}

// requestConfig is fasthttp's HeaderReceived hook.
func (s *Server) requestConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	return fasthttp.RequestConfig{MaxRequestBodySize: s.bodyLimitOf(h)}
}
