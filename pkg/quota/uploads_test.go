package quota

import (
	"context"
	"testing"
	"time"
)

// uploads reaches the real backend under the test stores' barrier.
func (b *barrierBackend) uploads() uploadDB { return b.backend.(uploadsBackend).uploads() }

// TestUploads: cmd/upload's rows on both backends: add (and replace), look up, totals, the
// expired ones oldest first, forget.
func TestUploads(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		var up Uploads = s
		t0 := time.UnixMilli(1_700_000_000_000)
		for i, p := range []string{"a/b/ü x.jpg", "c/d/e.bin", "f/g/h.txt"} {
			if err := up.AddUpload(ctx, Upload{Path: p, Size: int64(10 * (i + 1)), ContentType: "image/jpeg", UploadedAt: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		// A row left by a file deleted by hand is replaced by the new upload.
		if err := up.AddUpload(ctx, Upload{Path: "f/g/h.txt", Size: 5, ContentType: "text/plain", UploadedAt: t0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		u, ok, err := up.LookupUpload(ctx, "a/b/ü x.jpg")
		if err != nil || !ok || u.Size != 10 || u.ContentType != "image/jpeg" || !u.UploadedAt.Equal(t0) {
			t.Fatalf("lookup: %+v %v %v", u, ok, err)
		}
		if _, ok, err := up.LookupUpload(ctx, "nope"); ok || err != nil {
			t.Fatalf("missing row: %v %v", ok, err)
		}
		if f, b, err := up.UploadTotals(ctx); err != nil || f != 3 || b != 35 {
			t.Fatalf("totals %d %d %v", f, b, err)
		}
		exp, err := up.ExpiredUploads(ctx, t0.Add(2*time.Hour), 10)
		if err != nil || len(exp) != 2 || exp[0].Path != "a/b/ü x.jpg" || exp[1].Path != "c/d/e.bin" {
			t.Fatalf("expired %+v %v", exp, err)
		}
		if exp, _ := up.ExpiredUploads(ctx, t0.Add(2*time.Hour), 1); len(exp) != 1 {
			t.Fatalf("limit: %+v", exp)
		}
		if err := up.ForgetUpload(ctx, "a/b/ü x.jpg"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := up.LookupUpload(ctx, "a/b/ü x.jpg"); ok {
			t.Fatal("forgotten row still there")
		}
	})
}
