package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
)

var (
	pendingDesc = prometheus.NewDesc("nv_inference_pending_request_count", "Requests waiting to run on the model (what max_queue_size bounds).", modelLabels, nil)
	readyDesc   = prometheus.NewDesc("onnxserve_model_ready", "1 when the model version serves, 0 when it failed to load or is still loading (version \"\").", modelLabels, nil)
	// infoDesc carries what a model version runs on as a label, on a gauge
	// of its own so that the other series keep their labels: a few values
	// per version, no cardinality to speak of.
	infoDesc   = prometheus.NewDesc("onnxserve_model_info", "1 for every model version served, labelled with the execution provider it runs on (cpu, cuda, tensorrt).", append(slices.Clip(modelLabels), "execution_provider"), nil)
	memoryDesc = prometheus.NewDesc("onnxserve_model_memory_bytes", "Resident memory the process grew by while the model version loaded (its weights, session and plans), in bytes.", modelLabels, nil)
)

// models reads the served models' state from the core at each scrape, so
// that a model loaded, reloaded or unloaded since shows as it is now. It
// also forgets the bound metrics of versions no longer served.
type models struct {
	core    *inference.Core
	metrics *Metrics
}

func (c *models) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- readyDesc
	ch <- memoryDesc
	ch <- infoDesc
}

func (c *models) Collect(ch chan<- prometheus.Metric) {
	served := map[*runtime.Model]bool{}
	for _, st := range c.core.Models() {
		if len(st.Versions) == 0 {
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, 0, st.Name, "")
			continue
		}
		for _, m := range st.Versions {
			served[m] = true
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, 1, m.Name, m.Version)
			ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(m.Pending()), m.Name, m.Version)
			ch <- prometheus.MustNewConstMetric(memoryDesc, prometheus.GaugeValue, float64(m.Memory), m.Name, m.Version)
			ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, m.Name, m.Version, string(m.ExecutionProvider))
		}
	}
	c.metrics.models.Range(func(k, _ any) bool {
		if !served[k.(*runtime.Model)] {
			c.metrics.models.Delete(k)
		}
		return true
	})
}
