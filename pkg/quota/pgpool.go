package quota

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgPool wraps pgxpool so the backend runs each round trip on one connection (with its
// prepared-statement cache, which is what makes the one-query check cheap).
type pgPool struct{ p *pgxpool.Pool }

// newPGPool parses dsn (pool_max_conns and the other pgxpool settings are read from it).
func newPGPool(dsn string) (*pgPool, error) {
	cfg, err := pgPoolConfig(dsn)
	if err != nil {
		return nil, err
	}
	return newPGPoolFrom(cfg)
}

// pgPoolConfig is dsn's pool configuration with the gateway's defaults.
func pgPoolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors; still, say only what failed.
		return nil, errors.New("quota: invalid DATABASE_URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	return cfg, nil
}

func newPGPoolFrom(cfg *pgxpool.Config) (*pgPool, error) {
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, errors.New("quota: invalid DATABASE_URL")
	}
	return &pgPool{p: p}, nil
}

// with runs fn on a pooled connection; pgxpool discards a connection left busy or in a
// transaction, so a failed round trip never poisons the pool.
func (p *pgPool) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := p.p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(c.Conn())
}

func (p *pgPool) close() { p.p.Close() }
