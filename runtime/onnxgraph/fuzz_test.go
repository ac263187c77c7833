package onnxgraph

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzPrune: no bytes make Parse or Prune panic, and whatever Prune cuts
// out reads back as a model that, cut to the same outputs again, is
// whole. Seeds: the committed corpus (testdata/fuzz/FuzzPrune, made from
// the test models) and every model under runtime/testdata.
func FuzzPrune(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.onnx"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, model []byte) {
		g, err := Parse(model)
		if err != nil {
			return
		}
		sets := [][]string{g.Outputs()}
		for _, o := range g.Outputs() {
			sets = append(sets, []string{o})
		}
		for _, outs := range sets {
			p, err := g.Prune(outs...)
			if err != nil {
				continue
			}
			if n, err := g.Needs(outs...); err != nil || n.Len() != p.Kept {
				t.Fatalf("Needs(%q): %d nodes (%v), Prune kept %d", outs, n.Len(), err, p.Kept)
			}
			if p.Model == nil {
				continue
			}
			again, err := Parse(p.Model)
			if err != nil {
				t.Fatalf("Prune(%q) made a model that does not parse: %v", outs, err)
			}
			if q, err := again.Prune(outs...); err != nil || q.Model != nil || q.Kept != p.Kept {
				t.Fatalf("Prune(%q) twice: kept %d then %d of %d (%v)", outs, p.Kept, q.Kept, q.Total, err)
			}
		}
	})
}
