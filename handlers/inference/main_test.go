package inference_test

import (
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

func TestMain(m *testing.M) { servertest.Main(m) }
