package origin

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// releaseFIFO opens the pipe for writing without blocking, which lets any open for reading
// that is stuck on it return: a failing test must not leave threads parked in open(2).
func releaseFIFO(path string) {
	for range 50 {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			time.Sleep(10 * time.Millisecond)
			syscall.Close(fd)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLocalFIFO: a named pipe in the folder (directly or through a symlink) is not a file to
// download: ErrNotFound at once. A plain open(2) of a FIFO blocks until a writer appears,
// which parked one thread and one descriptor per request until the proxy stopped serving.
func TestLocalFIFO(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("pipe", filepath.Join(dir, "alias")))
	must(t, os.WriteFile(filepath.Join(dir, "f.txt"), []byte("f"), 0o644))
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range []string{"/pipe", "/alias", "//pipe"} {
		done := make(chan error, 1)
		go func() {
			f, _, err := l.Open(p)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", p, err)
			}
		case <-time.After(5 * time.Second):
			releaseFIFO(pipe)
			t.Fatalf("%s: Open blocked on the FIFO", p)
		}
	}
	// A regular file opened this way reads normally (blocking mode restored).
	f, fi, err := l.Open("/f.txt")
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4)
	if n, err := f.Read(b); n != 1 || err != nil || b[0] != 'f' {
		t.Fatalf("%d %v %q", n, err, b[:n])
	}
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	_ = rc.Control(func(fd uintptr) {
		r, _, _ := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		flags = int(r)
	})
	if flags&syscall.O_NONBLOCK != 0 {
		t.Fatalf("regular file left in O_NONBLOCK mode (flags %#x)", flags)
	}
}
