package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/retention"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Config is everything `fieldsync serve` can be told, from flags and
// FIELDSYNC_* environment variables (a flag wins over the environment).
type Config struct {
	Addr string
	// MetricsAddr is where GET /metrics is served, never on Addr; ""
	// disables it.
	MetricsAddr       string
	DataDir           string
	Demo              bool
	AdminPassword     string
	EncryptionKeyFile string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	RefreshGrace      time.Duration
	Issuer            string
	Audience          string
	Limits            protocol.Limits
	BodyLimit         int
	// SmallBodyLimit bounds the body of every route but the push
	// (checked from the headers before the body is read).
	SmallBodyLimit  int
	MaxDepth        int
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// UserRate and UserBurst bound each user's authenticated requests.
	UserRate  float64
	UserBurst int
	// LoginFailures failed logins of one username from one client are
	// free; each further one delays that pair's next attempt, doubling
	// from one second up to LoginLockout. LoginIPFailures failures per
	// client address are allowed per LoginIPWindow (whatever the
	// usernames). See loginThrottle.
	LoginFailures   int
	LoginLockout    time.Duration
	LoginIPFailures int
	LoginIPWindow   time.Duration
	// TrustedProxies are the networks of the reverse proxies whose
	// X-Forwarded-For header names the client (see clientAddr); empty,
	// the header is ignored.
	TrustedProxies []netip.Prefix
	// StatsThreshold is the smallest count GET /v1/stats shows.
	StatsThreshold int
	// RecordLimits bound one record's size; they become the schema's
	// limits, served at GET /v1/schema.
	RecordLimits model.RecordLimits
	// VisitorGrace is how far past the end of its action week's ends_on
	// day a visitor's valid_until may lie.
	VisitorGrace time.Duration
	// StreamsPerUser caps each user's open event streams (a device has
	// at most one: its new stream replaces its old one).
	StreamsPerUser int
	// StreamCheck is how often an event stream authenticates its token
	// again and sends a keep-alive.
	StreamCheck time.Duration

	// fromEnv names, for each flag whose value came from its
	// FIELDSYNC_* variable, that variable (see nameSources).
	fromEnv map[string]string
	// CompressMin is the smallest answer compressed (on the routes that
	// compress, for clients that accept it); 0 turns compression off.
	CompressMin int
	// TLSCert and TLSKey are PEM files: with them the API listener serves
	// HTTPS only.
	TLSCert string
	TLSKey  string
	// TLSSelfSigned serves HTTPS with a self-signed certificate kept in
	// the data directory (created on first start), for a demo or a LAN
	// without a certificate authority.
	TLSSelfSigned bool
	// MaxBlobBytes is the largest file (blob) an upload may declare.
	MaxBlobBytes int64
	// UploadTTL is how long an incomplete upload lives; then it and its
	// chunks are deleted.
	UploadTTL time.Duration
	// BlobOrphanTTL is how long a completed blob may live without a live
	// attachment entry naming it; then it is deleted.
	BlobOrphanTTL time.Duration
	// BlobSweep is how often expired uploads and orphan blobs are swept.
	BlobSweep time.Duration
	// Retention are the retention rules (server/retention; none: off,
	// the default); RetentionInterval is how often serve erases what
	// they expire.
	Retention         retention.Rules
	RetentionInterval time.Duration
}

// DefaultCompressMin is the default of --compress-min: smaller answers
// gain too little from compression to be worth the CPU.
const DefaultCompressMin = 1024

// maxVisitorGrace bounds --visitor-grace: a grant outliving its week by
// more than a month is no longer a delegation for that week.
const maxVisitorGrace = 31 * 24 * time.Hour

// DefaultConfig returns the defaults of DESIGN §5.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		MetricsAddr:     "127.0.0.1:9090",
		DataDir:         "./data",
		AccessTTL:       15 * time.Minute,
		RefreshTTL:      30 * 24 * time.Hour,
		RefreshGrace:    30 * time.Second,
		Issuer:          "fieldsync",
		Audience:        "fieldsync",
		Limits:          protocol.DefaultLimits,
		RecordLimits:    model.DefaultRecordLimits,
		BodyLimit:       4 << 20,
		SmallBodyLimit:  64 << 10,
		MaxDepth:        32,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 20 * time.Second,
		UserRate:        50,
		UserBurst:       100,
		LoginFailures:   5,
		LoginLockout:    15 * time.Minute,
		LoginIPFailures: 100,
		LoginIPWindow:   10 * time.Minute,
		StatsThreshold:  DefaultStatsThreshold,
		VisitorGrace:    7 * 24 * time.Hour,
		StreamsPerUser:  8,
		StreamCheck:     15 * time.Second,
		CompressMin:     DefaultCompressMin,
		MaxBlobBytes:    25 << 20,
		UploadTTL:       24 * time.Hour,
		BlobOrphanTTL:   24 * time.Hour,
		BlobSweep:       10 * time.Minute,

		RetentionInterval: time.Hour,
	}
}

// ParseFlags reads args (without the program and subcommand names) over the
// environment over the defaults, and validates the result.
func (c *Config) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := envReader{getenv: getenv}
	fs.StringVar(&c.Addr, "addr", env.str("FIELDSYNC_ADDR", c.Addr), "listen address (FIELDSYNC_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env.str("FIELDSYNC_METRICS_ADDR", c.MetricsAddr), "listen address of GET /metrics, apart from the API; empty or off disables it (FIELDSYNC_METRICS_ADDR)")
	fs.StringVar(&c.DataDir, "data", env.str("FIELDSYNC_DATA", c.DataDir), "data directory (FIELDSYNC_DATA)")
	fs.BoolVar(&c.Demo, "demo", env.boolean("FIELDSYNC_DEMO", c.Demo), "seed demo teams, users and records into an empty store (FIELDSYNC_DEMO)")
	fs.StringVar(&c.EncryptionKeyFile, "encryption-key-file", env.str("FIELDSYNC_ENCRYPTION_KEY_FILE", c.EncryptionKeyFile), "file holding the AES key for encryption at rest (FIELDSYNC_ENCRYPTION_KEY_FILE)")
	fs.DurationVar(&c.AccessTTL, "access-ttl", env.duration("FIELDSYNC_ACCESS_TTL", c.AccessTTL), "access token lifetime (FIELDSYNC_ACCESS_TTL)")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", env.duration("FIELDSYNC_REFRESH_TTL", c.RefreshTTL), "refresh token lifetime (FIELDSYNC_REFRESH_TTL)")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", env.duration("FIELDSYNC_REFRESH_GRACE", c.RefreshGrace), "grace period for a re-sent refresh token, 0s disables (FIELDSYNC_REFRESH_GRACE)")
	fs.DurationVar(&c.Limits.MaxSkew, "max-skew", env.duration("FIELDSYNC_MAX_SKEW", c.Limits.MaxSkew), "ops stamped further ahead are re-stamped (FIELDSYNC_MAX_SKEW)")
	fs.IntVar(&c.Limits.MaxOps, "max-ops", env.integer("FIELDSYNC_MAX_OPS", c.Limits.MaxOps), "most ops per push (FIELDSYNC_MAX_OPS)")
	fs.DurationVar(&c.Limits.OpenCases, "open-cases", env.duration("FIELDSYNC_OPEN_CASES", c.Limits.OpenCases), "a snapshot serves first the open cases updated within this, 0s turns it off (FIELDSYNC_OPEN_CASES)")
	fs.IntVar(&c.Limits.MaxPull, "max-pull", env.integer("FIELDSYNC_MAX_PULL", c.Limits.MaxPull), "largest pull page (FIELDSYNC_MAX_PULL)")
	fs.IntVar(&c.RecordLimits.MaxLogEntries, "max-log-entries", env.integer("FIELDSYNC_MAX_LOG_ENTRIES", c.RecordLimits.MaxLogEntries), "most entries one log field of a record holds (FIELDSYNC_MAX_LOG_ENTRIES)")
	fs.IntVar(&c.RecordLimits.MaxEntryBytes, "max-entry-bytes", env.integer("FIELDSYNC_MAX_ENTRY_BYTES", c.RecordLimits.MaxEntryBytes), "largest log entry in bytes (FIELDSYNC_MAX_ENTRY_BYTES)")
	fs.IntVar(&c.RecordLimits.MaxRecordBytes, "max-record-bytes", env.integer("FIELDSYNC_MAX_RECORD_BYTES", c.RecordLimits.MaxRecordBytes), "most bytes one record's state holds (FIELDSYNC_MAX_RECORD_BYTES)")
	fs.IntVar(&c.BodyLimit, "body-limit", env.integer("FIELDSYNC_BODY_LIMIT", c.BodyLimit), "largest request body in bytes (FIELDSYNC_BODY_LIMIT)")
	fs.IntVar(&c.SmallBodyLimit, "small-body-limit", env.integer("FIELDSYNC_SMALL_BODY_LIMIT", c.SmallBodyLimit), "largest request body in bytes of every route but the push (FIELDSYNC_SMALL_BODY_LIMIT)")
	fs.IntVar(&c.MaxDepth, "max-depth", env.integer("FIELDSYNC_MAX_DEPTH", c.MaxDepth), "deepest JSON nesting accepted (FIELDSYNC_MAX_DEPTH)")
	fs.Float64Var(&c.UserRate, "user-rate", env.float("FIELDSYNC_USER_RATE", c.UserRate), "requests per second per user (FIELDSYNC_USER_RATE)")
	fs.IntVar(&c.UserBurst, "user-burst", env.integer("FIELDSYNC_USER_BURST", c.UserBurst), "request burst per user (FIELDSYNC_USER_BURST)")
	fs.IntVar(&c.LoginFailures, "login-failures", env.integer("FIELDSYNC_LOGIN_FAILURES", c.LoginFailures), "failed logins of one username from one client before delays begin (FIELDSYNC_LOGIN_FAILURES)")
	fs.DurationVar(&c.LoginLockout, "login-lockout", env.duration("FIELDSYNC_LOGIN_LOCKOUT", c.LoginLockout), "longest delay between failed logins of one username from one client (FIELDSYNC_LOGIN_LOCKOUT)")
	fs.IntVar(&c.LoginIPFailures, "login-ip-failures", env.integer("FIELDSYNC_LOGIN_IP_FAILURES", c.LoginIPFailures), "failed logins per client address per --login-ip-window, any usernames (FIELDSYNC_LOGIN_IP_FAILURES)")
	fs.DurationVar(&c.LoginIPWindow, "login-ip-window", env.duration("FIELDSYNC_LOGIN_IP_WINDOW", c.LoginIPWindow), "window of --login-ip-failures (FIELDSYNC_LOGIN_IP_WINDOW)")
	c.TrustedProxies = readEnv(&env, "FIELDSYNC_TRUSTED_PROXIES", c.TrustedProxies, parsePrefixes, "a comma-separated list of CIDRs such as 10.0.0.0/8")
	fs.Var((*prefixList)(&c.TrustedProxies), "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (FIELDSYNC_TRUSTED_PROXIES)")
	fs.IntVar(&c.StatsThreshold, "stats-threshold", env.integer("FIELDSYNC_STATS_THRESHOLD", c.StatsThreshold), "smallest count the monitoring figures show (FIELDSYNC_STATS_THRESHOLD)")
	fs.DurationVar(&c.VisitorGrace, "visitor-grace", env.duration("FIELDSYNC_VISITOR_GRACE", c.VisitorGrace), "how far past its week's ends_on a visitor's grant may last (FIELDSYNC_VISITOR_GRACE)")
	fs.IntVar(&c.StreamsPerUser, "streams-per-user", env.integer("FIELDSYNC_STREAMS_PER_USER", c.StreamsPerUser), "most open event streams per user (FIELDSYNC_STREAMS_PER_USER)")
	fs.DurationVar(&c.StreamCheck, "stream-check", env.duration("FIELDSYNC_STREAM_CHECK", c.StreamCheck), "how often an event stream re-checks its token and sends a keep-alive (FIELDSYNC_STREAM_CHECK)")
	fs.IntVar(&c.CompressMin, "compress-min", env.integer("FIELDSYNC_COMPRESS_MIN", c.CompressMin), "smallest answer in bytes sent compressed to clients that accept gzip or zstd; 0 disables compression (FIELDSYNC_COMPRESS_MIN)")
	fs.StringVar(&c.TLSCert, "tls-cert", env.str("FIELDSYNC_TLS_CERT", c.TLSCert), "PEM certificate (chain) file: serve HTTPS with it, with --tls-key (FIELDSYNC_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env.str("FIELDSYNC_TLS_KEY", c.TLSKey), "PEM private key file of --tls-cert (FIELDSYNC_TLS_KEY)")
	fs.BoolVar(&c.TLSSelfSigned, "tls-self-signed", env.boolean("FIELDSYNC_TLS_SELF_SIGNED", c.TLSSelfSigned), "serve HTTPS with a self-signed certificate kept in the data directory; its fingerprint is printed at start (FIELDSYNC_TLS_SELF_SIGNED)")
	fs.Int64Var(&c.MaxBlobBytes, "max-blob-bytes", int64(env.integer("FIELDSYNC_MAX_BLOB_BYTES", int(c.MaxBlobBytes))), "largest attachment file in bytes (FIELDSYNC_MAX_BLOB_BYTES)")
	fs.DurationVar(&c.UploadTTL, "upload-ttl", env.duration("FIELDSYNC_UPLOAD_TTL", c.UploadTTL), "an incomplete upload and its chunks are deleted after this (FIELDSYNC_UPLOAD_TTL)")
	fs.DurationVar(&c.BlobOrphanTTL, "blob-orphan-ttl", env.duration("FIELDSYNC_BLOB_ORPHAN_TTL", c.BlobOrphanTTL), "a completed file no record entry names is deleted after this (FIELDSYNC_BLOB_ORPHAN_TTL)")
	fs.DurationVar(&c.BlobSweep, "blob-sweep", env.duration("FIELDSYNC_BLOB_SWEEP", c.BlobSweep), "how often expired uploads and orphan files are deleted (FIELDSYNC_BLOB_SWEEP)")
	if v := getenv("FIELDSYNC_RETENTION"); v != "" {
		rs, err := retention.Parse(v)
		if err != nil {
			env.bad = append(env.bad, fmt.Errorf("FIELDSYNC_RETENTION=%q: %w", v, err))
		}
		c.Retention = rs
	}
	fs.Func("retention", "retention rules, off when empty: "+retention.Syntax+" (FIELDSYNC_RETENTION)", func(v string) error {
		rs, err := retention.Parse(v)
		c.Retention = rs
		return err
	})
	fs.DurationVar(&c.RetentionInterval, "retention-interval", env.duration("FIELDSYNC_RETENTION_INTERVAL", c.RetentionInterval), "how often expired records are erased, with --retention (FIELDSYNC_RETENTION_INTERVAL)")
	fs.StringVar(&c.LogLevel, "log-level", env.str("FIELDSYNC_LOG_LEVEL", c.LogLevel), "debug, info, warn or error (FIELDSYNC_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env.str("FIELDSYNC_LOG_FORMAT", c.LogFormat), "text or json (FIELDSYNC_LOG_FORMAT)")
	c.AdminPassword = getenv("FIELDSYNC_ADMIN_PASSWORD")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return &HelpRequested{Text: serveUsage(fs)}
	} else if err != nil {
		return fmt.Errorf("%w (fieldsync serve -h lists the flags)", err)
	}
	if err := env.err(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (fieldsync serve -h lists the flags)", fs.Arg(0))
	}
	c.fromEnv = flagsFromEnv(fs, getenv)
	return c.nameSources(c.Validate())
}

// HelpRequested is ParseFlags' answer to -h or --help: Text is the usage
// to print (on standard output, exiting 0).
type HelpRequested struct{ Text string }

func (h *HelpRequested) Error() string { return "help requested" }

// Unwrap makes errors.Is(err, flag.ErrHelp) hold.
func (h *HelpRequested) Unwrap() error { return flag.ErrHelp }

// serveUsage is the text of serve -h: every flag with its variable, and
// the variables that have no flag.
func serveUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("usage: fieldsync serve [flags]\n\nRuns the sync server. Each flag may instead be set by the FIELDSYNC_* variable named\nafter it; a flag wins over its variable.\n\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	b.WriteString(`
variables without a flag:
  FIELDSYNC_ADMIN_PASSWORD
    	the password of the user admin, created when the store has no user
    	(unset: a password is generated and printed once)
`)
	return b.String()
}

// envOfUsage finds the variable a flag's usage names last, as in
// "listen address (FIELDSYNC_ADDR)".
var envOfUsage = regexp.MustCompile(`\((FIELDSYNC_[A-Z0-9_]+)\)$`)

// flagsFromEnv returns, for each flag not given on the command line whose
// variable is set, that variable.
func flagsFromEnv(fs *flag.FlagSet, getenv func(string) string) map[string]string {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		m := envOfUsage.FindStringSubmatch(f.Usage)
		if m != nil && !given[f.Name] && getenv(m[1]) != "" {
			out[f.Name] = m[1]
		}
	})
	return out
}

// nameSources rewrites each validation error that begins with a flag
// ("--user-rate -3 must be ...") to name the variable the value came from
// ("FIELDSYNC_USER_RATE=-3 must be ..."), so the message names the one
// thing to change.
func (c *Config) nameSources(err error) error {
	if err == nil || len(c.fromEnv) == 0 {
		return err
	}
	var errs []error
	for _, e := range unjoin(err) {
		msg := e.Error()
		name, rest, _ := strings.Cut(strings.TrimPrefix(msg, "--"), " ")
		if env, ok := c.fromEnv[name]; ok && strings.HasPrefix(msg, "--") {
			if strings.HasPrefix(rest, "must ") {
				e = fmt.Errorf("%s %s", env, rest)
			} else {
				e = fmt.Errorf("%s=%s", env, rest)
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// unjoin returns the errors joined in err (or err alone).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Validate checks the configuration and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q is not host:port", c.Addr))
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("--metrics-addr %q is not host:port (or empty, to disable it)", c.MetricsAddr))
	}
	if _, port, _ := net.SplitHostPort(c.Addr); c.MetricsAddr != "" && c.MetricsAddr == c.Addr && port != "0" {
		errs = append(errs, errors.New("--metrics-addr must differ from --addr: metrics are never served on the API listener"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must name a directory"))
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--access-ttl %s must be between 1m and 24h", c.AccessTTL))
	}
	// A check against another flag runs only when that flag's own value is
	// valid: a bad value is reported once, under its own name.
	accessOK := c.AccessTTL >= time.Minute && c.AccessTTL <= 24*time.Hour
	if accessOK && c.RefreshTTL < c.AccessTTL {
		errs = append(errs, fmt.Errorf("--refresh-ttl %s must be at least --access-ttl", c.RefreshTTL))
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--refresh-grace %s must be between 0s and 10m", c.RefreshGrace))
	}
	errs = append(errs, atLeast("max-ops", c.Limits.MaxOps, 1), atLeast("max-pull", c.Limits.MaxPull, 1),
		atLeast("body-limit", c.BodyLimit, 1024), atLeast("max-depth", c.MaxDepth, 2))
	errs = append(errs, c.validateRecordLimits()...)
	errs = append(errs, c.validateUploads()...)
	if c.SmallBodyLimit < 1024 || (c.bodyLimitOK() && c.SmallBodyLimit > c.BodyLimit) {
		errs = append(errs, fmt.Errorf("--small-body-limit %d must be between 1024 and --body-limit", c.SmallBodyLimit))
	}
	if c.Limits.OpenCases < 0 {
		errs = append(errs, fmt.Errorf("--open-cases %s must be 0s (off) or positive", c.Limits.OpenCases))
	}
	if c.Limits.DefaultPull > c.Limits.MaxPull {
		c.Limits.DefaultPull = c.Limits.MaxPull
	}
	if c.UserRate <= 0 {
		errs = append(errs, fmt.Errorf("--user-rate %g must be positive", c.UserRate))
	}
	errs = append(errs, atLeast("user-burst", c.UserBurst, 1), atLeast("login-failures", c.LoginFailures, 1), atLeast("login-ip-failures", c.LoginIPFailures, 1))
	if c.LoginLockout < time.Second {
		errs = append(errs, fmt.Errorf("--login-lockout %s must be at least 1s", c.LoginLockout))
	}
	if c.LoginIPWindow <= 0 {
		errs = append(errs, fmt.Errorf("--login-ip-window %s must be positive", c.LoginIPWindow))
	}
	errs = append(errs, checkTrustedProxies(c.TrustedProxies)...)
	if c.StatsThreshold < 2 || c.StatsThreshold > maxStatsThreshold {
		errs = append(errs, fmt.Errorf("--stats-threshold %d must be between 2 and %d", c.StatsThreshold, maxStatsThreshold))
	}
	if c.VisitorGrace < 0 || c.VisitorGrace > maxVisitorGrace {
		errs = append(errs, fmt.Errorf("--visitor-grace %s must be between 0s and %s", c.VisitorGrace, maxVisitorGrace))
	}
	if c.StreamsPerUser < 1 {
		errs = append(errs, fmt.Errorf("--streams-per-user %d must be at least 1", c.StreamsPerUser))
	}
	if c.StreamCheck < 10*time.Millisecond || c.StreamCheck > time.Minute {
		errs = append(errs, fmt.Errorf("--stream-check %s must be between 10ms and 1m (clients count a stream silent for 75s as dead)", c.StreamCheck))
	}
	if c.CompressMin < 0 {
		errs = append(errs, fmt.Errorf("--compress-min %d must be 0 (off) or a size in bytes", c.CompressMin))
	}
	errs = append(errs, c.validateTLS()...)
	if c.RetentionInterval < time.Second || c.RetentionInterval > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--retention-interval %s must be between 1s and 168h", c.RetentionInterval))
	}
	if c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error" {
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q must be text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// atLeast checks an integer flag's lower bound (nil when it holds).
func atLeast(flag string, v, least int) error {
	if v >= least {
		return nil
	}
	return fmt.Errorf("--%s %d must be at least %d", flag, v, least)
}

// validateTLS checks that the TLS flags name one way to serve HTTPS;
// the files themselves are read and checked at start (loadTLS).
func (c *Config) validateTLS() []error {
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return []error{fmt.Errorf("--tls-cert %q needs --tls-key too: give both or neither", c.TLSCert)}
	case c.TLSKey != "" && c.TLSCert == "":
		return []error{fmt.Errorf("--tls-key %q needs --tls-cert too: give both or neither", c.TLSKey)}
	case c.TLSCert != "" && c.TLSSelfSigned:
		return []error{errors.New("--tls-self-signed and --tls-cert exclude each other: give a certificate or ask for a self-signed one")}
	}
	return nil
}

// TLS reports whether the API listener serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" || c.TLSSelfSigned }

// maxRecordBytes is the largest --max-record-bytes accepted: a store
// rewrites a record's state on every op to it.
const maxRecordBytes = 256 << 20

// bodyLimitOK reports whether --body-limit is valid on its own (the limits
// bounded by it are checked against it only then).
func (c *Config) bodyLimitOK() bool { return c.BodyLimit >= 1024 }

// validateRecordLimits checks the per-record limits: an entry must fit in
// a request body and in a record.
func (c *Config) validateRecordLimits() []error {
	var errs []error
	l := c.RecordLimits
	if l.MaxLogEntries < 1 || l.MaxLogEntries > 1_000_000 {
		errs = append(errs, fmt.Errorf("--max-log-entries %d must be between 1 and 1000000", l.MaxLogEntries))
	}
	entryOK := l.MaxEntryBytes >= 1024 && (!c.bodyLimitOK() || l.MaxEntryBytes <= c.BodyLimit)
	if !entryOK {
		errs = append(errs, fmt.Errorf("--max-entry-bytes %d must be between 1024 and --body-limit (%d)", l.MaxEntryBytes, c.BodyLimit))
	}
	if (entryOK && l.MaxRecordBytes < l.MaxEntryBytes) || l.MaxRecordBytes < 1024 || l.MaxRecordBytes > maxRecordBytes {
		errs = append(errs, fmt.Errorf("--max-record-bytes %d must be between --max-entry-bytes (%d) and %d", l.MaxRecordBytes, l.MaxEntryBytes, maxRecordBytes))
	}
	return errs
}

// envReader reads typed FIELDSYNC_* variables, remembering the first
// malformed one.
type envReader struct {
	getenv func(string) string
	bad    []error
}

func (e *envReader) str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func (e *envReader) duration(name string, def time.Duration) time.Duration {
	return readEnv(e, name, def, time.ParseDuration, "a Go duration such as 30s or 15m")
}

func (e *envReader) integer(name string, def int) int {
	return readEnv(e, name, def, strconv.Atoi, "an integer")
}

func (e *envReader) float(name string, def float64) float64 {
	return readEnv(e, name, def, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }, "a number")
}

// readEnv returns the variable name parsed by parse, or def when it is
// unset or malformed (remembering it as bad: it is not what).
func readEnv[T any](e *envReader, name string, def T, parse func(string) (T, error), what string) T {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		e.bad = append(e.bad, fmt.Errorf("%s=%q is not %s", name, v, what))
		return def
	}
	return x
}

func (e *envReader) boolean(name string, def bool) bool {
	v := strings.ToLower(e.getenv(name))
	switch v {
	case "":
		return def
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	e.bad = append(e.bad, fmt.Errorf("%s=%q is not true or false", name, v))
	return def
}

// prefixList is the flag.Value of --trusted-proxies.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	parsed, err := parsePrefixes(v)
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

// parsePrefixes reads comma-separated CIDRs; a bare address stands for
// itself (/32 or /128).
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", f)
			}
			f = a.Unmap().String() + "/" + strconv.Itoa(a.Unmap().BitLen())
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// checkTrustedProxies refuses prefixes with host bits set (a typo that
// would trust a different network than meant) and ones trusting every
// address (anyone could then choose their address).
func checkTrustedProxies(ps []netip.Prefix) []error {
	var errs []error
	for _, p := range ps {
		switch {
		case p.Bits() == 0:
			errs = append(errs, fmt.Errorf("--trusted-proxies %s would trust every address; name the proxies' own networks", p))
		case p.Masked() != p:
			errs = append(errs, fmt.Errorf("--trusted-proxies %s has host bits set; did you mean %s?", p, p.Masked()))
		}
	}
	return errs
}

func (e *envReader) err() error { return errors.Join(e.bad...) }

// validateUploads checks the attachment flags.
func (c *Config) validateUploads() []error {
	var errs []error
	if c.MaxBlobBytes < 1024 {
		errs = append(errs, fmt.Errorf("--max-blob-bytes %d must be at least 1024", c.MaxBlobBytes))
	}
	for _, d := range []struct {
		flag     string
		v, least time.Duration
	}{{"upload-ttl", c.UploadTTL, time.Minute}, {"blob-orphan-ttl", c.BlobOrphanTTL, time.Minute}, {"blob-sweep", c.BlobSweep, time.Second}} {
		if d.v < d.least {
			errs = append(errs, fmt.Errorf("--%s %s must be at least %s", d.flag, d.v, d.least))
		}
	}
	return errs
}
