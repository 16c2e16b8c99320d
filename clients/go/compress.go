package fieldsync

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compression on the wire (api/openapi.yaml "Compression"): the SDK asks
// for compressed answers (Accept-Encoding: zstd, gzip) and decodes them
// itself, whatever the HTTPClient's transport does (Go's transport decodes
// gzip transparently only when it set Accept-Encoding itself, and never
// zstd); it gzips push bodies of at least pushCompressMin bytes. Only push
// bodies are compressed: login and refresh bodies hold secrets.

// acceptEncoding is the Accept-Encoding of every request.
const acceptEncoding = "zstd, gzip"

// pushCompressMin is the smallest push body sent gzipped.
const pushCompressMin = 1024

// maxDecodedAnswer bounds an answer as decoded, so that a compressed
// answer cannot expand without bound in memory.
const maxDecodedAnswer = 1 << 30

// errAnswerTooLarge stops the decoding of an answer past maxDecodedAnswer.
var errAnswerTooLarge = errors.New("the answer decodes to more than 1 GiB")

// compressRequest returns the body to send for path and its
// Content-Encoding ("" for as is).
func compressRequest(path string, body []byte, disabled bool) ([]byte, string, error) {
	if disabled || path != "/v1/sync/push" || len(body) < pushCompressMin {
		return body, "", nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, "", fmt.Errorf("gzip push body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("gzip push body: %w", err)
	}
	return buf.Bytes(), "gzip", nil
}

// decodeResponse replaces resp.Body by its decoding when the answer came
// with a Content-Encoding the SDK asked for.
func decodeResponse(resp *http.Response) error {
	coding := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if coding == "" || coding == "identity" {
		return nil
	}
	if coding != "gzip" && coding != "zstd" {
		resp.Body.Close()
		return fmt.Errorf("the answer came with Content-Encoding %q, which the SDK did not ask for", coding)
	}
	resp.Body = &decodedBody{coding: coding, raw: resp.Body}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return nil
}

// decodedBody decodes an answer as it is read, opening its decoder on the
// first Read (an empty body never needs one).
type decodedBody struct {
	coding string
	raw    io.ReadCloser
	r      io.Reader
	zstd   *zstd.Decoder
	n      int64
}

func (b *decodedBody) Read(p []byte) (int, error) {
	if b.r == nil {
		if err := b.open(); err != nil {
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxDecodedAnswer {
		return n, errAnswerTooLarge
	}
	return n, err
}

func (b *decodedBody) open() error {
	if b.coding == "gzip" {
		zr, err := gzip.NewReader(b.raw)
		if err != nil {
			return fmt.Errorf("decode gzip answer: %w", err)
		}
		b.r = zr
		return nil
	}
	zr, err := zstd.NewReader(b.raw, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("decode zstd answer: %w", err)
	}
	b.r, b.zstd = zr, zr
	return nil
}

func (b *decodedBody) Close() error {
	if b.zstd != nil {
		b.zstd.Close()
	}
	return b.raw.Close()
}
