package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"testing"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// shelterLatitude is the GPS latitude the test photo carries, as the
// TIFF rationals a phone writes: it must not reach the server.
var shelterLatitude = func() []byte {
	var b []byte
	for _, v := range []uint32{48, 1, 51, 1, 2411, 100} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}()

// gpsPhoto returns a JPEG as a phone writes it: an EXIF segment with the
// phone's make, Orientation 6 (rotated) and a GPS IFD with
// shelterLatitude.
func gpsPhoto(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 15), 128, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, nil); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	entry := func(tag, typ uint16, n, v uint32) {
		tiff = le.AppendUint32(le.AppendUint32(le.AppendUint16(le.AppendUint16(tiff, tag), typ), n), v)
	}
	tiff = le.AppendUint16(tiff, 3) // IFD0 at 8, ends at 50
	entry(0x010F, 2, 16, 50)        // Make
	entry(0x0112, 3, 1, 6)          // Orientation: rotate 90° to show
	entry(0x8825, 4, 1, 66)         // GPS IFD
	tiff = le.AppendUint32(tiff, 0)
	tiff = append(tiff, "SHELTER-PHONE-1\x00"...) // at 50
	tiff = le.AppendUint16(tiff, 2)               // GPS IFD at 66, ends at 96
	entry(0x0001, 2, 2, 'N')
	entry(0x0002, 5, 3, 96) // GPSLatitude
	tiff = le.AppendUint32(tiff, 0)
	tiff = append(tiff, shelterLatitude...)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}
	return append(append(out, app1...), enc.Bytes()[2:]...)
}

// TestUploaderStripsPhotoLocation: a JPEG with GPS EXIF uploaded through
// the SDK and attached to a record is downloaded from the server without
// its position or the phone's make, with its orientation and pixels;
// with KeepMetadata (the control) the position arrives.
func TestUploaderStripsPhotoLocation(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	c := device(t, s.URL, "fw")
	token := s.login("fw", userPassword).AccessToken
	ctx := context.Background()
	photo := gpsPhoto(t)
	orientation := []byte{0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6} // the Orientation entry, big-endian
	for _, keep := range []bool{false, true} {
		up := &fieldsync.Uploader{Client: c, KeepMetadata: keep}
		info, err := up.Upload(ctx, fieldsync.UploadScope{Team: s.team("north")}, photo)
		if err != nil {
			t.Fatalf("keep %v: upload: %v", keep, err)
		}
		id := must[string](t)(c.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
		must[string](t)(c.Append(ctx, id, model.FieldAttachments, map[string]any{
			"digest": info.Digest, "size": info.Size, "media_type": info.MediaType, "name": "passport.jpg"}))
		syncOK(t, c)
		got := s.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id+"/attachments/"+info.Digest, token, nil)
		if has := bytes.Contains(got, shelterLatitude); has != keep {
			t.Errorf("keep %v: the server's copy holds the GPS latitude: %v, want %v", keep, has, keep)
		}
		if has := bytes.Contains(got, []byte("SHELTER-PHONE")); has != keep {
			t.Errorf("keep %v: the server's copy holds the phone's make: %v, want %v", keep, has, keep)
		}
		if !keep && !bytes.Contains(got, orientation) {
			t.Errorf("the server's copy lost the orientation: documents would show sideways")
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(got))
		if err != nil || cfg.Width != 24 || cfg.Height != 16 {
			t.Errorf("keep %v: the server's copy reads as %+v, %v; want a 24x16 JPEG", keep, cfg, err)
		}
	}
}

// TestAttachStripsHEICLocation: a HEIC photo (iPhones' default; the
// SDK's fixture, with an Exif item holding a GPS IFD and an XMP item with
// exif:GPSLatitude) attached offline and synced is downloaded from the
// server without either position, as a HEIC of the same length; with
// KeepMetadata (the control) the position arrives.
func TestAttachStripsHEICLocation(t *testing.T) {
	attachStripsInPlace(t, "../testdata/phone.heic", "passport.heic", "image/heic", shelterLatitude, []byte("GPSLatitude"))
}

// TestAttachStripsVoiceNoteLocation: an M4A voice note (the SDK's
// fixture: ©xyz in the movie's udta, the Apple location key in its meta
// box, a 3GPP loci box in the track's udta) attached offline and synced
// is downloaded from the server without its location, as an M4A of the
// same length; with KeepMetadata (the control) the location arrives.
func TestAttachStripsVoiceNoteLocation(t *testing.T) {
	attachStripsInPlace(t, "../testdata/voice.m4a", "note.m4a", "audio/mp4",
		[]byte("+48.8577+002.2950/"), []byte("com.apple.quicktime.location.ISO6709"), []byte("loci"))
}

// attachStripsInPlace attaches the file at path twice through the SDK,
// without and with KeepMetadata, and checks the server's copy: of
// mediaType, as long as the file (stripped in place), holding none of the
// secrets, or (KeepMetadata, the control) all of them.
func attachStripsInPlace(t *testing.T, path, name, mediaType string, secrets ...[]byte) {
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	c := device(t, s.URL, "fw")
	token := s.login("fw", userPassword).AccessToken
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		id := must[string](t)(c.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
		a := must[fieldsync.Attached](t)(c.AttachFrom(ctx, id, bytes.NewReader(file), int64(len(file)), fieldsync.AttachOptions{Name: name, KeepMetadata: keep}))
		syncOK(t, c)
		got := s.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id+"/attachments/"+a.Digest, token, nil)
		for _, secret := range secrets {
			if has := bytes.Contains(got, secret); has != keep {
				t.Errorf("keep %v: the server's copy holds %q: %v, want %v", keep, secret, has, keep)
			}
		}
		if a.MediaType != mediaType || len(got) != len(file) {
			t.Errorf("keep %v: the server's copy is %s of %d bytes; want %s of %d", keep, a.MediaType, len(got), mediaType, len(file))
		}
	}
}
