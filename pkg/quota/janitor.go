package quota

import (
	"context"
	"time"
)

// janitor removes expired rows every JanitorInterval. No answer depends on when it last ran:
// every reader applies the cutoffs itself; it only keeps the tables small.
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
