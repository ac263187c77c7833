package handlers

// The bodies of the Open Inference Protocol (KServe v2) API, as the
// protocol and Triton's extensions define them. Inference requests and
// responses are decoded and written by hand (v2_decode.go, v2_encode.go);
// their types here exist for the docs and for Go clients.

// V2Error is every /v2 error body.
type V2Error struct {
	Error string `json:"error" example:"unexpected inference input 'Z' for model 'iris'"`
}

// V2ServerMetadata is the body of GET /v2.
type V2ServerMetadata struct {
	Name       string   `json:"name" example:"onnxserve"`
	Version    string   `json:"version" example:"0.1"`
	Extensions []string `json:"extensions" example:"binary_tensor_data,classification,model_repository"`
}

// V2Live is the body of GET /v2/health/live.
type V2Live struct {
	Live bool `json:"live" example:"true"`
}

// V2Ready is the body of GET /v2/health/ready.
type V2Ready struct {
	Ready bool `json:"ready" example:"true"`
}

// V2ModelReady is the body of GET /v2/models/{name}/ready.
type V2ModelReady struct {
	Name  string `json:"name" example:"iris"`
	Ready bool   `json:"ready" example:"true"`
}

// V2Tensor describes one model input or output.
type V2Tensor struct {
	Name string `json:"name" example:"X"`
	// Datatype is BOOL, UINT8…UINT64, INT8…INT64, FP16, BF16, FP32, FP64 or BYTES.
	Datatype string `json:"datatype" example:"FP32"`
	// Shape has -1 for dynamic dimensions.
	Shape []int64 `json:"shape" example:"-1,4"`
}

// V2ModelMetadata is the body of GET /v2/models/{name}. Outputs that are
// not tensors (a classifier's ZipMap) have no v2 datatype and are left
// out; /v1 serves them.
type V2ModelMetadata struct {
	Name     string     `json:"name" example:"iris"`
	Versions []string   `json:"versions" example:"1"`
	Platform string     `json:"platform" example:"onnxruntime_onnx"`
	Inputs   []V2Tensor `json:"inputs"`
	Outputs  []V2Tensor `json:"outputs"`
}

// V2InferRequest is the JSON of POST /v2/models/{name}/infer. With the
// binary tensor extension, inputs carry parameters.binary_data_size instead
// of data, their bytes follow the JSON, and the Inference-Header-Content-Length
// header gives the JSON's length.
type V2InferRequest struct {
	ID string `json:"id,omitempty" example:"42"`
	// Parameters: binary_data_output (bool) returns every output as binary.
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []V2RequestInput  `json:"inputs"`
	Outputs    []V2RequestOutput `json:"outputs,omitempty"`
}

// V2RequestInput is one input tensor of an inference request.
type V2RequestInput struct {
	Name     string  `json:"name" example:"X"`
	Shape    []int64 `json:"shape" example:"1,4"`
	Datatype string  `json:"datatype" example:"FP32"`
	// Parameters: binary_data_size (int) when the data is binary.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Data is row-major, flat or nested as the shape.
	Data []any `json:"data,omitempty" swaggertype:"array,number" example:"5.1,3.5,1.4,0.2"`
}

// V2RequestOutput selects one output and how it is returned.
type V2RequestOutput struct {
	Name string `json:"name" example:"probabilities"`
	// Parameters: binary_data (bool) returns the output as binary;
	// classification (int k) returns its top k classes as BYTES
	// "score:index[:label]".
	Parameters map[string]any `json:"parameters,omitempty"`
}

// V2InferResponse is the JSON of an inference response; binary outputs
// follow it, as their parameters.binary_data_size say.
type V2InferResponse struct {
	ModelName    string             `json:"model_name" example:"iris"`
	ModelVersion string             `json:"model_version" example:"1"`
	ID           string             `json:"id,omitempty" example:"42"`
	Outputs      []V2ResponseOutput `json:"outputs"`
}

// V2ResponseOutput is one output tensor of an inference response.
type V2ResponseOutput struct {
	Name       string         `json:"name" example:"label"`
	Datatype   string         `json:"datatype" example:"INT64"`
	Shape      []int64        `json:"shape" example:"1"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Data is flat, row-major; absent for binary outputs.
	Data []any `json:"data,omitempty" swaggertype:"array,number" example:"0"`
}

// V2IndexRequest is the optional body of POST /v2/repository/index.
type V2IndexRequest struct {
	// Ready lists only the models ready for inference.
	Ready bool `json:"ready,omitempty"`
}

// V2IndexEntry is one line of the repository index. A model on disk that
// was never loaded has a name only.
type V2IndexEntry struct {
	Name    string `json:"name" example:"iris"`
	Version string `json:"version,omitempty" example:"1"`
	State   string `json:"state,omitempty" example:"READY" enums:"READY,UNAVAILABLE"`
	Reason  string `json:"reason,omitempty"`
}

// V2RepositoryRequest is the optional body of load and unload. No
// parameter is needed: "config" and "file:" overrides are refused, and
// "unload_dependents" has no dependents to act on.
type V2RepositoryRequest struct {
	Parameters map[string]any `json:"parameters,omitempty"`
}
