package upload

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// files is UPLOAD_DIR, opened as an os.Root: no name, symlink or ".." inside it reaches out of
// the folder, whatever slotPath let through.
//
// A body is written to a temporary file in the slot's own folder (same filesystem), fsynced,
// and then hard-linked to its name: link fails when the name exists, so of two PUTs of one slot
// exactly one wins, and a name is never visible before its whole body is on disk. The temporary
// name is removed on every path; a crash can leave one behind (".upload-*.part", never served:
// GET serves only files with a database row) and the janitor sweeps those.
type files struct {
	root      *os.Root
	dir       string
	freeSpace func() (int64, error)
}

const tempPrefix = ".upload-"

var (
	errShortBody = errors.New("upload: body shorter than Content-Length")
	errExists    = errors.New("upload: file exists")
)

func openFiles(dir string) (*files, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("upload: UPLOAD_DIR: %w", err)
	}
	f := &files{root: root, dir: dir}
	f.freeSpace = func() (int64, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return 0, err
		}
		return int64(st.Bavail) * int64(st.Bsize), nil
	}
	return f, nil
}

// exists reports whether p is taken (by anything: a file, a folder, a dangling link).
func (f *files) exists(p string) bool {
	_, err := f.root.Lstat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// countingReader reports every chunk read (the byte quota's meter, the bytes metric).
type countingReader struct {
	r   io.Reader
	n   int64
	add func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.add != nil {
			c.add(int64(n))
		}
	}
	return n, err
}

// create stores exactly size bytes of body as p; errExists when p was taken meanwhile,
// errShortBody when the body ended early. Nothing is left at p on any error.
func (f *files) create(p string, body io.Reader, size int64) (err error) {
	dir := path.Dir(p)
	if dir != "." {
		if err := f.root.MkdirAll(dir, 0o750); err != nil {
			if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
				return errExists // a file stands where the slot needs a folder
			}
			return err
		}
	}
	var rb [12]byte
	_, _ = rand.Read(rb[:])
	tmp := path.Join(dir, tempPrefix+hex.EncodeToString(rb[:])+".part")
	fh, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if fh != nil {
			_ = fh.Close()
		}
		_ = f.root.Remove(tmp)
	}()
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(onlyWriter{fh}, io.LimitReader(body, size), *bp)
	copyBufs.Put(bp)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errShortBody
		}
		return err
	}
	if n != size {
		return errShortBody
	}
	if err := fh.Sync(); err != nil {
		return err
	}
	err = fh.Close()
	fh = nil
	if err != nil {
		return err
	}
	if err := f.root.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errExists
		}
		return err
	}
	// The name is durable once its folder is: a power cut after the 201 must not lose it.
	if d, err := f.root.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// onlyWriter hides *os.File's ReadFrom, so the copy uses the pooled buffer.
type onlyWriter struct{ io.Writer }

// remove deletes p and then its folders while they are empty (Prosody's per-slot folders);
// a file already gone is not an error (existed says which).
func (f *files) remove(p string) (existed bool, err error) {
	if err := f.root.Remove(p); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	} else {
		existed = true
	}
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if f.root.Remove(dir) != nil {
			break
		}
	}
	return existed, nil
}
