package server_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// countingConn counts the bytes read and written on a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkUploadThroughput uploads 16 MiB files with the Go SDK's
// Uploader (1 MiB chunks, each fsync'd before its answer) and, in the
// same iteration and on the same disk, writes the same bytes to a plain
// file in 1 MiB writes with an fsync after each: the baseline. It
// reports both rates, their ratio and the bytes on the wire (both ways,
// TCP payload: HTTP heads, bodies, answers) per MB of file.
func BenchmarkUploadThroughput(b *testing.B) {
	const size, chunk = 16 << 20, 1 << 20
	h := startServerEnv(b, map[string]string{"FIELDSYNC_MAX_BLOB_BYTES": "33554432"})
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	var wire atomic.Int64
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		return countingConn{c, &wire}, err
	}}
	c, err := fieldsync.Open(b.TempDir(), fieldsync.Options{ServerURL: h.base, DeviceName: "bench", Logger: discardLogger(),
		HTTPClient: &http.Client{Transport: tr, Timeout: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Login(ctx, "fw", userPassword); err != nil {
		b.Fatal(err)
	}
	up := &fieldsync.Uploader{Client: c, ChunkSize: chunk, KeepMetadata: true} // jpegFile is not a photo the SDK could strip
	raw := filepath.Join(h.dir, "raw-baseline")
	r := rand.New(rand.NewPCG(5, 6))
	var upTime, rawTime time.Duration
	var wireBytes int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		data := jpegFile(r, size)
		wire.Store(0)
		b.StartTimer()
		start := time.Now()
		if _, err := up.Upload(ctx, fieldsync.UploadScope{Team: w.teams["north"]}, data); err != nil {
			b.Fatal(err)
		}
		upTime += time.Since(start)
		wireBytes += wire.Load()
		start = time.Now()
		if err := writeSynced(raw, data, chunk); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(start)
	}
	b.StopTimer()
	mb := float64(b.N) * size / 1e6
	b.ReportMetric(mb/upTime.Seconds(), "upload-MB/s")
	b.ReportMetric(mb/rawTime.Seconds(), "raw-fsync-MB/s")
	b.ReportMetric(100*rawTime.Seconds()/upTime.Seconds(), "upload-%-of-raw")
	b.ReportMetric(float64(wireBytes)/mb, "wire-bytes/MB")
}

// writeSynced writes data to a new file at path in writes of chunk
// bytes, each followed by an fsync, then removes the file.
func writeSynced(path string, data []byte, chunk int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	for o := 0; o < len(data); o += chunk {
		if _, err := f.Write(data[o:min(o+chunk, len(data))]); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return f.Close()
}
