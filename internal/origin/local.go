package origin

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
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

// openFlags: O_NONBLOCK because a plain open of a named pipe blocks until a writer appears
// (and one of a terminal or modem until its line is up): one FIFO in the folder would park a
// thread and a descriptor per request until the proxy ran out of both. With O_NONBLOCK the open
// returns at once and the type is checked on the opened descriptor (fstat), so nothing can be
// swapped in between the check and the open, as it could after a Stat by name. O_NOCTTY: a
// terminal in the folder never becomes the process's controlling terminal.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// Open opens the regular file at the served request path p ("/a/b.txt"). Directories,
// devices, sockets and pipes are not files to download: ErrNotFound, without waiting on them.
func (l *Local) Open(p string) (*os.File, fs.FileInfo, error) {
	name := strings.TrimLeft(p, "/")
	if name == "" || strings.HasSuffix(name, "/") || strings.IndexByte(name, 0) >= 0 {
		return nil, nil, ErrNotFound
	}
	f, err := l.root.OpenFile(name, openFlags, 0)
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
	// A regular file: back to ordinary blocking reads (a FUSE or network file system may
	// honour O_NONBLOCK and answer EAGAIN, which a file read must never see). The runtime
	// does not poll regular files, so reads stay plain system calls.
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
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
