//go:build !linux

package runtime

// ReleaseFreeMemory does nothing off Linux; see memory_linux.go.
func ReleaseFreeMemory() {}

// residentBytes is not measured off Linux.
func residentBytes() int64 { return 0 }
