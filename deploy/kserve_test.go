package deploy

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Local structs of the documented fields of the custom resources the
// manifests use, decoded as strictly as the Kubernetes types: KServe's
// ServingRuntime (serving.kserve.io/v1alpha1) and InferenceService
// (v1beta1), the Prometheus Operator's ServiceMonitor and the Prometheus
// adapter's rules. Containers, ports and resources are the Kubernetes types,
// as KServe's own are.

type servingRuntime struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Annotations           map[string]string `json:"annotations,omitempty"`
		Labels                map[string]string `json:"labels,omitempty"`
		SupportedModelFormats []struct {
			Name       string `json:"name"`
			Version    string `json:"version,omitempty"`
			AutoSelect *bool  `json:"autoSelect,omitempty"`
			Priority   *int32 `json:"priority,omitempty"`
		} `json:"supportedModelFormats"`
		ProtocolVersions []string                      `json:"protocolVersions,omitempty"`
		MultiModel       *bool                         `json:"multiModel,omitempty"`
		Disabled         *bool                         `json:"disabled,omitempty"`
		GRPCEndpoint     string                        `json:"grpcEndpoint,omitempty"`
		GRPCDataEndpoint string                        `json:"grpcDataEndpoint,omitempty"`
		HTTPDataEndpoint string                        `json:"httpDataEndpoint,omitempty"`
		Replicas         *uint16                       `json:"replicas,omitempty"`
		StorageHelper    *struct{ Disabled bool }      `json:"storageHelper,omitempty"`
		Containers       []corev1.Container            `json:"containers"`
		Volumes          []corev1.Volume               `json:"volumes,omitempty"`
		NodeSelector     map[string]string             `json:"nodeSelector,omitempty"`
		Tolerations      []corev1.Toleration           `json:"tolerations,omitempty"`
		ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	} `json:"spec"`
}

type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Predictor struct {
			MinReplicas *int32 `json:"minReplicas,omitempty"`
			MaxReplicas int32  `json:"maxReplicas,omitempty"`
			ScaleTarget *int32 `json:"scaleTarget,omitempty"`
			ScaleMetric string `json:"scaleMetric,omitempty"`
			Model       *struct {
				ModelFormat struct {
					Name    string `json:"name"`
					Version string `json:"version,omitempty"`
				} `json:"modelFormat"`
				Runtime         string                      `json:"runtime,omitempty"`
				ProtocolVersion string                      `json:"protocolVersion,omitempty"`
				StorageURI      string                      `json:"storageUri,omitempty"`
				Args            []string                    `json:"args,omitempty"`
				Env             []corev1.EnvVar             `json:"env,omitempty"`
				Ports           []corev1.ContainerPort      `json:"ports,omitempty"`
				Resources       corev1.ResourceRequirements `json:"resources,omitempty"`
			} `json:"model,omitempty"`
		} `json:"predictor"`
	} `json:"spec"`
}

type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// adapterRules is the Prometheus adapter's rule configuration.
type adapterRules struct {
	Rules []adapterRule `json:"rules"`
}

type adapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Resource string `json:"resource"`
		} `json:"overrides,omitempty"`
		Template string `json:"template,omitempty"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as,omitempty"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

func checkServiceMonitor(t *testing.T, sm *serviceMonitor, svc *corev1.Service) {
	t.Helper()
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v && svc.Spec.Selector[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s; the Service %s has no such label", k, v, svc.Name)
		}
	}
	for _, ep := range sm.Spec.Endpoints {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
			t.Errorf("ServiceMonitor endpoint port %q is no Service port", ep.Port)
		}
	}
}

// TestServingRuntime pins the ClusterServingRuntime KServe selects for ONNX
// models, and the InferenceService examples that use it.
func TestServingRuntime(t *testing.T) {
	objs := render(t, "kserve")
	rts := only[servingRuntime](t, objs)
	if len(rts) != 1 || rts[0].Name != "onnxserve" || rts[0].Kind != "ClusterServingRuntime" {
		t.Fatalf("want one ClusterServingRuntime onnxserve, got %d", len(rts))
	}
	rt := rts[0]
	if f := rt.Spec.SupportedModelFormats; len(f) != 1 || f[0].Name != "onnx" || f[0].Version != "1" || f[0].AutoSelect == nil || !*f[0].AutoSelect {
		t.Errorf("supportedModelFormats %+v: want onnx version 1 with autoSelect", f)
	}
	if !slices.Equal(rt.Spec.ProtocolVersions, []string{"v2", "grpc-v2"}) {
		t.Errorf("protocolVersions %v", rt.Spec.ProtocolVersions)
	}
	if len(rt.Spec.Containers) != 1 || rt.Spec.Containers[0].Name != "kserve-container" {
		t.Fatal("want the one container kserve-container, which KServe fills in")
	}
	c := rt.Spec.Containers[0]
	if !slices.Contains(c.Args, "--models=/mnt/models") || !slices.Contains(c.Args, "--model-name={{.Name}}") {
		t.Errorf("args %v: want /mnt/models served as {{.Name}}", c.Args)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/v2/health/ready" {
		t.Errorf("readinessProbe %+v: want /v2/health/ready, or Knative checks only that the port is bound, which it is while the models load", c.ReadinessProbe)
	}
	if rt.Spec.Annotations["prometheus.kserve.io/path"] != "/metrics" || rt.Spec.Annotations["prometheus.kserve.io/port"] == "" {
		t.Errorf("annotations %v: want KServe's Prometheus scraping annotations", rt.Spec.Annotations)
	}
	isvcs := only[inferenceService](t, readManifests(t, "kserve/inferenceservice-*.yaml"))
	protocols := map[string]bool{}
	for _, is := range isvcs {
		m := is.Spec.Predictor.Model
		if m == nil || m.Runtime != rt.Name || m.ModelFormat.Name != "onnx" || m.StorageURI == "" {
			t.Errorf("InferenceService %s: want an onnx model on runtime %s with a storageUri", is.Name, rt.Name)
			continue
		}
		protocols[m.ProtocolVersion] = true
		if m.ProtocolVersion == "grpc-v2" && (len(m.Ports) != 1 || m.Ports[0].Name != "h2c") {
			t.Errorf("InferenceService %s: gRPC needs its port named h2c, got %+v", is.Name, m.Ports)
		}
	}
	if !protocols["v2"] || !protocols["grpc-v2"] {
		t.Errorf("examples cover protocols %v: want v2 and grpc-v2", protocols)
	}
}

// TestAdapterRule pins the pending-requests overlay: the Prometheus adapter
// serves the metric under the name the HPA asks for.
func TestAdapterRule(t *testing.T) {
	objs := render(t, "kubernetes/overlays/pending-requests")
	var rules adapterRules
	for _, cm := range only[corev1.ConfigMap](t, objs) {
		if strings.Contains(cm.Name, "prometheus-adapter") {
			if err := unmarshalStrict([]byte(cm.Data["config.yaml"]), &rules); err != nil {
				t.Fatalf("adapter rules: %v", err)
			}
		}
	}
	metrics := hpaMetrics(t, objs)
	if len(rules.Rules) == 0 || len(metrics) == 0 {
		t.Fatalf("rules %+v, HPA metrics %v", rules, metrics)
	}
	for _, m := range metrics {
		if !slices.ContainsFunc(rules.Rules, func(r adapterRule) bool {
			return r.Name.As == m && strings.HasPrefix(r.SeriesQuery, m+"{")
		}) {
			t.Errorf("no adapter rule serves %s from the series of that name", m)
		}
	}
}
