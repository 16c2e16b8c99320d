package server

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// statusOf is the one place where an error code becomes an HTTP status.
var statusOf = map[model.Code]int{
	model.CodeInvalidJSON:        http.StatusBadRequest,
	model.CodeBodyTooLarge:       http.StatusRequestEntityTooLarge,
	model.CodeHeadersTooLarge:    http.StatusRequestHeaderFieldsTooLarge,
	model.CodeTooManyOps:         http.StatusRequestEntityTooLarge,
	model.CodeTooDeep:            http.StatusBadRequest,
	model.CodeInvalidOp:          http.StatusBadRequest,
	model.CodeInvalidID:          http.StatusBadRequest,
	model.CodeInvalidHLC:         http.StatusBadRequest,
	model.CodeUnknownKind:        http.StatusBadRequest,
	model.CodeUnknownField:       http.StatusBadRequest,
	model.CodeInvalidValue:       http.StatusBadRequest,
	model.CodeUnknownRecord:      http.StatusBadRequest,
	model.CodeRecordTooLarge:     http.StatusRequestEntityTooLarge,
	model.CodeRecordErased:       http.StatusGone,
	model.CodeIDConflict:         http.StatusConflict,
	model.CodeKindMismatch:       http.StatusConflict,
	model.CodeForbidden:          http.StatusForbidden,
	model.CodeNotFound:           http.StatusNotFound,
	model.CodeUnauthorized:       http.StatusUnauthorized,
	model.CodeTokenExpired:       http.StatusUnauthorized,
	model.CodeTokenReused:        http.StatusUnauthorized,
	model.CodeDeviceRevoked:      http.StatusUnauthorized,
	model.CodeGrantExpired:       http.StatusUnauthorized,
	model.CodeAccountDisabled:    http.StatusUnauthorized,
	model.CodeWeakPassword:       http.StatusBadRequest,
	model.CodeResyncRequired:     http.StatusGone,
	model.CodeInvalidCursor:      http.StatusBadRequest,
	model.CodeInvalidCredentials: http.StatusUnauthorized,
	model.CodeRateLimited:        http.StatusTooManyRequests,
	model.CodeInvalidRequest:     http.StatusBadRequest,
	model.CodeConflict:           http.StatusConflict,
	model.CodeUnavailable:        http.StatusServiceUnavailable,
	model.CodeInternal:           http.StatusInternalServerError,
	model.CodeDigestMismatch:     http.StatusUnprocessableEntity,
	model.CodeUploadOffset:       http.StatusConflict,
	model.CodeBlobTooLarge:       http.StatusRequestEntityTooLarge,
	model.CodeMediaType:          http.StatusUnsupportedMediaType,
}

// wipeCodes tell a device to erase its local data.
var wipeCodes = map[model.Code]bool{model.CodeDeviceRevoked: true, model.CodeGrantExpired: true}

// errorResponse turns any error into the status and body of DESIGN §5.
// Errors that are not *model.Error are internal: logged, never shown.
func errorResponse(err error) (int, api.ErrorBody) {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		err = fiberError(fe)
	}
	code := model.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: model.ErrorMessage(err), Wipe: wipeCodes[code]}}
}

// fiberError maps the errors fiber raises itself.
func fiberError(fe *fiber.Error) error {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return model.Errorf(model.CodeBodyTooLarge, "The request body is larger than the server accepts.")
	case fiber.StatusNotFound:
		return model.Errorf(model.CodeNotFound, "There is no such route.")
	case fiber.StatusMethodNotAllowed:
		return model.Errorf(model.CodeNotFound, "There is no such route for this method.")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return model.Errorf(model.CodeHeadersTooLarge, "The request headers are larger than the server accepts.")
	case fiber.StatusRequestTimeout:
		return model.Errorf(model.CodeInvalidRequest, "The request took too long to arrive.")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return model.Errorf(model.CodeInvalidRequest, "The request is malformed.")
	}
	return fe
}

// handleError is fiber's ErrorHandler: the single exit for every error.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, body := errorResponse(err)
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Method(), "path", c.Path(), "err", err)
	} else {
		s.log.Debug("request refused", "request_id", requestID(c), "code", body.Error.Code, "err", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(body)
}
