package origin

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// Errors of the local origin, mapped to 404 and 403 by the proxy.
var (
	ErrNotFound  = errors.New("origin: not found")
	ErrForbidden = errors.New("origin: access denied")
)

// Local serves files of one folder (ADDRESS=file:///dir). Every open goes through os.Root, so
// no path, however it is spelled ("..", encoded slashes, symlinks pointing outside), reaches a
// file outside the folder; symlinks that stay inside the folder work.
type Local struct {
	root *os.Root
}

// OpenLocal opens dir as the served folder.
func OpenLocal(dir string) (*Local, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Local{root: r}, nil
}

// Dir is the folder being served.
func (l *Local) Dir() string { return l.root.Name() }

// Close releases the folder.
func (l *Local) Close() error { return l.root.Close() }

// Open opens the regular file at the decoded request path p ("/a/b.txt"). Directories,
// devices, sockets and pipes are not files to download: ErrNotFound.
func (l *Local) Open(p string) (*os.File, fs.FileInfo, error) {
	name := strings.TrimLeft(p, "/")
	if name == "" || strings.HasSuffix(name, "/") || strings.IndexByte(name, 0) >= 0 {
		return nil, nil, ErrNotFound
	}
	f, err := l.root.Open(name)
	if err != nil {
		return nil, nil, mapFSError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, mapFSError(err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, ErrNotFound
	}
	return f, fi, nil
}

func mapFSError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case errors.Is(err, fs.ErrPermission), strings.Contains(err.Error(), "escapes"):
		// os.Root's "path escapes from parent" has no exported sentinel.
		return ErrForbidden
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && (strings.Contains(pe.Err.Error(), "not a directory") || strings.Contains(pe.Err.Error(), "invalid argument")) {
		return ErrNotFound
	}
	return err
}
