package landing

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/httpx"
)

// sizer answers a file's size: additionalInfo carries it so that the proxy can compute the
// link's lifetime and per-file quotas without asking AList again.
type sizer interface {
	size(ctx context.Context, path, clientIP string) (int64, error)
}

// alistSizer asks AList's /api/fs/get (docs/contract.md §7); AList's errors are relayed as they came,
// except its "object not found", which internal/alist turns into a 404.
type alistSizer struct {
	c       *alist.Client
	timeout time.Duration
}

func (a *alistSizer) size(ctx context.Context, path, clientIP string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	f, err := a.c.Get(ctx, path, clientIP)
	if err != nil {
		return 0, err
	}
	if f.IsDir {
		return 0, errNotFound
	}
	return max(f.Size, 0), nil
}

// errNotFound answers a missing file and a directory alike: the landing hands out links to
// files only, and a 404 (not a 500, not a link the proxy cannot serve) makes a download
// manager give up instead of retrying.
var errNotFound = httpx.ErrNotFound

// localSizer stats files below ADDRESS=file:///dir. os.Root refuses every way out of the
// folder (.., absolute symlinks, symlinks pointing outside), so a signed path can never be
// used to probe the rest of the machine; an escape looks exactly like a missing file.
type localSizer struct{ root *os.Root }

func (l localSizer) size(_ context.Context, path, _ string) (int64, error) {
	name := strings.Trim(path, "/")
	if name == "" {
		name = "."
	}
	if strings.IndexByte(name, 0) >= 0 {
		return 0, errNotFound
	}
	fi, err := l.root.Stat(name)
	if err != nil {
		return 0, errNotFound
	}
	if fi.IsDir() {
		return 0, errNotFound
	}
	return fi.Size(), nil
}
