package deploy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// hpaMetrics lists the per-pod metrics the objects' autoscalers scale on.
func hpaMetrics(t *testing.T, objs []object) []string {
	t.Helper()
	var out []string
	for _, h := range only[autoscalingv2.HorizontalPodAutoscaler](t, objs) {
		for _, m := range h.Spec.Metrics {
			if m.Type == autoscalingv2.PodsMetricSourceType {
				out = append(out, m.Pods.Metric.Name)
			}
		}
	}
	return out
}

// pod is a container's file system and environment laid out in a
// temporary directory: each volume mount made from the rendered objects
// (ConfigMaps and Secrets written as files, a model volume filled with the
// given models), its paths in args and env moved under the directory.
type pod struct {
	dir  string
	args []string
	env  map[string]string
}

func layPod(t *testing.T, im *image, c *corev1.Container, volumes []corev1.Volume, objs []object, models func(dest string)) *pod {
	t.Helper()
	p := &pod{dir: t.TempDir(), env: im.env(t)}
	byName := map[string]corev1.Volume{}
	for _, v := range volumes {
		byName[v.Name] = v
	}
	var mounts []string
	for _, m := range c.VolumeMounts {
		dest := filepath.Join(p.dir, m.MountPath)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		mounts = append(mounts, m.MountPath)
		v := byName[m.Name]
		files := map[string]string{}
		switch {
		case v.ConfigMap != nil:
			for _, cm := range only[corev1.ConfigMap](t, objs) {
				if cm.Name == v.ConfigMap.Name {
					files = cm.Data
				}
			}
		case v.Secret != nil:
			for _, s := range only[corev1.Secret](t, objs) {
				if s.Name == v.Secret.SecretName {
					for k, b := range s.Data {
						files[k] = string(b)
					}
					for k, s := range s.StringData {
						files[k] = s
					}
				}
			}
		default: // a claim or an emptyDir: the models
			models(dest)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dest, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	moved := func(s string) string {
		for _, m := range mounts {
			if i := strings.Index(s, m); i >= 0 && (len(s) == i+len(m) || s[i+len(m)] == '/') {
				return s[:i] + filepath.Join(p.dir, m) + s[i+len(m):]
			}
		}
		return s
	}
	for _, a := range c.Args {
		p.args = append(p.args, moved(a))
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from %v: give it a value, or teach this test", e.Name, e.ValueFrom)
		}
		p.env[e.Name] = moved(e.Value)
	}
	return p
}

// checkFlags reads the pod's configuration with serve's own parser and
// checks it: every ONNXSERVE_ variable names a flag, every file a flag
// names is mounted, and the server listens on the container's ports. It
// then moves the server onto loopback ports, returns them and the
// configuration.
func (p *pod) checkFlags(t *testing.T, bin string, httpPort, grpcPort int32) (httpAddr, grpcAddr string, cfg map[string]string) {
	t.Helper()
	cfg = config(t, bin, serveArgs(t, p.args), p.env)
	for k := range p.env {
		if _, known := cfg[flagOf(k)]; strings.HasPrefix(k, "ONNXSERVE_") && !known {
			t.Errorf("%s: serve has no --%s", k, flagOf(k))
		}
	}
	for flag, v := range cfg {
		if strings.HasPrefix(v, "/") && !fileExists(v) {
			t.Errorf("--%s=%s: not in the container (mount it)", flag, v)
		}
	}
	if got := portNumber(t, cfg["addr"]); got != httpPort {
		t.Errorf("serve listens for HTTP on %d, the manifests say %d", got, httpPort)
	}
	if got := portNumber(t, cfg["grpc-addr"]); got != grpcPort {
		t.Errorf("serve listens for gRPC on %d, the manifests say %d", got, grpcPort)
	}
	httpAddr, grpcAddr = freeAddr(t), freeAddr(t)
	p.args = append(p.args, "--addr="+httpAddr, "--grpc-addr="+grpcAddr)
	return httpAddr, grpcAddr, cfg
}

func copyModels(t *testing.T) func(dest string) {
	return func(dest string) {
		if err := os.CopyFS(dest, os.DirFS(filepath.Join(repoRoot(t), "models"))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeploymentAgainstServer runs the server of the image with each
// rendered Deployment's arguments, environment and mounts, and asks it
// what the kubelet, the Service, the autoscaler and Prometheus would.
func TestDeploymentAgainstServer(t *testing.T) {
	im := builtImage(t)
	for _, dir := range kustomizations(t) {
		objs := render(t, dir)
		for _, d := range only[appsv1.Deployment](t, objs) {
			t.Run(dir, func(t *testing.T) {
				spec := d.Spec.Template.Spec
				c := &spec.Containers[0]
				p := layPod(t, im, c, spec.Volumes, objs, copyModels(t))
				httpAddr, grpcAddr, cfg := p.checkFlags(t, im.binary(t), containerPort(c, "http"), containerPort(c, "grpc"))
				checkTermination(t, d, cfg)
				srv := start(t, im.binary(t), p.args, p.env)

				service := ""
				if s := c.StartupProbe.GRPC.Service; s != nil {
					service = *s
				}
				srv.up(t, "the startup probe (grpc.health.v1) passes", func() bool {
					return grpcServing(t, grpcAddr, service)
				})
				for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if probe.HTTPGet == nil {
						t.Errorf("%s probe is not an HTTP GET", name)
						continue
					}
					if code := httpGet(t, "http://"+httpAddr+probe.HTTPGet.Path); code != 200 {
						t.Errorf("%s probe GET %s: %d", name, probe.HTTPGet.Path, code)
					}
				}
				ann := d.Spec.Template.Annotations
				if ann["prometheus.io/port"] != fmt.Sprint(containerPort(c, "http")) {
					t.Errorf("prometheus.io/port %s is not the HTTP port", ann["prometheus.io/port"])
				}
				code, body := httpBody(t, "http://"+httpAddr+ann["prometheus.io/path"])
				if code != 200 {
					t.Fatalf("GET %s: %d", ann["prometheus.io/path"], code)
				}
				for _, sm := range only[serviceMonitor](t, objs) {
					for _, ep := range sm.Spec.Endpoints {
						if code := httpGet(t, "http://"+httpAddr+ep.Path); code != 200 {
							t.Errorf("ServiceMonitor path %s: %d", ep.Path, code)
						}
					}
				}
				for _, m := range hpaMetrics(t, objs) {
					if !strings.Contains(body, "\n"+m+"{") {
						t.Errorf("the autoscaler scales on %s, which /metrics lacks", m)
					}
				}
				keys := checkKeys(t, httpAddr, objs)
				if dir == "kubernetes/base" {
					checkRollIn(t, srv, httpAddr, keys[0], cfg)
				}
			})
		}
	}
}

// checkTermination pins terminationGracePeriodSeconds against the server's
// drain: a preStop sleep if any, then --shutdown-delay (serving on, not
// ready), then --shutdown-grace (in-flight requests finish) must all fit
// before the kubelet kills the container.
func checkTermination(t *testing.T, d *appsv1.Deployment, cfg map[string]string) {
	t.Helper()
	var need time.Duration
	if l := d.Spec.Template.Spec.Containers[0].Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		need += time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	for _, flag := range []string{"shutdown-delay", "shutdown-grace"} {
		v, err := time.ParseDuration(cfg[flag])
		if err != nil {
			t.Errorf("--%s: %v", flag, err)
		}
		need += v
	}
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	if time.Duration(*g)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v: the drain needs %v, and a margin", *g, need)
	}
}

// TestServingRuntimeAgainstServer runs the server of the image as KServe
// would for each example InferenceService: the ServingRuntime's arguments
// with {{.Name}} filled in, the model at /mnt/models as the storage
// initializer leaves it, the ports the InferenceService declares.
func TestServingRuntimeAgainstServer(t *testing.T) {
	im := builtImage(t)
	defaults := config(t, im.binary(t), nil, im.env(t))
	rt := only[servingRuntime](t, render(t, "kserve"))[0]
	for _, is := range only[inferenceService](t, readManifests(t, "kserve/inferenceservice-*.yaml")) {
		t.Run(is.Name, func(t *testing.T) {
			c := *rt.Spec.Containers[0].DeepCopy()
			for i, a := range c.Args {
				c.Args[i] = strings.ReplaceAll(a, "{{.Name}}", is.Name)
			}
			// KServe mounts the model volume at /mnt/models.
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "kserve-provision-location", MountPath: "/mnt/models"})
			iris, err := os.ReadFile(filepath.Join(repoRoot(t), "models", "iris", "1", "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			p := layPod(t, im, &c, nil, nil, func(dest string) {
				if err := os.WriteFile(filepath.Join(dest, "model.onnx"), iris, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			httpPort, grpcPort := c.Ports[0].ContainerPort, portNumber(t, defaults["grpc-addr"])
			for _, port := range is.Spec.Predictor.Model.Ports {
				if port.Name == "h2c" {
					grpcPort = port.ContainerPort
				}
			}
			if rt.Spec.Annotations["prometheus.kserve.io/port"] != fmt.Sprint(httpPort) {
				t.Errorf("prometheus.kserve.io/port %s is not the HTTP port %d", rt.Spec.Annotations["prometheus.kserve.io/port"], httpPort)
			}
			httpAddr, grpcAddr, _ := p.checkFlags(t, im.binary(t), httpPort, grpcPort)
			srv := start(t, im.binary(t), p.args, p.env)
			srv.up(t, "gRPC health is SERVING", func() bool { return grpcServing(t, grpcAddr, "") })
			for _, path := range []string{"/v2/models/" + is.Name + "/ready", c.ReadinessProbe.HTTPGet.Path, rt.Spec.Annotations["prometheus.kserve.io/path"]} {
				if code := httpGet(t, "http://"+httpAddr+path); code != 200 {
					t.Errorf("GET %s: %d", path, code)
				}
			}
		})
	}
}

// checkKeys pins that the Secret's keys guard inference: a request with no
// key is refused 401, one with each key of scope infer answered. It returns
// those keys.
func checkKeys(t *testing.T, httpAddr string, objs []object) []string {
	t.Helper()
	var keys []string
	for _, sec := range only[corev1.Secret](t, objs) {
		for _, line := range strings.Split(sec.StringData["api-keys"], "\n") {
			if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[0], "#") && slices.Contains(f[1:], "infer") {
				keys = append(keys, f[0])
			}
		}
	}
	if len(keys) == 0 {
		t.Fatal("the Secret holds no key of scope infer")
	}
	body := `{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`
	for _, key := range append([]string{""}, keys...) {
		req, err := http.NewRequest("POST", "http://"+httpAddr+"/v2/models/iris/infer", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := map[bool]int{true: 401, false: 200}[key == ""]; res.StatusCode != want {
			t.Errorf("infer with key %q: %d, want %d", key, res.StatusCode, want)
		}
	}
	return keys
}

// checkRollIn pins what poll mode is in the Deployment for: a new version
// directory written onto the model volume is served without a restart,
// within --repository-poll-secs.
func checkRollIn(t *testing.T, srv *server, httpAddr, key string, cfg map[string]string) {
	t.Helper()
	if cfg["model-control"] != "poll" {
		t.Fatalf("model-control %s: a new version would need a restart", cfg["model-control"])
	}
	b, err := os.ReadFile(filepath.Join(cfg["models"], "iris", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(cfg["models"], "iris", "2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	// Written aside and renamed in, as a deploy tool does.
	if err := os.WriteFile(filepath.Join(v2, ".model.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(v2, ".model.onnx"), filepath.Join(v2, "model.onnx")); err != nil {
		t.Fatal(err)
	}
	srv.up(t, "version 2 rolls in", func() bool {
		req, err := http.NewRequest("GET", "http://"+httpAddr+"/v2/models/iris/versions/2/ready", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
}
