package quota

import (
	"context"
	"time"
)

// janitor removes, every JanitorInterval, the rows whose windows, blocks and TTLs have all
// ended. It keeps the tables small; the check applies the same cutoffs itself, so it never waits
// for the janitor to forget a window.
func (s *store) janitor() {
	defer close(s.jdone)
	t := time.NewTicker(s.cfg.JanitorInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.be.janitor(ctx, s.now()); err != nil {
				s.warn("quota janitor failed", err)
			}
			cancel()
		}
	}
}
