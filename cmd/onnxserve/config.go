package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is where a serve flag gets its value: the command line, the
// environment (ONNXSERVE_<FLAG>), the --config file (the flag's name as
// key), or its default, in that order, each flag from exactly one of them.
// It works over whatever flags parseServeFlags defines (flag.VisitAll),
// so a new flag needs nothing here.

// origin says where a flag's value came from.
type origin string

const (
	fromFlag    origin = "flag"
	fromEnv     origin = "env"
	fromFile    origin = "file"
	fromDefault origin = "default"
)

// configFlag names the flag that names the config file; it cannot be set
// from inside the file.
const configFlag = "config"

// settings is the outcome of settle: the parsed flag set, the config file
// read (or "") and each flag's origin.
type settings struct {
	fs      *flag.FlagSet
	file    string
	origins map[string]origin
}

// helpRequested is the answer to --help or -h: the text to print on
// stdout, and exit 0.
type helpRequested struct{ text string }

func (h *helpRequested) Error() string { return "help requested" }

// envName is the environment variable a flag can be set from.
func envName(flag string) string {
	return "ONNXSERVE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// settle parses args into fs, then gives every flag not on the command
// line its value from the environment (env looks a name up), else from
// the config file named by --config or ONNXSERVE_CONFIG.
func settle(fs *flag.FlagSet, args []string, env func(string) (string, bool)) (*settings, error) {
	return settleSharing(fs, args, env, nil)
}

// settleSharing is settle for a command that reads a config file made for
// another: keys that shared names (another command's flags) are skipped,
// and any other key that fs lacks is still an error.
func settleSharing(fs *flag.FlagSet, args []string, env func(string) (string, bool), shared func(name string) bool) (*settings, error) {
	// The flag package's own messages would go to stderr beside ours; its
	// errors carry the same text.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &helpRequested{text: serveUsage(fs)}
		}
		return nil, fmt.Errorf("%w (onnxserve %s --help lists the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	s := &settings{fs: fs, origins: map[string]origin{}}
	fs.Visit(func(f *flag.Flag) { s.origins[f.Name] = fromFlag })
	var errs []error
	set := func(f *flag.Flag, from origin) {
		if _, done := s.origins[f.Name]; done {
			return
		}
		// An empty variable of a repeatable flag (the API keys) sets
		// nothing, as an empty list: a Secret left empty must not drop the
		// config file's keys, and so open the server to anyone.
		if v, ok := env(envName(f.Name)); ok && (v != "" || !repeatable(f.Value)) {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
			s.origins[f.Name] = fromEnv
			return
		}
		s.origins[f.Name] = from
	}
	if cf := fs.Lookup(configFlag); cf != nil {
		set(cf, fromDefault)
		s.file = cf.Value.String()
	}
	var file map[string]*yaml.Node
	if s.file != "" {
		var err error
		if file, err = readConfigFile(fs, s.file, shared); err != nil {
			return nil, err
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if _, done := s.origins[f.Name]; done {
			return
		}
		set(f, fromDefault)
		if n, ok := file[f.Name]; ok && s.origins[f.Name] == fromDefault {
			if err := setFromNode(f, n); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", s.file, n.Line, f.Name, err))
			}
			s.origins[f.Name] = fromFile
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// readConfigFile reads path's top-level mapping of flag names to values.
// A key that names no flag is an error, so that a typo cannot silently
// leave a setting at its default; one that shared names (nil: none) is
// left out.
func readConfigFile(fs *flag.FlagSet, path string, shared func(string) bool) (map[string]*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file sets nothing
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of flag names to values, as `addr: \":8080\"`", path, root.Line)
	}
	out := make(map[string]*yaml.Node, len(root.Content)/2)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		switch {
		case name == configFlag:
			return nil, fmt.Errorf("%s:%d: %s cannot be set inside a config file", path, k.Line, configFlag)
		case fs.Lookup(name) == nil && shared != nil && shared(name):
			continue
		case fs.Lookup(name) == nil:
			msg := fmt.Sprintf("%s:%d: unknown key %q: no serve flag has this name", path, k.Line, name)
			if near := nearestFlag(fs, name); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			return nil, errors.New(msg)
		case out[name] != nil:
			return nil, fmt.Errorf("%s:%d: %s appears twice (first on line %d)", path, k.Line, name, out[name].Line)
		}
		out[name] = v
	}
	return out, nil
}

// setFromNode sets f from a YAML value: a scalar, or for a repeatable
// flag a list of scalars, each Set in turn.
func setFromNode(f *flag.Flag, n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return errors.New("has no value (delete the key for the default, or write \"\" for an empty one)")
		}
		return set(f, n.Value)
	case yaml.SequenceNode:
		if !repeatable(f.Value) {
			return errors.New("takes one value, not a list")
		}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return fmt.Errorf("line %d: want a list of values", item.Line)
			}
			if err := set(f, item.Value); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("want a value or, for a repeatable flag, a list, not a mapping")
}

// set sets one value, naming it when it does not parse: the flag
// package's own errors say only "parse error".
func set(f *flag.Flag, v string) error {
	if err := f.Value.Set(v); err != nil {
		return fmt.Errorf("invalid value %q: %w", v, err)
	}
	return nil
}

// repeatable says whether a flag's value collects every Set (e.g.
// --api-key given twice): its value is a slice type, or it says so with a
// Repeatable method. Only such flags take YAML lists.
func repeatable(v flag.Value) bool {
	if r, ok := v.(interface{ Repeatable() bool }); ok {
		return r.Repeatable()
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Slice
}

// values are a flag's current values: one, or a repeatable flag's each.
func values(v flag.Value) []string {
	if !repeatable(v) {
		return []string{v.String()}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Slice {
		return []string{v.String()}
	}
	out := make([]string, rv.Elem().Len())
	for i := range out {
		out[i] = fmt.Sprint(rv.Elem().Index(i).Interface())
	}
	return out
}

// secret says whether a flag's value must not be shown: a word of its
// name is key, keys, token, secret or password, except for flags that name
// a file (tls-key, api-keys-file), whose path is no secret.
func secret(name string) bool {
	words := strings.Split(name, "-")
	if words[0] == "tls" || words[len(words)-1] == "file" {
		return false
	}
	for _, w := range words {
		switch w {
		case "key", "keys", "token", "secret", "password":
			return true
		}
	}
	return false
}

// nearestFlag is the flag name closest to a misspelt one (at most two
// edits, underscores read as dashes), or "".
func nearestFlag(fs *flag.FlagSet, name string) string {
	name = strings.ReplaceAll(name, "_", "-")
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// serveUsage is `onnxserve serve --help`: every flag with its type, what
// it does, its environment variable and its default.
func serveUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: onnxserve %s [flags]\n\n", fs.Name())
	b.WriteString("Each flag can also be set in the environment, by the name shown, or in the\n" +
		"--config YAML file, under the flag's own name (a list for a repeatable flag).\n" +
		"The command line wins over the environment, which wins over the file.\n\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			typ = "bool"
		}
		if repeatable(f.Value) {
			typ += " (repeatable)"
		}
		fmt.Fprintf(&b, "  --%s\n", strings.TrimSpace(f.Name+" "+typ))
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(&b, "        %s\n", line)
		}
		def := "none"
		if f.DefValue != "" && f.DefValue != "[]" {
			def = fmt.Sprintf("%q", f.DefValue)
		}
		fmt.Fprintf(&b, "        env %s, default %s\n", envName(f.Name), def)
	})
	return b.String()
}

// masked stands in for a secret's value in `onnxserve config`.
const masked = "***"

// effective is `onnxserve config`: every flag but --config with its value
// and, as a line comment, where it came from; secrets masked. With the
// secrets put back, the output is itself a config file.
func (s *settings) effective() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	anySecret := false
	s.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		vals := values(f.Value)
		if secret(f.Name) {
			anySecret = anySecret || len(vals) > 0
			for i := range vals {
				vals[i] = masked
			}
		}
		var val *yaml.Node
		if repeatable(f.Value) {
			val = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, v := range vals {
				val.Content = append(val.Content, scalar(v))
			}
		} else {
			val = scalar(vals[0])
		}
		val.LineComment = string(s.origins[f.Name])
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, val)
	})
	head := "effective configuration of onnxserve serve; each value's comment says where it came from\n(flag, env, file or default)"
	if s.file != "" {
		head += "; config file " + s.file
	}
	if anySecret {
		head += "; secrets shown as " + masked
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: head, Content: []*yaml.Node{root}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// scalar is a YAML node for a flag's value, written plain (100, true,
// 2s) except "", which plain would read back as null.
func scalar(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	if v == "" {
		n.Tag = "!!str"
	}
	return n
}
