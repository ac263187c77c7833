package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/onnxserve/onnxserve/runtime"
)

// version is set at link time for a release build, as
// -ldflags "-X main.version=v1.2.0"; without it the build's own record
// (module version, VCS revision) is reported.
var version = ""

// buildVersion is onnxserve's version: the linked-in one, else the
// module's and, for a build from a checkout, the commit it was built from.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" && (v == "" || v == "(devel)") {
		v = "commit " + rev[:min(len(rev), 12)] + modified
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " (" + info.GoVersion + ")"
}

// printVersion is `onnxserve version`: onnxserve's version, then the ONNX
// Runtime library serve would load (ORT_LIB or the cache) and its version,
// loaded to ask it; a library that does not load is the error.
func printVersion(stdout io.Writer) error {
	fmt.Fprintf(stdout, "onnxserve %s\n", buildVersion())
	lib, err := runtime.FindLibrary(projectRoot())
	if err != nil {
		return err
	}
	if err := initORT(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	defer runtime.Shutdown()
	_, err = fmt.Fprintf(stdout, "onnx runtime %s (%s)\n", runtime.Version(), lib)
	return err
}

// printConfig is `onnxserve config`: the serve flags settled as serve
// would settle them (and checked as serve checks them), printed as YAML.
func printConfig(args []string, stdout io.Writer) error {
	f, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	out, err := f.settings.effective()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
