package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DB says where the shared state lives (DB_MODE, SQLITE_PATH, DATABASE_URL).
type DB struct {
	Mode        string // "sqlite" (default) or "postgres"
	SQLitePath  string // default ./data/alist-edge.db
	DatabaseURL string // postgres only; pool_max_conns=N sets the pool size
}

// Database modes.
const (
	ModeSQLite   = "sqlite"
	ModePostgres = "postgres"
)

// DefaultSQLitePath is SQLITE_PATH's default.
const DefaultSQLitePath = "./data/alist-edge.db"

// ErrSchemaTooNew: the database was migrated by a newer binary. Running against it could
// misread or overwrite state the newer schema depends on, so Open and Migrate refuse.
var ErrSchemaTooNew = errors.New("quota: database schema is newer than this binary")

// Stats are monotonic counters for metrics.
type Stats struct {
	FailOpen     uint64 // checks let through without limits because the database failed
	QueueDropped uint64 // cache/throttle writes dropped because the write queue was full or closed
	WriteErrors  uint64 // write batches that failed (usage in them is retried, not dropped)
	UsageLost    uint64 // bytes that could not be recorded (database down at Close, or added after Close)
}

// StatsReporter is implemented by the stores Open returns; it is a separate interface so that
// test doubles of Store need not implement it.
type StatsReporter interface {
	Stats() Stats
}

func (db DB) withDefaults() (DB, error) {
	switch db.Mode {
	case "", ModeSQLite:
		db.Mode = ModeSQLite
		if db.SQLitePath == "" {
			db.SQLitePath = DefaultSQLitePath
		}
	case ModePostgres:
		if db.DatabaseURL == "" {
			return db, errors.New("quota: DB_MODE=postgres needs DATABASE_URL")
		}
	default:
		return db, fmt.Errorf("quota: unknown DB_MODE %q (want sqlite or postgres)", db.Mode)
	}
	return db, nil
}

// Migrate brings the database to the schema this binary knows. It is safe to run at any time
// and from several replicas at once; it fails with ErrSchemaTooNew on a newer database.
func Migrate(ctx context.Context, db DB) error {
	db, err := db.withDefaults()
	if err != nil {
		return err
	}
	switch db.Mode {
	case ModePostgres:
		return migratePostgresURL(ctx, db.DatabaseURL)
	default:
		sdb, err := openSQLiteDB(db.SQLitePath)
		if err != nil {
			return err
		}
		defer sdb.Close()
		return migrateSQLite(ctx, sdb)
	}
}

// Open connects, migrates, and starts the write queue and the janitor. Close stops them.
func Open(ctx context.Context, db DB, cfg Config, log *slog.Logger) (Store, error) {
	db, err := db.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err = cfg.normalized()
	if err != nil {
		return nil, err
	}
	be, err := openBackend(ctx, db)
	if err != nil {
		return nil, err
	}
	s := newStore(be, cfg, log)
	s.start()
	return s, nil
}

// openBackend connects to db (defaults filled) and migrates it.
func openBackend(ctx context.Context, db DB) (backend, error) {
	if db.Mode == ModePostgres {
		pool, err := newPGPool(db.DatabaseURL)
		if err != nil {
			return nil, err
		}
		return openPostgres(ctx, pool)
	}
	return openSQLite(ctx, db.SQLitePath)
}

// maxCount bounds the request and failure limits (see normalized).
const maxCount = 1 << 30

// normalized fills defaults and rejects settings that would make a limit meaningless; a
// startup error is better than a limit that silently never applies.
func (c Config) normalized() (Config, error) {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.BandwidthBlockTime <= 0 {
		c.BandwidthBlockTime = 10 * time.Minute
	}
	if len(c.ThrottleCodes) == 0 {
		c.ThrottleCodes = []int{429, 500, 503}
	}
	if c.ThrottleWindow <= 0 {
		c.ThrottleWindow = 60 * time.Second
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.JanitorInterval <= 0 {
		c.JanitorInterval = time.Minute
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 5 * time.Second
	}
	if c.ReserveChunk <= 0 {
		c.ReserveChunk = defaultReserveChunk
	}
	if c.BlockTime < 0 {
		c.BlockTime = 0
	}
	// Postgres counts requests and failures in integer columns (the check takes int32): a
	// limit past maxCount is no limit in practice, and clamping it keeps both backends alike
	// instead of wrapping around on Postgres.
	c.RequestLimit = min(c.RequestLimit, maxCount)
	c.BanAfterFails = min(c.BanAfterFails, maxCount)
	if c.RequestLimit > 0 && c.WindowTime < time.Millisecond {
		return c, errors.New("quota: WINDOW_TIME must be positive when a request limit is set")
	}
	if c.TotalEnabled && c.TotalWindow < time.Millisecond {
		return c, errors.New("quota: BANDWIDTH_WINDOW_TIME_TOTAL must be positive when the total quota is enabled")
	}
	if c.FileEnabled && c.FileWindow < time.Millisecond {
		return c, errors.New("quota: BANDWIDTH_WINDOW_TIME_FILEPATH must be positive when the per-file quota is enabled")
	}
	if c.BanAfterFails > 0 && (c.BanWindow < time.Millisecond || c.BanTime < time.Millisecond) {
		return c, errors.New("quota: BAN_WINDOW and BAN_TIME must be positive when BAN_AFTER_FAILS is set")
	}
	return c, nil
}
