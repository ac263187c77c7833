// Package deploy holds no code of its own: its tests render the Kubernetes
// and KServe manifests beside it, decode every object strictly, run the
// Dockerfile's build steps against a temporary root, and check manifests and
// image against the server binary built there. It is a module of its own so
// that kustomize and the Kubernetes API types stay out of the server's.
package deploy
