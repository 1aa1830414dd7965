package upload

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"time"
)

// janitor applies FILE_TTL every interval: files expire by the upload time in their database
// row (a copy or a restore changes a file's mtime, not its row). One log line per file and a
// summary per run that deleted anything. It also refreshes the free-space and stored gauges
// and sweeps temporary files a crash left behind.
func (s *Service) janitor(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	s.tidy()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.tidy()
		}
	}
}

// expireBatch bounds one query; a run goes on until nothing older is left.
const expireBatch = 500

// tidy is one janitor run.
func (s *Service) tidy() {
	s.tidyMu.Lock()
	defer s.tidyMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if now := time.Now(); now.Sub(s.lastSweep) >= time.Hour {
		// A walk of the whole folder: hourly, not every run.
		s.lastSweep = now
		s.sweepTemp(s.clock().Add(-time.Hour))
	}
	if ttl := s.set.Load().ttl; ttl > 0 {
		s.expire(ctx, s.clock().Add(-ttl))
	}
	if files, bytes, err := s.uploads.UploadTotals(ctx); err == nil {
		s.m.storedFiles.Set(float64(files))
		s.m.storedBytes.Set(float64(bytes))
	}
	if free, err := s.files.freeSpace(); err == nil {
		s.m.freeBytes.Set(float64(free))
	}
}

// expire deletes the files uploaded before cutoff and forgets their rows.
func (s *Service) expire(ctx context.Context, cutoff time.Time) {
	var count, freed int64
	for {
		rows, err := s.uploads.ExpiredUploads(ctx, cutoff, expireBatch)
		if err != nil {
			s.log.Warn("upload janitor: database", "err", err)
			break
		}
		for _, u := range rows {
			existed, err := s.files.remove(u.Path)
			if err != nil {
				s.log.Warn("upload janitor: cannot delete; kept for the next run", "path", u.Path, "err", err)
				return
			}
			if err := s.uploads.ForgetUpload(ctx, u.Path); err != nil {
				s.log.Warn("upload janitor: database", "err", err)
				return
			}
			if !existed {
				s.log.Info("upload forgotten: its file was already gone", "path", u.Path)
				continue
			}
			count++
			freed += u.Size
			s.m.expired.Inc()
			s.m.expiredBytes.Add(float64(u.Size))
			s.log.Info("upload expired", "path", u.Path, "size", u.Size, "uploaded_at", u.UploadedAt.UTC().Format(time.RFC3339))
		}
		if len(rows) < expireBatch {
			break
		}
	}
	if count > 0 {
		s.log.Info("upload janitor run", "expired", count, "bytes_freed", freed)
	}
}

// sweepTemp removes temporary files older than cutoff (a crash mid-upload; a live upload's
// temporary file is younger, its mtime moving with every write).
func (s *Service) sweepTemp(cutoff time.Time) {
	_ = fs.WalkDir(s.files.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(path.Base(p), tempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = s.files.root.Remove(p)
		}
		return nil
	})
}
