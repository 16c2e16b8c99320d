package fieldsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// send sends one request and returns the response of a 2xx, or an error:
// *APIError for an error response, *transportError when the exchange
// broke. With authed, a 401 token_expired, unauthorized or
// account_disabled refreshes the session once and retries once (a disabled
// account's refresh is refused too, which ends the session and keeps the
// local data: ErrLoginRequired).
func (c *Client) send(ctx context.Context, method, path string, body []byte, authed bool) (*http.Response, error) {
	return c.sendWith(ctx, method, path, body, authed, nil)
}

// sendWith is send with header added to the request (after the
// defaults, so it may override them).
func (c *Client) sendWith(ctx context.Context, method, path string, body []byte, authed bool, header http.Header) (*http.Response, error) {
	if c.opt.ServerURL == "" {
		return nil, ErrNoServer
	}
	body, coding, err := compressRequest(path, body, c.opt.DisableCompression)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		token := ""
		if authed {
			token = c.accessToken()
			if token == "" {
				return nil, c.noSessionError()
			}
		}
		resp, err := c.roundTrip(ctx, method, path, body, coding, token, header)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		apiErr, err := readAPIError(resp)
		if err != nil {
			return nil, &transportError{fmt.Errorf("%s %s: read error response: %w", method, path, err)}
		}
		if authed && attempt == 0 && apiErr.Status == http.StatusUnauthorized && !apiErr.Wipe &&
			(apiErr.Code == model.CodeTokenExpired || apiErr.Code == model.CodeUnauthorized || apiErr.Code == model.CodeAccountDisabled) {
			if err := c.refresh(ctx, token); err != nil {
				return nil, err
			}
			continue
		}
		return nil, apiErr
	}
}

// roundTrip sends one request, body in the content coding given ("" for
// none), and returns the answer decoded (decodeResponse).
func (c *Client) roundTrip(ctx context.Context, method, path string, body []byte, coding, token string, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.opt.ServerURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if coding != "" {
		req.Header.Set("Content-Encoding", coding)
	}
	req.Header.Set("Accept", "application/json")
	if !c.opt.DisableCompression {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.opt.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, &transportError{fmt.Errorf("%s %s: %w", method, path, err)}
	}
	if err := decodeResponse(resp); err != nil {
		return nil, &transportError{fmt.Errorf("%s %s: %w", method, path, err)}
	}
	return resp, nil
}

// readAPIError reads and closes an error response. A body that is not the
// error shape still yields an *APIError with the status.
func readAPIError(resp *http.Response) (*APIError, error) {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, err
	}
	e := &APIError{Status: resp.StatusCode}
	var body api.ErrorBody
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Wipe = body.Error.Code, body.Error.Message, body.Error.Wipe
	} else {
		e.Code, e.Message = model.CodeInternal, http.StatusText(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			e.Code = model.CodeRateLimited
		}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e, nil
}

// call sends in (JSON, or []byte as is) and decodes a 2xx response into
// out (a *[]byte receives the body as is), within Options.RequestTimeout. A response cut short or garbled is a
// *transportError: the request may or may not have been applied.
func (c *Client) call(ctx context.Context, method, path string, in, out any, authed bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	var body []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		body = v
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode request %s %s: %w", method, path, err)
		}
	}
	resp, err := c.send(ctx, method, path, body, authed)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &transportError{fmt.Errorf("%s %s: read response: %w", method, path, err)}
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &transportError{fmt.Errorf("%s %s: decode response: %w", method, path, err)}
	}
	return nil
}

// noSessionError explains why there is no access token.
func (c *Client) noSessionError() error {
	if _, ok := c.user(); ok {
		return ErrLoginRequired
	}
	return ErrNotLoggedIn
}
