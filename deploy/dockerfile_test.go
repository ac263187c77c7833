package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A dockerfile is the parts of ../Dockerfile the build and the lint read:
// the global ARGs and each stage's instructions, continuation lines joined.
type dockerfile struct {
	args   map[string]string // ARG defaults before the first FROM
	stages []*stage
}

type stage struct {
	name  string // the AS name, or its index
	from  string // the image, global ARGs substituted
	instr []instruction
}

type instruction struct {
	cmd  string // upper case: RUN, COPY, ENV, ...
	args string // the rest of the line
	line int
}

func parseDockerfile(path string) (*dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &dockerfile{args: map[string]string{}}
	sc := bufio.NewScanner(f)
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		if err := d.add(cur.String(), start); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, start, err)
		}
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: instruction continued past the end", path, start)
	}
	return d, sc.Err()
}

func (d *dockerfile) add(text string, line int) error {
	cmd, args, _ := strings.Cut(text, " ")
	cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
	switch {
	case cmd == "FROM":
		image, name, _ := strings.Cut(args, " AS ")
		s := &stage{name: strings.TrimSpace(name), from: d.expand(strings.TrimSpace(image))}
		if s.name == "" {
			s.name = fmt.Sprint(len(d.stages))
		}
		d.stages = append(d.stages, s)
	case len(d.stages) == 0 && cmd == "ARG":
		k, v, _ := strings.Cut(args, "=")
		d.args[k] = v
	case len(d.stages) == 0:
		return fmt.Errorf("%s before the first FROM", cmd)
	default:
		s := d.stages[len(d.stages)-1]
		s.instr = append(s.instr, instruction{cmd, args, line})
	}
	return nil
}

// expand substitutes ${NAME} and $NAME from the global ARGs.
func (d *dockerfile) expand(s string) string {
	return os.Expand(s, func(k string) string { return d.args[k] })
}

func (d *dockerfile) stage(name string) *stage {
	for _, s := range d.stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (s *stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instr {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last is the stage's last cmd instruction, as Docker keeps only that one
// of CMD, ENTRYPOINT, USER and HEALTHCHECK.
func (s *stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// stageArgs are a stage's ARG defaults, which its RUN steps see as
// environment variables.
func (s *stage) stageArgs() map[string]string {
	out := map[string]string{}
	for _, in := range s.all("ARG") {
		k, v, _ := strings.Cut(in.args, "=")
		out[k] = strings.Trim(v, `"`)
	}
	return out
}

// env is a stage's ENV, in the KEY=VALUE form (several per instruction).
func (s *stage) env() (map[string]string, error) {
	out := map[string]string{}
	re := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)\s*`)
	for _, in := range s.all("ENV") {
		rest := in.args
		for rest != "" {
			m := re.FindStringSubmatch(rest)
			if m == nil {
				return nil, fmt.Errorf("Dockerfile:%d: ENV %q: want KEY=VALUE pairs", in.line, in.args)
			}
			out[m[1]] = strings.Trim(m[2], `"`)
			rest = rest[len(m[0]):]
		}
	}
	return out, nil
}

// execForm reads an instruction's JSON (exec) form, ["a", "b"].
func execForm(in instruction) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(in.args), &out); err != nil {
		return nil, fmt.Errorf("Dockerfile:%d: %s %s: want the exec form [\"...\"]: %w", in.line, in.cmd, in.args, err)
	}
	return out, nil
}

// copyStep is one COPY: its sources and destination, and the stage it
// copies from ("" for the build context).
type copyStep struct {
	from    string
	sources []string
	dest    string
	line    int
}

func (s *stage) copies() []copyStep {
	var out []copyStep
	for _, in := range s.all("COPY") {
		var c copyStep
		c.line = in.line
		fields := strings.Fields(in.args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			if v, ok := strings.CutPrefix(fields[0], "--from="); ok {
				c.from = v
			}
			fields = fields[1:]
		}
		if len(fields) >= 2 {
			c.sources, c.dest = fields[:len(fields)-1], fields[len(fields)-1]
		}
		out = append(out, c)
	}
	return out
}

// repoRoot is the server's repository, the Docker build context.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}
