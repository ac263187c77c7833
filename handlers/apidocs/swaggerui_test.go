package apidocs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
)

func TestReadOnlyFS(t *testing.T) {
	ctx := context.Background()
	fsys := newReadOnlyFS(fstest.MapFS{"dir/a.txt": {Data: []byte("hello")}})
	f, err := fsys.OpenFile(ctx, "/dir/a.txt", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, _ := f.Read(buf); string(buf[:n]) != "hello" {
		t.Errorf("read %q", buf[:n])
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Write: %v", err)
	}
	f.Close()
	if fi, err := fsys.Stat(ctx, "/dir/a.txt"); err != nil || fi.Size() != 5 {
		t.Errorf("Stat: %v %v", fi, err)
	}
	if fi, err := fsys.Stat(ctx, "/"); err != nil || !fi.IsDir() {
		t.Errorf("Stat /: %v %v", fi, err)
	}
	if _, err := fsys.OpenFile(ctx, "/nope", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile missing: %v", err)
	}
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_CREATE, os.O_RDONLY | os.O_TRUNC} {
		if _, err := fsys.OpenFile(ctx, "/dir/a.txt", flag, 0); !errors.Is(err, os.ErrPermission) {
			t.Errorf("OpenFile flag %#x: %v", flag, err)
		}
	}
	for name, err := range map[string]error{
		"Mkdir":     fsys.Mkdir(ctx, "/new", 0o755),
		"RemoveAll": fsys.RemoveAll(ctx, "/dir"),
		"Rename":    fsys.Rename(ctx, "/dir/a.txt", "/b.txt"),
	} {
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
