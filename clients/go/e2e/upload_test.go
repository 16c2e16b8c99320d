package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// TestUploaderResumesThroughCuts: the SDK's uploader sends a file in
// chunks through a proxy that cuts connections mid-request and
// mid-response; it resumes each time at the acknowledged offset and the
// server ends up holding the verified blob.
func TestUploaderResumesThroughCuts(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	proxy := startProxy(t, s.m.Addr(), 7)
	c := device(t, proxy.URL(), "fw")

	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i * 13)
	}
	copy(data, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])

	up := &fieldsync.Uploader{Client: c, ChunkSize: 4 << 10, MaxAttempts: 50,
		Backoff: fieldsync.Backoff{Base: 1, Max: 2}}
	info, err := up.Upload(context.Background(), fieldsync.UploadScope{Team: s.team("north")}, data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info, (api.BlobInfo{Digest: digest, Size: int64(len(data)), MediaType: "image/jpeg"}); got != want {
		t.Fatalf("Upload = %+v, want %+v", got, want)
	}
	if proxy.cutRequests.Load()+proxy.cutResponses.Load() == 0 {
		t.Fatal("the proxy cut nothing: the test did not exercise resuming")
	}
	token := s.login("fw", userPassword).AccessToken
	var again api.Upload
	mustUnmarshal(t, s.mustDo(http.StatusOK, http.MethodPost, "/v1/uploads", token,
		api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: s.team("north")}), &again)
	if !again.Complete {
		t.Errorf("the server does not hold the blob: %+v", again)
	}
}
