//go:build !linux

package runtime

// ReleaseFreeMemory does nothing off Linux; see memory_linux.go.
func ReleaseFreeMemory() {}
