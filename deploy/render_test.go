package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// An object is one rendered manifest, decoded strictly into its type.
type object struct {
	kind, name string
	value      any
}

// kinds maps apiVersion/kind to the type a manifest must decode into: the
// Kubernetes API's own, or local structs of the documented fields for
// KServe and the Prometheus Operator (kserve_test.go). A kind not listed is
// an error, so nothing goes unchecked.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                               func() any { return &appsv1.Deployment{} },
	"v1/Service":                                       func() any { return &corev1.Service{} },
	"v1/ConfigMap":                                     func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                        func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim":                         func() any { return &corev1.PersistentVolumeClaim{} },
	"policy/v1/PodDisruptionBudget":                    func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":           func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor":          func() any { return &serviceMonitor{} },
	"serving.kserve.io/v1alpha1/ClusterServingRuntime": func() any { return &servingRuntime{} },
	"serving.kserve.io/v1beta1/InferenceService":       func() any { return &inferenceService{} },
}

// decode reads one manifest strictly: an unknown or duplicate field, or an
// unknown kind, is an error.
func decode(doc []byte) (object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return object{}, err
	}
	key := head.APIVersion + "/" + head.Kind
	mk, ok := kinds[key]
	if !ok {
		return object{}, fmt.Errorf("%s %s: a kind no test knows", key, head.Metadata.Name)
	}
	v := mk()
	if err := unmarshalStrict(doc, v); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", key, head.Metadata.Name, err)
	}
	return object{head.Kind, head.Metadata.Name, v}, nil
}

// unmarshalStrict decodes YAML as the API server does with strict field
// validation, through Kubernetes' own JSON decoder: unknown and duplicate
// fields fail, and so does a field in the wrong case, which encoding/json
// (and so sigs.k8s.io/yaml) would take.
func unmarshalStrict(doc []byte, v any) error {
	// YAMLToJSON keeps the last of two equal keys: refuse them first.
	var generic any
	if err := yaml.UnmarshalStrict(doc, &generic); err != nil {
		return err
	}
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// render builds a kustomization directory as kubectl kustomize does, and
// decodes every object.
func render(t *testing.T, dir string) []object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	var out []object
	for _, r := range rm.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		o, err := decode(doc)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		out = append(out, o)
	}
	return out
}

// kustomizations lists every directory under deploy/ with a
// kustomization.yaml, so that a new overlay is checked too.
func kustomizations(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func only[T any](t *testing.T, objs []object) []*T {
	t.Helper()
	var out []*T
	for _, o := range objs {
		if v, ok := o.value.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestStrictDecoding pins the decoder the other tests trust: a field that is
// misspelt, misplaced or of another kind fails, as do unknown kinds.
func TestStrictDecoding(t *testing.T) {
	for _, tc := range []struct {
		what string
		doc  string
		ok   bool
	}{
		{"a Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: 2}\n", true},
		{"a misspelt field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 2}\n", false},
		{"a field of another kind", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {replicas: 2}\n", false},
		{"a duplicate field", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {type: ClusterIP, type: NodePort}\n", false},
		{"an unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", false},
		{"a field in the wrong case", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {Replicas: 2}\n", false},
		{"a KServe field in the wrong case", "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {name: a}\nspec: {supportedModelFormats: [{name: onnx, autoselect: true}]}\n", false},
		{"a misspelt KServe field", "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {name: a}\nspec: {protocolVersion: [v2]}\n", false},
		{"a misspelt ServiceMonitor field", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {endpoint: []}\n", false},
	} {
		if _, err := decode([]byte(tc.doc)); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.what, err)
		}
	}
}

// TestRender renders every kustomization and checks what Kubernetes would
// refuse or silently get wrong: references between objects, ports by
// name, one source per volume, a non-root read-only container whose user is
// the image's.
func TestRender(t *testing.T) {
	dirs := kustomizations(t)
	for _, want := range []string{"kubernetes", "kubernetes/base", "kubernetes/overlays/pending-requests", "kubernetes/overlays/servicemonitor", "kserve"} {
		if !slices.Contains(dirs, want) {
			t.Errorf("no kustomization in %s", want)
		}
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			names := map[string]bool{}
			for _, o := range objs {
				names[o.kind+"/"+o.name] = true
			}
			for _, d := range only[appsv1.Deployment](t, objs) {
				checkDeployment(t, d, names)
				for _, s := range only[corev1.Service](t, objs) {
					checkSelects(t, "Service "+s.Name, s.Spec.Selector, d)
					for _, p := range s.Spec.Ports {
						if containerPort(&d.Spec.Template.Spec.Containers[0], p.TargetPort.String()) == 0 {
							t.Errorf("Service port %s: target %s is no container port", p.Name, p.TargetPort.String())
						}
					}
				}
				for _, p := range only[policyv1.PodDisruptionBudget](t, objs) {
					checkSelects(t, "PodDisruptionBudget "+p.Name, p.Spec.Selector.MatchLabels, d)
				}
				for _, h := range only[autoscalingv2.HorizontalPodAutoscaler](t, objs) {
					if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name {
						t.Errorf("HorizontalPodAutoscaler %s scales %s %s, not the Deployment", h.Name, ref.Kind, ref.Name)
					}
				}
			}
			for _, sm := range only[serviceMonitor](t, objs) {
				svcs := only[corev1.Service](t, objs)
				if len(svcs) != 1 {
					t.Fatalf("ServiceMonitor beside %d Services", len(svcs))
				}
				checkServiceMonitor(t, sm, svcs[0])
			}
		})
	}
}

func checkSelects(t *testing.T, what string, sel map[string]string, d *appsv1.Deployment) {
	t.Helper()
	if len(sel) == 0 {
		t.Errorf("%s selects everything", what)
	}
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("%s selects %s=%s, which the Deployment's pods lack", what, k, v)
		}
	}
}

// containerPort is the number of a port given by name or number, or 0.
func containerPort(c *corev1.Container, p string) int32 {
	for _, cp := range c.Ports {
		if cp.Name == p || fmt.Sprint(cp.ContainerPort) == p {
			return cp.ContainerPort
		}
	}
	return 0
}

func checkDeployment(t *testing.T, d *appsv1.Deployment, names map[string]bool) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want the server alone", d.Name, len(pod.Containers))
	}
	c := &pod.Containers[0]
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		switch {
		case p == nil:
			t.Errorf("no %s probe", name)
		case p.HTTPGet != nil && containerPort(c, p.HTTPGet.Port.String()) == 0:
			t.Errorf("%s probe: port %s is no container port", name, p.HTTPGet.Port.String())
		case p.GRPC != nil && containerPort(c, fmt.Sprint(p.GRPC.Port)) == 0:
			t.Errorf("%s probe: gRPC port %d is no container port", name, p.GRPC.Port)
		}
	}
	if c.StartupProbe != nil && c.StartupProbe.GRPC == nil {
		t.Error("the startup probe is not the gRPC one (grpc.health.v1)")
	}
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		if n := sources(v.VolumeSource); n != 1 {
			t.Errorf("volume %s has %d sources", v.Name, n)
		}
		switch {
		case v.ConfigMap != nil && !names["ConfigMap/"+v.ConfigMap.Name]:
			t.Errorf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
		case v.Secret != nil && !names["Secret/"+v.Secret.SecretName]:
			t.Errorf("volume %s: no Secret %s", v.Name, v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil && !names["PersistentVolumeClaim/"+v.PersistentVolumeClaim.ClaimName]:
			t.Errorf("volume %s: no PersistentVolumeClaim %s", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	for _, cc := range append(slices.Clone(pod.InitContainers), *c) {
		for _, m := range cc.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("container %s mounts %s, which is no volume", cc.Name, m.Name)
			}
		}
		sc := cc.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: want readOnlyRootFilesystem and no privilege escalation", cc.Name)
		}
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 1000 {
		t.Error("pod: want runAsNonRoot with runAsUser 1000, the Dockerfile's USER")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("the server has no CPU request (which the HPA's utilization needs) or no memory limit")
	}
}

// sources counts the set fields of a VolumeSource: Kubernetes wants one.
func sources(vs corev1.VolumeSource) int {
	n := 0
	v := reflect.ValueOf(vs)
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			n++
		}
	}
	return n
}

// readManifests decodes every YAML document of the files matching pattern.
func readManifests(t *testing.T, pattern string) []object {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests match %s: %v", pattern, err)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			o, err := decode([]byte(doc))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			out = append(out, o)
		}
	}
	return out
}
