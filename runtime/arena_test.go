package runtime

import (
	"slices"
	"sync"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// loadBatchedSum is testdata/sum.onnx (each row's sum, [-1, 4] -> [-1])
// with dynamic batching up to rows rows.
func loadBatchedSum(t *testing.T, rows, slots int) *Model {
	t.Helper()
	cfg := &Config{MaxBatchSize: rows, DynamicBatching: &DynamicBatching{}}
	m, err := LoadModel("sum", "1", "testdata/sum.onnx", cfg, LoadOptions{Limiter: NewLimiter(slots)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// runMerged runs inputs as the batcher runs a merged batch, on its pool.
func runMerged(t *testing.T, m *Model, in tensor.Tensor) []float32 {
	t.Helper()
	s := m.whole()
	s.binds = m.batcher.binds
	rows := int(in.Shape[0])
	outs, err := m.run(t.Context(), s, []tensor.Tensor{in}, m.outputs, rows, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return outs[0].Data.([]float32)
}

// TestArenaSizes pins what merged runs of many sizes keep: one arena,
// whose memory is one run of max_batch_size rows (16 rows of 4 floats in,
// 16 sums out), with a binding per size over it, each run's sums right
// (formula: rowsOf) whatever size ran on the arena before it.
func TestArenaSizes(t *testing.T) {
	m := loadBatchedSum(t, 16, 1)
	sizes := []int{2, 5, 16, 3, 5, 16, 9, 2}
	for i, n := range sizes {
		in, want := rowsOf(100*i, n, 4)
		if got := runMerged(t, m, in); !slices.Equal(got, want) {
			t.Fatalf("run %d, %d rows: %v, want %v", i, n, got, want)
		}
	}
	p := m.batcher.binds
	if len(p.arenas) != 1 || len(p.idle) != 0 {
		t.Fatalf("%d idle arenas and %d bindings after runs one at a time, want 1 and 0", len(p.arenas), len(p.idle))
	}
	a := p.arenas[0]
	if want := int64(16*4*4 + 16*4); a.bytes != want {
		t.Errorf("the arena holds %d bytes, want %d: one run of 16 rows", a.bytes, want)
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(sizes)))
	if len(a.binds) != len(distinct) {
		t.Errorf("the arena has %d bindings, want one per size (%d)", len(a.binds), len(distinct))
	}
}

// TestArenasApart pins that runs at once never share an arena: two
// arenas taken together have their own memory, and runs of different
// sizes on two slots, at once, each get their own sums.
func TestArenasApart(t *testing.T) {
	m := loadBatchedSum(t, 8, 2)
	p := m.batcher.binds
	in, _ := rowsOf(0, 4, 4)
	ins := []tensor.Tensor{in}
	b1, a1 := p.take(ins, 4)
	b2, a2 := p.take(ins, 4)
	if b1 != nil || b2 != nil || a1 == nil || a2 == nil || a1 == a2 {
		t.Fatalf("two takes from an empty pool: bindings %v %v, arenas %p %p; want two new arenas", b1, b2, a1, a2)
	}
	p.putArena(a1)
	p.putArena(a2)

	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := range 200 {
				n := 1 + (i+g)%8
				in, want := rowsOf(1000*g+i, n, 4)
				s := m.whole()
				s.binds = p
				outs, err := m.run(t.Context(), s, []tensor.Tensor{in}, m.outputs, n, nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if got := outs[0].Data.([]float32); !slices.Equal(got, want) {
					t.Errorf("goroutine %d run %d, %d rows: %v, want %v", g, i, n, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(p.arenas) > 2 {
		t.Errorf("%d idle arenas after two goroutines' runs, want at most 2", len(p.arenas))
	}
}

// TestArenaBounded pins that an arena's buffers are no larger than a
// binding may hold (maxBindingBytes), whatever max_batch_size allows: a
// model configured for a million rows must not make 16 MB for its first
// merged run of four.
func TestArenaBounded(t *testing.T) {
	m := loadBatchedSum(t, 1<<20, 1)
	in, want := rowsOf(0, 4, 4)
	if got := runMerged(t, m, in); !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	p := m.batcher.binds
	if len(p.arenas) != 1 || p.arenas[0].bytes > 2*maxBindingBytes {
		t.Fatalf("%d idle arenas, the first of %d bytes; want one of at most %d", len(p.arenas), p.arenas[0].bytes, 2*maxBindingBytes)
	}
}
