package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMemoryLimitFiles pins how the default --max-inflight-bytes reads
// the files the kernel writes: a cgroup v2 memory.max of "max" and a v1
// limit file's huge "no limit" number are no limit (the RAM is used, as
// the v1 number passes it), and /proc/meminfo's MemTotal is in kB.
func TestMemoryLimitFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		text string
		want int64
	}{
		{"max\n", 0},
		{"536870912\n", 512 << 20},
		{"9223372036854771712\n", 9223372036854771712},
		{"", 0},
		{"-1\n", 0},
	} {
		if got := cgroupLimit(file("limit", c.text)); got != c.want {
			t.Errorf("cgroupLimit(%q) = %d, want %d", c.text, got, c.want)
		}
	}
	if got := cgroupLimit(filepath.Join(dir, "absent")); got != 0 {
		t.Errorf("an absent limit file: %d, want 0", got)
	}
	meminfo := file("meminfo", "MemFree:  100 kB\nMemTotal:       16318440 kB\nSwapTotal: 0 kB\n")
	if got := meminfoTotal(meminfo); got != 16318440<<10 {
		t.Errorf("MemTotal 16318440 kB: %d bytes", got)
	}
	if got := defaultInflightBytes(); got <= 0 {
		t.Errorf("the default on this machine: %d", got)
	}
}
