package fieldsync

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// Limits of the wire protocol the SDK stays within (DESIGN §5).
const (
	// MaxPushBatch is the most ops the server accepts in one push.
	MaxPushBatch = 1000
	// MaxPushBytes bounds a push body: the server refuses bodies over
	// 4 MiB, and the SDK leaves room for the envelope.
	MaxPushBytes = 4<<20 - 64<<10
	// MaxPullLimit is the largest pull page the server serves.
	MaxPullLimit = 5000
)

// Defaults of Options.
const (
	DefaultPushBatch      = 500
	DefaultPushBytes      = 1 << 20
	DefaultPullLimit      = 1000
	DefaultRequestTimeout = 60 * time.Second
	DefaultSyncInterval   = 5 * time.Minute
	DefaultMaxAttempts    = 5
)

// Options configure Open. Only ServerURL is needed to sync; a zero Options
// opens a replica that works offline.
type Options struct {
	// ServerURL is the server's base URL, such as https://sync.example.org.
	ServerURL string
	// DeviceName is shown to administrators in the device list.
	DeviceName string
	// HTTPClient sends every request (nil: a client of its own). Its
	// Timeout should be zero: the SDK bounds each request with
	// RequestTimeout and keeps the event stream open indefinitely.
	HTTPClient *http.Client
	// ServerCertSHA256 pins the server's certificate: its SHA-256
	// fingerprint as `fieldsync serve --tls-self-signed` prints it (hex
	// pairs, colons allowed). The SDK then accepts exactly that
	// certificate over https, whoever signed it, and no other. It needs
	// HTTPClient nil (configure a client's TLS yourself otherwise).
	ServerCertSHA256 string
	// Logger receives the SDK's and badger's logs (nil: discarded). Logs
	// never hold record content or tokens.
	Logger *slog.Logger
	// Now is the device's wall clock (nil: time.Now).
	Now func() time.Time
	// Schema is the record schema (nil: model.DefaultSchema()). Writes
	// are validated against it, and refused with record_too_large when
	// they would grow a record past its Limits, as the server would. The
	// SDK fetches nothing from GET /v1/schema: the default carries
	// model.DefaultRecordLimits, the server's defaults; against a server
	// configured otherwise, pass the schema it serves.
	Schema *model.Schema
	// EncryptionKey turns on badger's encryption at rest: 16, 24 or 32
	// bytes (nil: off). A replica written with a key opens only with it.
	// The replica holds victims' data and the session's tokens: keep the
	// key in the platform's keystore, and destroy it on ErrWiped.
	EncryptionKey []byte

	// PushBatch is the most ops per push (0: DefaultPushBatch; at most
	// MaxPushBatch).
	PushBatch int
	// PushBytes bounds a push body in bytes (0: DefaultPushBytes; at most
	// MaxPushBytes).
	PushBytes int
	// PullLimit is the page size the first pull page asks of the server
	// (0: DefaultPullLimit; at most MaxPullLimit); later pages adapt to
	// the link (PageTime).
	PullLimit int
	// PageTime is the time a pull or snapshot page should take on the
	// link (0: DefaultPageTime; negative: no adaptation, every page asks
	// for PullLimit or SnapshotLimit). After each page the SDK sizes the
	// next one from the items per second the last one came at, within
	// 50..MaxPullLimit ops (5..MaxPullLimit/10 records), doubling at most
	// per page: on a slow link pages get smaller, so a dropped
	// connection costs little to fetch again (a sync resumes from the
	// last page applied).
	PageTime time.Duration

	// RequestTimeout bounds one request (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Backoff is the retry policy after network errors, 5xx and 429
	// (zero fields: DefaultBackoff's).
	Backoff Backoff
	// MaxAttempts is how many times Sync tries in a row without progress
	// before returning a transient error (0: DefaultMaxAttempts).
	MaxAttempts int
	// SyncInterval is how often Run syncs while nothing pokes it (0:
	// DefaultSyncInterval).
	SyncInterval time.Duration
	// DisableCompression stops the SDK from asking for compressed answers
	// (zstd, gzip) and from gzipping push bodies; by default both are on,
	// which on a slow link cuts the bytes of a first pull several times.
	DisableCompression bool
	// DisableEvents stops Run from listening to GET /v1/sync/events; it
	// then syncs after local writes and every SyncInterval.
	DisableEvents bool
	// Bootstrap makes a fresh replica (empty cursor, no record held)
	// start from a snapshot (GET /v1/sync/snapshot: record states, a page
	// at a time) instead of every op, then pull from the snapshot's pull
	// cursor as usual. The records end as a full pull leaves them; their
	// op history before the snapshot is not held locally.
	Bootstrap bool
	// UploadChunk is the bytes per request when Sync uploads a file
	// queued by Attach (0: DefaultUploadChunk).
	UploadChunk int
	// FileCache bounds the bytes of downloaded files (Fetch, FetchTo) the
	// replica keeps, oldest evicted first (0: DefaultFileCache); a larger
	// file is deleted once written out.
	FileCache int
	// SnapshotLimit is the page size, in records, the first snapshot
	// page asks of the server (0: DefaultSnapshotLimit; at most
	// MaxPullLimit/10, the server's largest); later pages adapt as pull
	// pages do (PageTime).
	SnapshotLimit int
	// OnBootstrap, when set, is called after each snapshot page a
	// bootstrap applied, on the syncing goroutine (keep it short): the
	// phase (BootstrapRest once the open cases are in: the app may show
	// them while the rest fills in) and the records received so far.
	OnBootstrap func(BootstrapProgress)
}

// withDefaults fills in the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.ServerURL != "" {
		u, err := url.Parse(o.ServerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("check options: ServerURL %q must be an http or https URL", o.ServerURL)
		}
		o.ServerURL = strings.TrimRight(o.ServerURL, "/")
	}
	switch len(o.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return o, fmt.Errorf("check options: EncryptionKey has %d bytes; it must have 16, 24 or 32", len(o.EncryptionKey))
	}
	switch {
	case o.ServerCertSHA256 != "" && o.HTTPClient != nil:
		return o, errors.New("check options: ServerCertSHA256 needs HTTPClient nil; pin the certificate in your client's TLS configuration instead")
	case o.ServerCertSHA256 != "":
		pin, err := parseFingerprint(o.ServerCertSHA256)
		if err != nil {
			return o, err
		}
		o.HTTPClient = pinnedClient(pin)
	case o.HTTPClient == nil:
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Schema == nil {
		o.Schema = model.DefaultSchema()
	}
	o.PushBatch = clampInt(o.PushBatch, DefaultPushBatch, MaxPushBatch)
	o.PushBytes = clampInt(o.PushBytes, DefaultPushBytes, MaxPushBytes)
	o.PullLimit = clampInt(o.PullLimit, DefaultPullLimit, MaxPullLimit)
	o.SnapshotLimit = clampInt(o.SnapshotLimit, DefaultSnapshotLimit, MaxPullLimit/10)
	if o.PageTime == 0 {
		o.PageTime = DefaultPageTime
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	o.Backoff = o.Backoff.withDefaults()
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.FileCache <= 0 {
		o.FileCache = DefaultFileCache
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	return o, nil
}

// clampInt returns def for v <= 0 and at most limit otherwise.
func clampInt(v, def, limit int) int {
	if v <= 0 {
		return def
	}
	return min(v, limit)
}
