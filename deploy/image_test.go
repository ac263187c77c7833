package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The image is built here without a Docker engine: the Dockerfile's build
// stage is run as a script, each RUN step verbatim in the repository (the
// build context, which its COPY steps copy whole), with every path that a
// later stage copies out of the stage (/rootfs) moved into a temporary
// directory. That directory is then the image's root as the final stage
// lays it: ENV paths, the ENTRYPOINT and the HEALTHCHECK are read from the
// Dockerfile and rooted there. A step that fails, a COPY of something never
// built, an ENV path that is not in the image fail make test.

// imageOnce builds the image root once per test binary; TestMain removes it.
var (
	imageOnce sync.Once
	imageDir  string
	imageErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageDir != "" {
		os.RemoveAll(imageDir)
	}
	os.Exit(code)
}

// image is the built image: its root and the Dockerfile it came from.
type image struct {
	root  string
	df    *dockerfile
	final *stage
}

func builtImage(t *testing.T) *image {
	t.Helper()
	df, err := parseDockerfile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	imageOnce.Do(func() {
		imageDir, imageErr = os.MkdirTemp("", "onnxserve-image-")
		if imageErr == nil {
			imageErr = buildImage(df, repoRoot(t), imageDir)
		}
	})
	if imageErr != nil {
		t.Fatalf("building the image's root from the Dockerfile: %v", imageErr)
	}
	return &image{root: imageDir, df: df, final: df.stages[len(df.stages)-1]}
}

// buildImage runs the stages the final stage copies from into root.
func buildImage(df *dockerfile, repo, root string) error {
	final := df.stages[len(df.stages)-1]
	for _, c := range final.copies() {
		if c.from == "" {
			return fmt.Errorf("Dockerfile:%d: the final stage copies from the build context; build its files in a stage", c.line)
		}
		if c.dest != "/" || len(c.sources) != 1 {
			return fmt.Errorf("Dockerfile:%d: the final stage copies one stage root onto /, got %v to %s", c.line, c.sources, c.dest)
		}
		st := df.stage(c.from)
		if st == nil {
			return fmt.Errorf("Dockerfile:%d: no stage %q", c.line, c.from)
		}
		if err := runStage(st, repo, strings.TrimSuffix(c.sources[0], "/"), root); err != nil {
			return err
		}
	}
	return nil
}

// aptInstall finds the packages of an apt-get install step.
var aptInstall = regexp.MustCompile(`apt-get install((?:\s+[^&|;\s]+)+)`)

// runStage runs st's RUN steps in repo with out (the stage's path the final
// stage copies) moved to root; its apt-get steps are checked, not run.
func runStage(st *stage, repo, out, root string) error {
	env := os.Environ()
	env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "ORT_LIB=") })
	for k, v := range st.stageArgs() {
		env = append(env, k+"="+v)
	}
	for _, in := range st.instr {
		if in.cmd != "RUN" {
			continue
		}
		if m := aptInstall.FindStringSubmatch(in.args); m != nil {
			// The build stage's packages are this machine's own, never
			// installed into it by a test: each must be there, as a
			// Debian package or a command of its name (npm comes with
			// some Node.js builds); the steps after it use them.
			for _, p := range strings.Fields(m[1]) {
				if strings.HasPrefix(p, "-") {
					continue
				}
				st, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
				if _, lerr := exec.LookPath(p); lerr != nil && (err != nil || !strings.Contains(string(st), "install ok installed")) {
					return fmt.Errorf("Dockerfile:%d: the build stage installs %s, which this machine lacks: apt-get install %s", in.line, p, p)
				}
			}
			continue
		}
		script := strings.ReplaceAll(in.args, out+"/", root+"/")
		script = regexp.MustCompile(regexp.QuoteMeta(out)+`\b`).ReplaceAllString(script, root)
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir, cmd.Env = repo, env
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("Dockerfile:%d: RUN %s (run as %q): %w\n%s", in.line, in.args, script, err, b)
		}
	}
	return nil
}

// rooted is an image path in the built root.
func (im *image) rooted(p string) string { return filepath.Join(im.root, p) }

// env is the final stage's ENV with its absolute paths rooted.
func (im *image) env(t *testing.T) map[string]string {
	t.Helper()
	env, err := im.final.env()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		if strings.HasPrefix(v, "/") {
			env[k] = im.rooted(v)
		}
	}
	return env
}

// binary is the server in the image.
func (im *image) binary(t *testing.T) string {
	t.Helper()
	in, ok := im.final.last("ENTRYPOINT")
	if !ok {
		t.Fatal("Dockerfile: no ENTRYPOINT")
	}
	ep, err := execForm(in)
	if err != nil {
		t.Fatal(err)
	}
	return im.rooted(ep[0])
}

// TestDockerfileLint pins what the image must be, each rule read from the
// Dockerfile as Docker reads it.
func TestDockerfileLint(t *testing.T) {
	repo := repoRoot(t)
	df, err := parseDockerfile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a slim final one", len(df.stages))
	}
	final := df.stages[len(df.stages)-1]
	goMod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	dockerignore, _ := os.ReadFile(filepath.Join(repo, ".dockerignore"))

	t.Run("every base image is pinned to a version", func(t *testing.T) {
		for _, s := range df.stages {
			name, tag, ok := strings.Cut(s.from, ":")
			if strings.Contains(s.from, "@sha256:") {
				continue
			}
			if !ok || tag == "latest" || !regexp.MustCompile(`\d`).MatchString(tag) || name == "" {
				t.Errorf("stage %s: FROM %s: pin a version (or a digest)", s.name, s.from)
			}
		}
	})
	t.Run("the Go builder is go.mod's Go", func(t *testing.T) {
		b := df.stages[0]
		if goVersion == nil || !strings.HasPrefix(b.from, "golang:"+string(goVersion[1])+"-") {
			t.Errorf("FROM %s: want golang:%s-<debian>, the go line of go.mod", b.from, goVersion[1])
		}
	})
	t.Run("the runtime's glibc is the builder's Debian release", func(t *testing.T) {
		// The binary links against the builder's glibc: a base of an older
		// release could lack its symbols.
		releases := map[string]string{"bookworm": "12", "trixie": "13"}
		codename := df.stages[0].from[strings.LastIndex(df.stages[0].from, "-")+1:]
		want := "debian:" + releases[codename] + "."
		if !strings.HasPrefix(final.from, want) {
			t.Errorf("final FROM %s: want %s<point>-slim, the builder's %s", final.from, want, codename)
		}
	})
	t.Run("every COPY source exists", func(t *testing.T) {
		for _, s := range df.stages {
			for _, c := range s.copies() {
				if len(c.sources) == 0 {
					t.Errorf("Dockerfile:%d: COPY without source and destination", c.line)
				}
				if c.from != "" {
					if df.stage(c.from) == nil {
						t.Errorf("Dockerfile:%d: COPY --from=%s: no such stage", c.line, c.from)
					}
					continue // built: TestImageBuild checks it
				}
				for _, src := range c.sources {
					if m, _ := filepath.Glob(filepath.Join(repo, src)); len(m) == 0 {
						t.Errorf("Dockerfile:%d: COPY %s: not in the repository", c.line, src)
					}
				}
			}
		}
	})
	t.Run("the final stage runs nothing and has no shell form", func(t *testing.T) {
		if r := final.all("RUN"); len(r) > 0 {
			t.Errorf("Dockerfile:%d: RUN in the final stage: build it in the build stage, so that make test runs it", r[0].line)
		}
		for _, cmd := range []string{"ENTRYPOINT", "CMD"} {
			in, ok := final.last(cmd)
			if !ok {
				t.Errorf("no %s", cmd)
				continue
			}
			if _, err := execForm(in); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("USER is numeric and not root", func(t *testing.T) {
		in, ok := final.last("USER")
		if !ok || in.args != "1000:1000" {
			t.Errorf("USER %q: want 1000:1000 (numeric, so runAsNonRoot can check it)", in.args)
		}
	})
	t.Run("HEALTHCHECK runs onnxserve health", func(t *testing.T) {
		in, ok := final.last("HEALTHCHECK")
		if !ok {
			t.Fatal("no HEALTHCHECK")
		}
		_, form, ok := strings.Cut(in.args, "CMD ")
		hc, err := execForm(instruction{cmd: "HEALTHCHECK CMD", args: form, line: in.line})
		if !ok || err != nil || len(hc) < 2 || filepath.Base(hc[0]) != "onnxserve" || hc[1] != "health" {
			t.Errorf("HEALTHCHECK %s: want CMD [\".../onnxserve\", \"health\"] (%v)", in.args, err)
		}
	})
	t.Run(".dockerignore keeps caches and the git directory out of the context", func(t *testing.T) {
		lines := strings.Split(string(dockerignore), "\n")
		for _, want := range []string{".cache", ".git", "bin"} {
			if !slices.Contains(lines, want) {
				t.Errorf(".dockerignore lacks %s", want)
			}
		}
	})
	t.Run("EXPOSE is the ports serve listens on by default", func(t *testing.T) {
		im := builtImage(t)
		cfg := config(t, im.binary(t), nil, im.env(t))
		var want []string
		for _, flag := range []string{"addr", "grpc-addr"} {
			want = append(want, port(t, cfg[flag]))
		}
		in, _ := final.last("EXPOSE")
		if got := strings.Fields(in.args); !slices.Equal(got, want) {
			t.Errorf("EXPOSE %v: serve listens on %v", got, want)
		}
	})
}

// TestImageBuild runs the build and checks the image's files: every ENV
// path, the ENTRYPOINT, the library ORT_LIB names and the locale LANG names.
func TestImageBuild(t *testing.T) {
	im := builtImage(t)
	env := im.env(t)
	for k, v := range env {
		if strings.HasPrefix(v, im.root) {
			if _, err := os.Stat(v); err != nil {
				t.Errorf("ENV %s: %v", k, err)
			}
		}
	}
	if st, err := os.Stat(im.binary(t)); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("ENTRYPOINT: %v", err)
	}
	if loc := filepath.Join(env["LOCPATH"], env["LANG"], "LC_CTYPE"); !fileExists(loc) {
		t.Errorf("LANG=%s: %s is not in the image", env["LANG"], loc)
	}
}

// TestImageServes starts the image's ENTRYPOINT and CMD with its ENV, as a
// container would, and waits for its HEALTHCHECK command to pass.
func TestImageServes(t *testing.T) {
	im := builtImage(t)
	env := im.env(t)
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	env["ONNXSERVE_ADDR"], env["ONNXSERVE_GRPC_ADDR"] = httpAddr, grpcAddr
	in, _ := im.final.last("CMD")
	args, err := execForm(in)
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, im.binary(t), args, env)
	hcIn, _ := im.final.last("HEALTHCHECK")
	_, form, _ := strings.Cut(hcIn.args, "CMD ")
	hc, err := execForm(instruction{cmd: "HEALTHCHECK CMD", args: form, line: hcIn.line})
	if err != nil {
		t.Fatal(err)
	}
	hc[0] = im.rooted(hc[0])
	var out []byte
	srv.up(t, "the HEALTHCHECK passes", func() bool {
		cmd := exec.Command(hc[0], hc[1:]...)
		cmd.Env = environ(env)
		out, err = cmd.CombinedOutput()
		return err == nil
	})
	if !strings.HasPrefix(string(out), "ready: http://"+httpAddr) {
		t.Errorf("HEALTHCHECK printed %q", out)
	}
	for _, path := range []string{"/v2/models/iris/ready", "/v2/models/digits/ready", "/v2/models/tabular/ready"} {
		if code := httpGet(t, "http://"+httpAddr+path); code != 200 {
			t.Errorf("the image's model %s: %d", path, code)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

func portNumber(t *testing.T, addr string) int32 {
	t.Helper()
	n, err := strconv.Atoi(port(t, addr))
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

// eventually polls ok until it holds, for at most two minutes: a loaded
// machine starts a server slowly, and only a server that never comes up
// fails.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestImageLocale pins the locale the image carries for string models: a
// StringNormalizer model (deploy/testdata/normalize, made by
// scripts/export_models.py, which wrote Python's lower() of its inputs
// beside it) loads with the image's LOCPATH alone and lowers as Python
// does, and fails to load with an empty LOCPATH: the model does need it.
func TestImageLocale(t *testing.T) {
	im := builtImage(t)
	models, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("without the image's locale the model does not load", func(t *testing.T) {
		env := im.env(t)
		env["LOCPATH"] = t.TempDir()
		cmd := exec.Command(im.binary(t), "serve", "--models", models, "--addr", freeAddr(t), "--grpc-addr", "")
		cmd.Env = environ(env)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "normalize") {
			t.Fatalf("served with no locale: %v\n%s", err, out)
		}
	})
	t.Run("with it, the model lowers as Python does", func(t *testing.T) {
		env := im.env(t)
		addr := freeAddr(t)
		srv := start(t, im.binary(t), []string{"serve", "--models", models, "--addr", addr, "--grpc-addr", ""}, env)
		srv.up(t, "the server is ready", func() bool { return httpGet(t, "http://"+addr+"/v2/health/ready") == 200 })
		var expected struct {
			Cases []struct {
				Inputs  map[string][]string `json:"inputs"`
				Outputs map[string][]string `json:"outputs"`
			} `json:"cases"`
		}
		b, err := os.ReadFile("testdata/normalize/expected.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &expected); err != nil {
			t.Fatal(err)
		}
		for _, c := range expected.Cases {
			in := c.Inputs["text"]
			body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "text", "datatype": "BYTES", "shape": []int{len(in)}, "data": in}}})
			res, err := http.Post("http://"+addr+"/v2/models/normalize/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Outputs []struct {
					Name string   `json:"name"`
					Data []string `json:"data"`
				} `json:"outputs"`
			}
			err = json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
			if err != nil || len(got.Outputs) != 1 || !slices.Equal(got.Outputs[0].Data, c.Outputs["lower"]) {
				t.Errorf("lower(%q): %+v (%v), want %q", in, got, err, c.Outputs["lower"])
			}
		}
	})
}
