package v1

// The request and response bodies of the /v1 API. The swag annotations
// refer to these; @name keeps their names in the spec what they were when
// they lived in package handlers.

// TensorInfo describes one model input or output.
type TensorInfo struct {
	Name string `json:"name" example:"X"`
	// DType is float32, float64, float16, bfloat16, int8…int64, uint8…uint64,
	// bool, string, or seq(map) for a classifier's ZipMap output.
	DType string `json:"dtype" example:"float32"`
	// Shape has -1 for dynamic dimensions; dimension 0 is usually the batch.
	Shape []int64 `json:"shape" example:"-1,4"`
} //@name handlers.TensorInfo

// ModelSummary is one entry of GET /v1/models.
type ModelSummary struct {
	Name string `json:"name" example:"iris"`
	// Versions, ascending; the last is the default.
	Versions    []string `json:"versions" example:"1"`
	State       string   `json:"state" example:"READY" enums:"READY,UNAVAILABLE"`
	Reason      string   `json:"reason,omitempty"`
	Description string   `json:"description,omitempty"`
} //@name handlers.ModelSummary

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Models []ModelSummary `json:"models"`
} //@name handlers.ModelList

// ModelMetadata is the model-level metadata stored in the ONNX file.
type ModelMetadata struct {
	Producer    string            `json:"producer,omitempty" example:"onnxserve-export"`
	GraphName   string            `json:"graph_name,omitempty"`
	Domain      string            `json:"domain,omitempty"`
	Description string            `json:"description,omitempty"`
	Version     int64             `json:"version,omitempty"`
	Custom      map[string]string `json:"custom,omitempty"`
} //@name handlers.ModelMetadata

// ModelInfo is the body of GET /v1/models/{name}: what a client needs to
// call the model correctly.
type ModelInfo struct {
	Name           string        `json:"name" example:"iris"`
	Version        string        `json:"version" example:"1"`
	Versions       []string      `json:"versions" example:"1"`
	Description    string        `json:"description,omitempty"`
	Inputs         []TensorInfo  `json:"inputs"`
	Outputs        []TensorInfo  `json:"outputs"`
	Features       []string      `json:"features,omitempty" example:"sepal_length,sepal_width,petal_length,petal_width"`
	Labels         []string      `json:"labels,omitempty" example:"setosa,versicolor,virginica"`
	MaxBatchSize   int           `json:"max_batch_size,omitempty" example:"64"`
	IntraOpThreads int           `json:"intra_op_threads"`
	Metadata       ModelMetadata `json:"metadata"`

	// ExecutionProvider is what the model runs on: cpu, cuda or tensorrt,
	// the one asked for or cpu when that could not be used.
	ExecutionProvider string `json:"execution_provider" example:"cpu" enums:"cpu,cuda,tensorrt"`
} //@name handlers.ModelInfo

// PredictRequest documents the three accepted body forms; the decoder reads
// the body directly, this type exists for the docs and for Go clients.
// Send exactly one of: the named features as top-level fields (models with
// `features`), "instances" (rows, or objects of named features), or
// "inputs" (every input by name as nested arrays).
type PredictRequest struct {
	Instances []any          `json:"instances,omitempty"`
	Inputs    map[string]any `json:"inputs,omitempty"`
	// Outputs are the outputs to return, in this order; none for every one.
	Outputs []string `json:"outputs,omitempty" example:"probabilities"`
} //@name handlers.PredictRequest

// Prediction is one row of a classifier's result, with its labels applied.
type Prediction struct {
	Label  string             `json:"label" example:"setosa"`
	Scores map[string]float64 `json:"scores"`
} //@name handlers.Prediction

// PredictResponse is the body of a successful predict.
type PredictResponse struct {
	Model   string `json:"model" example:"iris"`
	Version string `json:"version" example:"1"`
	// Outputs maps each output name to its value, nested by shape.
	Outputs map[string]any `json:"outputs"`
	// Predictions is present when the model has labels: one per row.
	Predictions []Prediction `json:"predictions,omitempty"`
	// ContentTypes names the string outputs written as base64 ("base64"),
	// because an element is not valid UTF-8, which JSON strings cannot
	// carry; absent when there are none.
	ContentTypes map[string]string `json:"content_types,omitempty"`
} //@name handlers.PredictResponse
