package compat

import (
	"regexp"
	"slices"
	"testing"
)

// TestManifest pins what make compat relies on without fetching anything:
// at least ten models, each pinned to an exact package version and a
// sha256, each with a committed reference whose cases give every input
// the model is sent and at least one expected output.
func TestManifest(t *testing.T) {
	models, err := ReadManifest("models.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(models) < 10 {
		t.Errorf("%d models, want at least 10", len(models))
	}
	exact := regexp.MustCompile(`^(@[a-z0-9-]+/)?[a-z0-9.-]+@\d+\.\d+\.\d+$|^[a-z0-9./_-]+@v\d+\.\d+\.\d+$`)
	seen := map[string]bool{}
	for _, m := range models {
		if seen[m.Name] {
			t.Errorf("model %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if spec := m.NPM + m.Go; !exact.MatchString(spec) {
			t.Errorf("model %q: %q is not an exact version", m.Name, spec)
		}
		ref, err := ReadReference("testdata", m.Name)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, c := range ref.Cases {
			if len(c.Inputs) == 0 || len(c.Outputs) == 0 {
				t.Errorf("model %q case %q: %d inputs, %d outputs", m.Name, c.Name, len(c.Inputs), len(c.Outputs))
			}
			for _, in := range c.Inputs {
				if in.Random == nil && len(in.Data) != Elements(in.Shape) {
					t.Errorf("model %q case %q input %q: %d values for shape %v", m.Name, c.Name, in.Name, len(in.Data), in.Shape)
				}
			}
		}
	}
}

// TestRandom pins the generator to the values reference.mjs's makes in
// JavaScript for the same seeds (printed by node), so that a generated
// input is the same on both sides.
func TestRandom(t *testing.T) {
	for _, tc := range []struct {
		spec RandomSpec
		n    int
		tail []float32
	}{
		{RandomSpec{Seed: 1, Min: -0.5, Max: 0.5}, 4, []float32{-0.4999370574951172, -0.48425257205963135, 0.11640405654907227, -0.42838138341903687}},
		{RandomSpec{Seed: 16, Min: -3, Max: 3}, 120, []float32{1.6850917339324951, -1.3903666734695435, 0.2075650691986084}},
	} {
		got := Random(tc.spec, tc.n)
		if tail := got[len(got)-len(tc.tail):]; !slices.Equal(tail, tc.tail) {
			t.Errorf("Random(%+v, %d) ends %v, want %v", tc.spec, tc.n, tail, tc.tail)
		}
	}
}
