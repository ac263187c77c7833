"""Writes the benchmark request bodies, and the MLP's weights as .npz for
the FastAPI server, from the models make_models.py built.

Floats are written as Python's json module writes them (repr: up to 17
significant digits), which is what a Python client sends.

Usage: prepare.py MODELS_DIR OUT_DIR. Run with Debian's /usr/bin/python3."""
import json, os, struct, sys
import numpy as np
import onnx
from onnx import numpy_helper

models, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(42)
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# Means and spreads of the iris columns: realistic rows, full-precision floats.
MEAN, STD = np.array([5.84, 3.06, 3.76, 1.20]), np.array([0.83, 0.44, 1.77, 0.76])


def iris_rows(n):
    return np.abs(MEAN + STD * rng.standard_normal((n, 4))).tolist()


def mlp_rows(n):
    return rng.random((n, 784)).tolist()


def write(name, body):
    with open(os.path.join(out, name), "w") as f:
        json.dump(body, f)


write("iris_named.json", dict(zip(FEATURES, iris_rows(1)[0])))
write("iris_rows64.json", {"instances": iris_rows(64)})
write("mlp_b1.json", {"instances": mlp_rows(1)})
write("mlp_b32.json", {"instances": mlp_rows(32)})

# The Open Inference Protocol binary form of the batch-32 body: a JSON
# header, then the raw little-endian float32 tensor; the header's length
# goes in the Inference-Header-Content-Length request header.
x = np.asarray(mlp_rows(32), dtype="<f4")
header = json.dumps({
    "inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                "parameters": {"binary_data_size": x.nbytes}}],
    "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
}, separators=(",", ":")).encode()
with open(os.path.join(out, "mlp_b32.bin"), "wb") as f:
    f.write(header + x.tobytes())
with open(os.path.join(out, "mlp_b32.bin.hlen"), "w") as f:
    f.write(str(len(header)))

g = onnx.load(os.path.join(models, "mlp.onnx")).graph
np.savez(os.path.join(models, "mlp.npz"),
         **{t.name: numpy_helper.to_array(t) for t in g.initializer})
print("bodies:", sorted(os.listdir(out)))
