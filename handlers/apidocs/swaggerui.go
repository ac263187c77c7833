package apidocs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"sync"

	swaggerFiles "github.com/swaggo/files/v2"
	"golang.org/x/net/webdav"
)

// The Swagger UI's static files (Swagger UI 5) come from swaggo/files/v2,
// an embed.FS, so only the pages a browser fetches are ever resident.
// swaggo/files v1 copies every asset into memory at init: measured, 18–20 MB
// more resident memory per process. gin-swagger wants a *webdav.Handler, so
// readOnlyFS serves the fs.FS through webdav's FileSystem interface.

// swaggerUIFiles is the webdav.Handler that gin-swagger serves the UI's
// static files through; gin-swagger sets its Prefix on the first request.
func swaggerUIFiles() *webdav.Handler {
	return &webdav.Handler{FileSystem: newReadOnlyFS(swaggerFiles.FS), LockSystem: webdav.NewMemLS()}
}

// readOnlyFS is a webdav.FileSystem over an fs.FS: files open and stat;
// anything that would write fails with os.ErrPermission.
type readOnlyFS struct {
	fsys fs.FS
	// etags caches each file's ETag, a hash of its content: embed.FS
	// files have no modification time, from which webdav would otherwise
	// make the ETag (with the size), so a new UI build of the same size
	// would look unchanged to a browser's cache.
	etags *sync.Map
}

func newReadOnlyFS(fsys fs.FS) readOnlyFS { return readOnlyFS{fsys: fsys, etags: new(sync.Map)} }

func (r readOnlyFS) OpenFile(_ context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: os.ErrPermission}
	}
	// http.FS gives the fs.File the Seek and Readdir that webdav.File
	// (an http.File) needs; embed.FS files implement io.Seeker.
	f, err := http.FS(r.fsys).Open(path.Clean("/" + name))
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f, name, r}, nil
}

func (r readOnlyFS) Stat(_ context.Context, name string) (os.FileInfo, error) {
	return fs.Stat(r.fsys, fsName(name))
}

func (readOnlyFS) Mkdir(_ context.Context, name string, _ os.FileMode) error {
	return &fs.PathError{Op: "mkdir", Path: name, Err: os.ErrPermission}
}

func (readOnlyFS) RemoveAll(_ context.Context, name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
}

func (readOnlyFS) Rename(_ context.Context, oldName, _ string) error {
	return &fs.PathError{Op: "rename", Path: oldName, Err: os.ErrPermission}
}

// fsName turns webdav's slash-rooted name into an fs.FS one ("/a/b" is
// "a/b", "/" is ".").
func fsName(name string) string {
	name = path.Clean("/" + name)
	if name == "/" {
		return "."
	}
	return name[1:]
}

// readOnlyFile is an http.File with the Write of a webdav.File, which
// fails, and a Stat whose FileInfo has an ETag (webdav.ETager).
type readOnlyFile struct {
	http.File
	name string
	fsys readOnlyFS
}

func (f readOnlyFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil || fi.IsDir() {
		return fi, err
	}
	return etagInfo{fi, f.name, f.fsys}, nil
}

type etagInfo struct {
	fs.FileInfo
	name string
	fsys readOnlyFS
}

// ETag implements webdav.ETager: the first 16 bytes of the content's
// SHA-256, computed on a file's first request.
func (fi etagInfo) ETag(context.Context) (string, error) {
	if e, ok := fi.fsys.etags.Load(fi.name); ok {
		return e.(string), nil
	}
	f, err := fi.fsys.fsys.Open(fsName(fi.name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	e := `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	fi.fsys.etags.Store(fi.name, e)
	return e, nil
}

func (f readOnlyFile) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: os.ErrPermission}
}
