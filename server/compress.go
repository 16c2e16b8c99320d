package server

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"

	"github.com/fieldsync/fieldsync/model"
)

// Content codings, both ways (DESIGN §5, api/openapi.yaml "Compression").
//
// Answers: a route listed in compressedRoutes answers with
// Content-Encoding zstd or gzip when the request's Accept-Encoding allows
// it and the answer is at least Config.CompressMin bytes (smaller answers
// gain nothing worth the CPU). Every other route, and above all login and
// refresh, never compresses: their answers hold secrets (tokens) next to
// bytes an attacker may influence, and the length of a compressed answer
// would leak how alike they are (CRIME/BREACH). The allow-list is the
// invariant: a new route answers uncompressed until it is listed here.
//
// Requests: a body may carry one content coding (gzip, zstd, deflate or
// br); it is decoded once, in limitBody, never past the route's body
// limit, so that a small body cannot expand without bound in memory.

// compressedRoutes are the routes whose answers may be compressed: those
// that serve records, ops, lists and figures. Not login or refresh
// (secrets), not the event stream (flushed event by event), not the
// administrative writes (a password may be in the answer), not the
// health probes, nor the console's and field app's files.
var compressedRoutes = map[string]bool{
	"GET /v1/schema":            true,
	"POST /v1/sync/push":        true,
	"GET /v1/sync/pull":         true,
	"GET /v1/sync/snapshot":     true,
	"GET /v1/records":           true,
	"GET /v1/records/:id":       true,
	"GET /v1/audit":             true,
	"GET /v1/admin/teams":       true,
	"GET /v1/admin/users":       true,
	"GET /v1/admin/devices":     true,
	"GET /v1/review/queue":      true,
	"GET /v1/review/duplicates": true,
	"GET /v1/review/links":      true,
	"GET /v1/stats":             true,
	"GET /v1/export/stats":      true,
	"GET /v1/export/records":    true,
}

// Content codings the server speaks.
const (
	codingGzip = "gzip"
	codingZstd = "zstd"
)

// compressAnswer returns the handler that compresses r's answers, or one
// that passes through when r is not in compressedRoutes or compression is
// off (Config.CompressMin 0).
func (s *Server) compressAnswer(r route) fiber.Handler {
	if !compressedRoutes[r.method+" "+r.path] || s.cfg.CompressMin <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return err // the error answer is small and written later
		}
		c.Vary(fiber.HeaderAcceptEncoding)
		coding := negotiateCoding(c.Get(fiber.HeaderAcceptEncoding))
		if coding == "" {
			return nil
		}
		return compressResponse(c, coding, s.cfg.CompressMin)
	}
}

// negotiateCoding picks the coding of an answer from Accept-Encoding:
// zstd or gzip, whichever the client ranks higher (zstd on a tie), ""
// when it accepts neither.
func negotiateCoding(accept string) string {
	zq, gq := codingQualities(accept)
	switch {
	case zq > 0 && zq >= gq:
		return codingZstd
	case gq > 0:
		return codingGzip
	}
	return ""
}

// codingQualities returns the q-values Accept-Encoding gives zstd and
// gzip (0 when absent; "*" stands for both when not named).
func codingQualities(accept string) (zq, gq float64) {
	zq, gq = -1, -1
	star := 0.0
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				f = 0
			}
			q = f
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case codingZstd:
			zq = q
		case codingGzip, "x-gzip":
			gq = q
		case "*":
			star = q
		}
	}
	if zq < 0 {
		zq = star
	}
	if gq < 0 {
		gq = star
	}
	return zq, gq
}

// compressResponse compresses the answer in c with coding when it is at
// least threshold bytes and compressing makes it smaller. A streamed
// answer (SetBodyStreamWriter) is compressed as it is written, with gzip
// only (fasthttp's stream compressor), unless its announced length is
// under threshold.
func compressResponse(c *fiber.Ctx, coding string, threshold int) error {
	resp := c.Response()
	if len(resp.Header.ContentEncoding()) > 0 {
		return nil
	}
	if resp.IsBodyStream() {
		if n := resp.Header.ContentLength(); n >= 0 && n < threshold {
			return nil
		}
		if _, gq := codingQualities(c.Get(fiber.HeaderAcceptEncoding)); gq > 0 {
			// fasthttp gzips the stream as it is written (it picks gzip
			// from the same header).
			fasthttp.CompressHandlerLevel(func(*fasthttp.RequestCtx) {}, gzip.DefaultCompression)(c.Context())
		}
		return nil
	}
	body := resp.Body()
	if len(body) < threshold {
		return nil
	}
	packed, err := encodeBody(coding, body)
	if err != nil {
		return &model.Error{Code: model.CodeInternal, Message: "The answer could not be compressed.", Err: err}
	}
	if len(packed) >= len(body) {
		return nil
	}
	resp.SetBodyRaw(packed)
	resp.Header.SetContentEncoding(coding)
	return nil
}

var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
		return w
	}}
	// zstdEncoder is shared: EncodeAll is safe for concurrent use.
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))
)

// encodeBody returns body compressed with coding, in a new slice.
func encodeBody(coding string, body []byte) ([]byte, error) {
	if coding == codingZstd {
		return zstdEncoder.EncodeAll(body, make([]byte, 0, len(body)/4)), nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeRequestBody returns the request's body decoded through its
// Content-Encoding (at most one coding: gzip, zstd, deflate or br;
// identity or none leaves it as sent), in memory of its own (the handler
// may keep it). A body over limit bytes, sent or decoded, is refused with
// body_too_large; decoding stops at limit bytes, so a small compressed
// body cannot expand without bound.
func decodeRequestBody(req *fasthttp.Request, limit int) ([]byte, error) {
	coding, err := requestCoding(req)
	if err != nil {
		return nil, err
	}
	raw := req.Body()
	if len(raw) > limit {
		return nil, model.Errorf(model.CodeBodyTooLarge, "The body is %d bytes; at most %d are accepted on this route.", len(raw), limit)
	}
	if coding == "" {
		return bytes.Clone(raw), nil
	}
	w := &cappedWriter{limit: limit}
	switch coding {
	case codingGzip:
		_, err = fasthttp.WriteGunzip(w, raw)
	case codingZstd:
		err = writeUnzstd(w, raw)
	case fiber.StrDeflate:
		_, err = fasthttp.WriteInflate(w, raw)
	case fiber.StrBr:
		_, err = fasthttp.WriteUnbrotli(w, raw)
	}
	switch {
	case errors.Is(err, errBodyLimit):
		return nil, model.Errorf(model.CodeBodyTooLarge, "The decoded body is larger than %d bytes, the most this route accepts.", limit)
	case err != nil:
		return nil, &model.Error{Code: model.CodeInvalidRequest, Message: "The body does not decode as its Content-Encoding says.", Err: err}
	}
	if w.buf == nil {
		w.buf = []byte{}
	}
	return w.buf, nil
}

// requestCoding returns the request's one content coding, "" for none or
// identity. Several codings, or one the server does not know, are
// refused.
func requestCoding(req *fasthttp.Request) (string, error) {
	var codings []string
	for _, h := range req.Header.PeekAll(fiber.HeaderContentEncoding) {
		for _, c := range strings.Split(string(h), ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return "", nil
	case len(codings) > 1:
		return "", model.Errorf(model.CodeInvalidRequest, "The body may carry at most one content coding.")
	}
	switch codings[0] {
	case codingGzip, "x-gzip":
		return codingGzip, nil
	case codingZstd, fiber.StrDeflate, fiber.StrBr:
		return codings[0], nil
	}
	return "", model.Errorf(model.CodeInvalidRequest, "The body's Content-Encoding is not one the server decodes (gzip, zstd, deflate or br).")
}

// maxZstdWindow bounds the window a zstd request body may declare, so
// that a frame header cannot make the decoder reserve much memory.
const maxZstdWindow = 8 << 20

// writeUnzstd decodes a zstd body into w.
func writeUnzstd(w io.Writer, data []byte) error {
	d, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = io.Copy(w, d)
	return err
}

// errBodyLimit stops a decoder at the body limit.
var errBodyLimit = errors.New("decoded body over the limit")

// cappedWriter collects at most limit bytes and fails past them.
type cappedWriter struct {
	buf   []byte
	limit int
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.limit {
		return 0, errBodyLimit
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}
