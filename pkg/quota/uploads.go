package quota

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Upload rows are cmd/upload's record of the files it stored (migration 0003): the Content-Type
// a GET answers with and the upload time FILE_TTL expires by. They are written synchronously:
// a 201 means the row is committed, so a stored file always has its type and its expiry.

// Upload is one stored file.
type Upload struct {
	Path        string // the slot path below UPLOAD_DIR, "/"-separated
	Size        int64
	ContentType string
	UploadedAt  time.Time
}

// Uploads is implemented by the stores Open returns (both backends); a separate interface so
// that test doubles of Store need not implement it.
type Uploads interface {
	// AddUpload records a stored file; it replaces a row left by a file deleted by hand.
	AddUpload(ctx context.Context, u Upload) error
	// LookupUpload returns the row of path; ok is false when there is none.
	LookupUpload(ctx context.Context, path string) (u Upload, ok bool, err error)
	// ExpiredUploads returns up to limit rows uploaded before cutoff, oldest first.
	ExpiredUploads(ctx context.Context, cutoff time.Time, limit int) ([]Upload, error)
	// ForgetUpload deletes the row of path.
	ForgetUpload(ctx context.Context, path string) error
	// UploadTotals counts the rows and their bytes (the stored-files gauges).
	UploadTotals(ctx context.Context) (files, bytes int64, err error)
}

// uploadDB is what the uploads need of either backend: one statement at a time.
type uploadDB interface {
	exec(ctx context.Context, q string, args ...any) error
	query(ctx context.Context, q string, args []any, scan func(rows func(dest ...any) error) error) error
}

const (
	// SQLite's ?N and Postgres' $N placeholders are both written $N: SQLite accepts $N too.
	upAdd = `INSERT INTO uploads (path, size, content_type, uploaded_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, content_type = excluded.content_type, uploaded_at = excluded.uploaded_at`
	upGet     = `SELECT path, size, content_type, uploaded_at FROM uploads WHERE path = $1`
	upExpired = `SELECT path, size, content_type, uploaded_at FROM uploads WHERE uploaded_at < $1 ORDER BY uploaded_at LIMIT $2`
	upForget  = `DELETE FROM uploads WHERE path = $1`
	upTotals  = `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM uploads`
)

// uploadsBackend is the backends' access to the uploads table (both real backends have it).
type uploadsBackend interface{ uploads() uploadDB }

func (b *sqliteBackend) uploads() uploadDB { return sqliteUploads{b.db} }
func (b *pgBackend) uploads() uploadDB     { return pgUploads{b.pool} }

func (s *store) uploadDB() uploadDB { return s.be.(uploadsBackend).uploads() }

// AddUpload implements Uploads.
func (s *store) AddUpload(ctx context.Context, u Upload) error {
	return wrapUp(s.uploadDB().exec(ctx, upAdd, u.Path, u.Size, u.ContentType, u.UploadedAt.UnixMilli()))
}

// LookupUpload implements Uploads.
func (s *store) LookupUpload(ctx context.Context, path string) (Upload, bool, error) {
	list, err := s.scanUploads(ctx, upGet, path)
	if err != nil || len(list) == 0 {
		return Upload{}, false, err
	}
	return list[0], true, nil
}

// ExpiredUploads implements Uploads.
func (s *store) ExpiredUploads(ctx context.Context, cutoff time.Time, limit int) ([]Upload, error) {
	return s.scanUploads(ctx, upExpired, cutoff.UnixMilli(), limit)
}

// ForgetUpload implements Uploads.
func (s *store) ForgetUpload(ctx context.Context, path string) error {
	return wrapUp(s.uploadDB().exec(ctx, upForget, path))
}

// UploadTotals implements Uploads.
func (s *store) UploadTotals(ctx context.Context) (files, bytes int64, err error) {
	err = s.uploadDB().query(ctx, upTotals, nil, func(next func(...any) error) error {
		return next(&files, &bytes)
	})
	return files, bytes, wrapUp(err)
}

func (s *store) scanUploads(ctx context.Context, q string, args ...any) ([]Upload, error) {
	var out []Upload
	err := s.uploadDB().query(ctx, q, args, func(next func(...any) error) error {
		for {
			var u Upload
			var at int64
			if err := next(&u.Path, &u.Size, &u.ContentType, &at); err != nil {
				if errors.Is(err, errNoMoreRows) {
					return nil
				}
				return err
			}
			u.UploadedAt = time.UnixMilli(at)
			out = append(out, u)
		}
	})
	return out, wrapUp(err)
}

func wrapUp(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: uploads: %w", ErrUnavailable, err)
}

var errNoMoreRows = errors.New("no more rows")

type sqliteUploads struct{ db *sql.DB }

func (u sqliteUploads) exec(ctx context.Context, q string, args ...any) error {
	_, err := u.db.ExecContext(ctx, q, args...)
	return err
}

func (u sqliteUploads) query(ctx context.Context, q string, args []any, scan func(func(...any) error) error) error {
	rows, err := u.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scanRows(rows, scan)
}

// rowIter is what database/sql's and pgx's result sets share.
type rowIter interface {
	Next() bool
	Err() error
	Scan(dest ...any) error
}

// scanRows hands scan a function that reads the next row into dest (errNoMoreRows past the
// last), for both backends.
func scanRows(rows rowIter, scan func(func(...any) error) error) error {
	err := scan(func(dest ...any) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return errNoMoreRows
		}
		return rows.Scan(dest...)
	})
	if errors.Is(err, errNoMoreRows) {
		err = nil
	}
	return errors.Join(err, rows.Err())
}

type pgUploads struct{ pool *pgPool }

func (u pgUploads) exec(ctx context.Context, q string, args ...any) error {
	return u.pool.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, q, args...)
		return err
	})
}

func (u pgUploads) query(ctx context.Context, q string, args []any, scan func(func(...any) error) error) error {
	return u.pool.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanRows(rows, scan)
	})
}
