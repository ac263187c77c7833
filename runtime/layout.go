package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The repository's layouts. Every rule about which files make which model
// lives in this file; loads, polls, the index and unload all ask it.
//
//	DIR/NAME/model.onnx          model NAME, one version, called "1"
//	DIR/NAME/<int>/model.onnx    versioned; the highest is the default
//	DIR/NAME/config.yaml         optional, shared by all versions
//	DIR/NAME.onnx                a bare file: model NAME, version "1", no config
//
// DIR is one model when it holds model.onnx itself, as KServe's storage
// initializer leaves it in /mnt/models, or whenever a model name is given
// (--model-name): then DIR/model.onnx, DIR/<int>/model.onnx or a single
// DIR/NAME.onnx is that model, DIR/config.yaml its config, and the model is
// called by the name given, else after DIR.
//
// The layout is read again at every scan, so a poll follows a directory
// that turns from one layout into another.

// A source is where one model's files are.
type source struct {
	name string
	// dir holds config.yaml and the version directories; a bare file's
	// dir is the repository.
	dir string
	// file is a bare model file in dir, served as version "1"; empty for
	// model.onnx and <int>/model.onnx.
	file string
	// config is whether dir/config.yaml is this model's: a repository's
	// own config.yaml belongs to none of its bare files.
	config bool
	// err is why the files cannot be one model (two sources of one name,
	// several bare files for one model); a load reports it.
	err error
}

// modelFile is the file name of an unversioned model and of each version.
const modelFile = "model.onnx"

// scanSources lists the models dir holds, in name order; name, when set,
// makes dir one model of that name.
func scanSources(dir, name string) ([]source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	if name == "" && isFile(filepath.Join(dir, modelFile)) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("model repository: %w", err)
		}
		name = filepath.Base(abs)
	}
	if name != "" {
		return []source{oneModel(dir, name, ents)}, nil
	}
	byName := map[string]source{}
	for _, e := range ents {
		var s source
		switch n := e.Name(); {
		case strings.HasPrefix(n, "."):
			continue
		case e.IsDir():
			s = source{name: n, dir: filepath.Join(dir, n), config: true}
		case bareName(n) != "" && isFile(filepath.Join(dir, n)):
			s = source{name: bareName(n), dir: dir, file: n}
		default:
			continue
		}
		if prev, ok := byName[s.name]; ok {
			s.err = fmt.Errorf("%w: both %s and %s are model %q: keep one", ErrBadModel,
				prev.describe(), s.describe(), s.name)
		}
		byName[s.name] = s
	}
	out := make([]source, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b source) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// oneModel is dir as one model called name.
func oneModel(dir, name string, ents []os.DirEntry) source {
	s := source{name: name, dir: dir, config: true}
	if isFile(filepath.Join(dir, modelFile)) || len(versionNumbers(dir, ents)) > 0 {
		return s
	}
	var bare []string
	for _, e := range ents {
		if bareName(e.Name()) != "" && !strings.HasPrefix(e.Name(), ".") && isFile(filepath.Join(dir, e.Name())) {
			bare = append(bare, e.Name())
		}
	}
	switch len(bare) {
	case 0:
	case 1:
		s.file = bare[0]
	default:
		s.err = fmt.Errorf("%w: %s is the one model %q, but holds %s and no %s: keep one", ErrBadModel,
			dir, name, strings.Join(bare, ", "), modelFile)
	}
	return s
}

// bareName is the model name of a bare model file, or "" for any other
// file (model.onnx is no model called "model": it makes its directory one).
func bareName(file string) string {
	if file == modelFile || !strings.HasSuffix(file, ".onnx") {
		return ""
	}
	return strings.TrimSuffix(file, ".onnx")
}

func (s source) describe() string {
	if s.file != "" {
		return s.file
	}
	return filepath.Base(s.dir) + string(filepath.Separator)
}

// isFile follows symlinks, as Kubernetes volumes are made of them.
func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// versionNumber reads a version directory's name: a non-negative integer
// written canonically, so that "01" is not served as version 1 while the
// poller watches a different path.
func versionNumber(e os.DirEntry) (int64, bool) {
	n, err := strconv.ParseInt(e.Name(), 10, 64)
	return n, err == nil && n >= 0 && e.IsDir() && strconv.FormatInt(n, 10) == e.Name()
}

// versionNumbers lists the versions under dir that hold a model file,
// ascending.
func versionNumbers(dir string, ents []os.DirEntry) []int64 {
	var nums []int64
	for _, e := range ents {
		if n, ok := versionNumber(e); ok && isFile(filepath.Join(dir, e.Name(), modelFile)) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums
}

// versions lists the source's model files by version, ascending: a bare
// file or model.onnx is version "1", else every <int>/model.onnx.
func (s source) versions() ([]string, []string, error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.file != "" {
		return []string{"1"}, []string{filepath.Join(s.dir, s.file)}, nil
	}
	if isFile(filepath.Join(s.dir, modelFile)) {
		return []string{"1"}, []string{filepath.Join(s.dir, modelFile)}, nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, err
	}
	nums := versionNumbers(s.dir, ents)
	if len(nums) == 0 {
		return nil, nil, fmt.Errorf("%s: no %s and no <version>/%s", s.dir, modelFile, modelFile)
	}
	var versions, paths []string
	for _, n := range nums {
		v := strconv.FormatInt(n, 10)
		versions = append(versions, v)
		paths = append(paths, filepath.Join(s.dir, v, modelFile))
	}
	return versions, paths, nil
}

// configPath is the source's config.yaml, or "" when it has none.
func (s source) configPath() string {
	if !s.config {
		return ""
	}
	return filepath.Join(s.dir, "config.yaml")
}

// candidates lists, relative to dir, every file a load of the source could
// read, present or not: what its fingerprint is taken of.
func (s source) candidates() ([]string, error) {
	var rels []string
	if s.config {
		rels = append(rels, "config.yaml")
	}
	if s.file != "" {
		return append(rels, s.file), nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	rels = append(rels, modelFile)
	for _, e := range ents {
		if _, ok := versionNumber(e); ok {
			rels = append(rels, filepath.Join(e.Name(), modelFile))
		}
	}
	slices.Sort(rels)
	return rels, nil
}
