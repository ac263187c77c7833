package auth

import "slices"

// The one table of what each route and RPC needs. A route or RPC the
// server serves must be here: the tests walk the router's routes and the
// gRPC server's methods and fail on one that is missing, and at run time
// one missing needs admin, the most a key can have.
//
// What stays open, and why:
//   - liveness and readiness (/healthz, /readyz, /v2/health/*, gRPC
//     ServerLive and ServerReady, grpc.health.v1): probes of load
//     balancers and orchestrators carry no key, and say nothing of the
//     models;
//   - the Swagger UI and its spec, as the issue asks: a browser must load
//     the page before its Authorize button can take a key;
//   - /v2 server metadata (gRPC ServerMetadata): the server's name, version
//     and extensions, nothing of the models; clients read it to find what
//     the server speaks before they have been handed a key;
//   - gRPC server reflection: it describes the services' messages, which
//     the repository publishes (grpc_predict_v2.proto), not the models;
//     grpcurl and Postman need it to build a call that then carries a key.
var rules = []Rule{
	{true, "GET", "/", Open},
	{true, "GET", "/healthz", Open},
	{true, "GET", "/readyz", Open},
	{true, "GET", "/swagger/*any", Open},
	{true, "GET", "/metrics", Metrics},

	{true, "GET", "/v1/models", Infer},
	{true, "GET", "/v1/models/:name", Infer},
	{true, "GET", "/v1/models/:name/versions/:version", Infer},
	{true, "POST", "/v1/models/:name/predict", Infer},
	{true, "POST", "/v1/models/:name/versions/:version/predict", Infer},

	{true, "GET", "/v2", Open},
	{true, "GET", "/v2/health/live", Open},
	{true, "GET", "/v2/health/ready", Open},
	{true, "GET", "/v2/models/:name", Infer},
	{true, "GET", "/v2/models/:name/versions/:version", Infer},
	{true, "GET", "/v2/models/:name/ready", Infer},
	{true, "GET", "/v2/models/:name/versions/:version/ready", Infer},
	{true, "POST", "/v2/models/:name/infer", Infer},
	{true, "POST", "/v2/models/:name/versions/:version/infer", Infer},
	{true, "POST", "/v2/repository/index", Admin},
	{true, "POST", "/v2/repository/models/:name/load", Admin},
	{true, "POST", "/v2/repository/models/:name/unload", Admin},

	{false, "", "/inference.GRPCInferenceService/ServerLive", Open},
	{false, "", "/inference.GRPCInferenceService/ServerReady", Open},
	{false, "", "/inference.GRPCInferenceService/ServerMetadata", Open},
	{false, "", "/inference.GRPCInferenceService/ModelReady", Infer},
	{false, "", "/inference.GRPCInferenceService/ModelMetadata", Infer},
	{false, "", "/inference.GRPCInferenceService/ModelInfer", Infer},
	{false, "", "/inference.GRPCInferenceService/ModelStreamInfer", Infer},
	{false, "", "/inference.GRPCInferenceService/RepositoryIndex", Admin},
	{false, "", "/inference.GRPCInferenceService/RepositoryModelLoad", Admin},
	{false, "", "/inference.GRPCInferenceService/RepositoryModelUnload", Admin},
	{false, "", "/grpc.health.v1.Health/Check", Open},
	{false, "", "/grpc.health.v1.Health/Watch", Open},
	{false, "", "/grpc.health.v1.Health/List", Open},
	{false, "", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Open},
	{false, "", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Open},
}

// Rule is one line of the table.
type Rule struct {
	HTTP   bool
	Method string // the HTTP method, or "" for an RPC
	Path   string // gin's route pattern, or the RPC's full method name
	Need   Scope
}

// Rules is the table, for the tests that hold it against the routes and
// RPCs the servers serve.
func Rules() []Rule { return slices.Clone(rules) }

type route struct{ method, path string }

// Policy answers what a route or RPC needs, from the table above.
type Policy struct {
	http map[route]Scope
	rpc  map[string]Scope
}

// NewPolicy is the table as lookups.
func NewPolicy() *Policy {
	p := &Policy{http: map[route]Scope{}, rpc: map[string]Scope{}}
	for _, r := range rules {
		if r.HTTP {
			p.http[route{r.Method, r.Path}] = r.Need
		} else {
			p.rpc[r.Path] = r.Need
		}
	}
	return p
}

// HTTP is what the route method pattern needs: Fallback, with ok false,
// for a route not in the table.
func (p *Policy) HTTP(method, pattern string) (need Scope, ok bool) {
	need, ok = p.http[route{method, pattern}]
	return orFallback(need, ok)
}

// RPC is what the gRPC method (its full name, "/package.Service/Method")
// needs: Fallback, with ok false, for one not in the table.
func (p *Policy) RPC(fullMethod string) (need Scope, ok bool) {
	need, ok = p.rpc[fullMethod]
	return orFallback(need, ok)
}

// Fallback is what a route or RPC missing from the table needs: the most
// there is, so that forgetting one locks it rather than opening it.
const Fallback = Admin | Infer

func orFallback(need Scope, ok bool) (Scope, bool) {
	if !ok {
		return Fallback, false
	}
	return need, true
}
