package v2

// The bodies of the Open Inference Protocol (KServe v2) API, as the
// protocol and Triton's extensions define them. Inference requests and
// responses are decoded and written by hand (decode.go, encode.go); their
// types here exist for the docs and for Go clients. @name keeps their
// names in the spec what they were when they lived in package handlers.

// Error is every /v2 error body.
type Error struct {
	Error string `json:"error" example:"unexpected inference input 'Z' for model 'iris'"`
} //@name handlers.V2Error

// ServerMetadata is the body of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name" example:"onnxserve"`
	Version    string   `json:"version" example:"0.1"`
	Extensions []string `json:"extensions" example:"binary_tensor_data,classification,model_repository"`
} //@name handlers.V2ServerMetadata

// Live is the body of GET /v2/health/live.
type Live struct {
	Live bool `json:"live" example:"true"`
} //@name handlers.V2Live

// Ready is the body of GET /v2/health/ready.
type Ready struct {
	Ready bool `json:"ready" example:"true"`
} //@name handlers.V2Ready

// ModelReady is the body of GET /v2/models/{name}/ready.
type ModelReady struct {
	Name  string `json:"name" example:"iris"`
	Ready bool   `json:"ready" example:"true"`
} //@name handlers.V2ModelReady

// Tensor describes one model input or output.
type Tensor struct {
	Name string `json:"name" example:"X"`
	// Datatype is BOOL, UINT8…UINT64, INT8…INT64, FP16, BF16, FP32, FP64 or BYTES.
	Datatype string `json:"datatype" example:"FP32"`
	// Shape has -1 for dynamic dimensions.
	Shape []int64 `json:"shape" example:"-1,4"`
} //@name handlers.V2Tensor

// ModelMetadata is the body of GET /v2/models/{name}. Outputs that are
// not tensors (a classifier's ZipMap) have no v2 datatype and are left
// out; /v1 serves them.
type ModelMetadata struct {
	Name     string   `json:"name" example:"iris"`
	Versions []string `json:"versions" example:"1"`
	Platform string   `json:"platform" example:"onnxruntime_onnx"`
	Inputs   []Tensor `json:"inputs"`
	Outputs  []Tensor `json:"outputs"`
	// Parameters are onnxserve's addition to the protocol's body; clients
	// that do not know it ignore it.
	Parameters ModelParameters `json:"parameters"`
} //@name handlers.V2ModelMetadata

// ModelParameters are the parameters of a model's metadata, as gRPC's
// ModelMetadataResponse carries them too.
type ModelParameters struct {
	// ExecutionProvider is what the model version runs on: the provider
	// asked for, or cpu when that could not be used.
	ExecutionProvider string `json:"execution_provider" example:"cpu" enums:"cpu,cuda,tensorrt"`
} //@name handlers.V2ModelParameters

// InferRequest is the JSON of POST /v2/models/{name}/infer. With the
// binary tensor extension, inputs carry parameters.binary_data_size instead
// of data, their bytes follow the JSON, and the Inference-Header-Content-Length
// header gives the JSON's length.
type InferRequest struct {
	ID string `json:"id,omitempty" example:"42"`
	// Parameters: binary_data_output (bool) returns every output as binary;
	// timeout (integer, microseconds, as Triton's) bounds the request, queued
	// and running, past which it is answered 504.
	Parameters map[string]any  `json:"parameters,omitempty"`
	Inputs     []RequestInput  `json:"inputs"`
	Outputs    []RequestOutput `json:"outputs,omitempty"`
} //@name handlers.V2InferRequest

// RequestInput is one input tensor of an inference request.
type RequestInput struct {
	Name     string  `json:"name" example:"X"`
	Shape    []int64 `json:"shape" example:"1,4"`
	Datatype string  `json:"datatype" example:"FP32"`
	// Parameters: binary_data_size (int) when the data is binary.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Data is row-major, flat or nested as the shape.
	Data []any `json:"data,omitempty" swaggertype:"array,number" example:"5.1,3.5,1.4,0.2"`
} //@name handlers.V2RequestInput

// RequestOutput selects one output and how it is returned.
type RequestOutput struct {
	Name string `json:"name" example:"probabilities"`
	// Parameters: binary_data (bool) returns the output as binary;
	// classification (int k) returns its top k classes as BYTES
	// "score:index[:label]".
	Parameters map[string]any `json:"parameters,omitempty"`
} //@name handlers.V2RequestOutput

// InferResponse is the JSON of an inference response; binary outputs
// follow it, as their parameters.binary_data_size say.
type InferResponse struct {
	ModelName    string           `json:"model_name" example:"iris"`
	ModelVersion string           `json:"model_version" example:"1"`
	ID           string           `json:"id,omitempty" example:"42"`
	Outputs      []ResponseOutput `json:"outputs"`
} //@name handlers.V2InferResponse

// ResponseOutput is one output tensor of an inference response. Its
// parameters: binary_data_size (int) for a binary output; content_type
// "base64" for a BYTES output whose data are base64, because an element is
// not valid UTF-8 (as MLServer's Base64Codec).
type ResponseOutput struct {
	Name       string         `json:"name" example:"label"`
	Datatype   string         `json:"datatype" example:"INT64"`
	Shape      []int64        `json:"shape" example:"1"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Data is flat, row-major; absent for binary outputs.
	Data []any `json:"data,omitempty" swaggertype:"array,number" example:"0"`
} //@name handlers.V2ResponseOutput

// IndexRequest is the optional body of POST /v2/repository/index.
type IndexRequest struct {
	// Ready lists only the models ready for inference.
	Ready bool `json:"ready,omitempty"`
} //@name handlers.V2IndexRequest

// IndexEntry is one line of the repository index. A model on disk that
// was never loaded has a name only.
type IndexEntry struct {
	Name    string `json:"name" example:"iris"`
	Version string `json:"version,omitempty" example:"1"`
	State   string `json:"state,omitempty" example:"READY" enums:"READY,UNAVAILABLE"`
	Reason  string `json:"reason,omitempty"`
} //@name handlers.V2IndexEntry

// RepositoryRequest is the optional body of load and unload. No
// parameter is needed: "config" and "file:" overrides are refused, and
// "unload_dependents" has no dependents to act on.
type RepositoryRequest struct {
	Parameters map[string]any `json:"parameters,omitempty"`
} //@name handlers.V2RepositoryRequest
