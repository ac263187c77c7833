#!/usr/bin/python3
"""Build the example and test ONNX models of onnxserve, with expected outputs.

Why the graphs are written by hand: the Debian python3 used here has numpy,
scikit-learn and onnx (apt packages python3-numpy python3-sklearn python3-onnx)
but neither skl2onnx nor onnxruntime. So each model is trained (or made up)
with numpy/scikit-learn and its ONNX graph is spelled out node by node with
onnx.helper. The expected outputs in each expected.json are computed with
numpy in float32, mirroring the graph's arithmetic, and are checked against
scikit-learn's own predictions where there is one. They never come from ONNX
Runtime, so the Go tests that replay them against ONNX Runtime check the
server against an independent source.

Run it (from anywhere; the repository root defaults to the parent of this
script's directory):

    /usr/bin/python3 scripts/export_models.py [REPO_ROOT]

Output is deterministic (fixed seeds, single-threaded BLAS): re-running it
rewrites byte-identical files.

Served models (under models/):
    iris/config.yaml, iris/1/model.onnx, iris/1/expected.json   (versioned layout)
    digits/config.yaml, digits/model.onnx, digits/expected.json (unversioned)
    tabular/config.yaml, tabular/model.onnx, tabular/expected.json
    digitview/config.yaml, digitview/model.onnx, digitview/expected.json
      (expected.json's "image.png" is the gray levels of the PNG of "image")
    digits/images/*.png and digits/images/expected.json: image files of two
      digits and the tensor row each must become (image-input tests)
Test-only images (under runtime/imagetensor/testdata/): wide.png, wide.jpg
    (12x8) and wide.expected.json, the rows of each resize mode
Test-only models (under runtime/testdata/), each <name>.onnx + <name>.expected.json:
    dtypes, half, scalar, zipmap, strings, slow, reshape, lookup, bytes, logits,
    sum, branches (branches.expected.json's first case has ok alone: picky
    refuses its x), scoped
    (bytes.expected.json holds only the words that are UTF-8, which is all
    JSON can; the tests of the one that is not spell it out, from
    BYTES_WORDS below)
e2e-only models (under e2e/models/, served by scripts/e2e.sh beside models/):
    large/config.yaml, large/model.onnx (no expected.json: it is there for the docs)

expected.json format: {"cases": [{"inputs": {name: nested list},
"outputs": {name: nested list}}, ...], "atol": float}. Nested lists follow
the tensor shape (a bare value for a rank-0 tensor); bool tensors are JSON
booleans, string tensors JSON strings, float16/bfloat16 tensors their exact
values as numbers, and sequence(map) outputs (ZipMap) a list with one JSON
object per row, keys written as strings. Integer outputs are meant to be
compared exactly; atol applies to floating-point values. float32 inputs are
written as the shortest decimal that parses back to the same float32 (5.1);
float32 outputs as their exact value (0.9815846681594849), so a comparison
holds whether the reader converts the expected number to float32 or the
actual one to float64.
"""

import os

# Single-threaded BLAS, so that training is reproducible bit for bit.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

IR_VERSION = 8
OPSET = helper.make_opsetid("", 13)
ML_OPSET = helper.make_opsetid("ai.onnx.ml", 3)
PRODUCER = "onnxserve-export"
PRODUCER_VERSION = "1"
BATCH = "batch"

F32 = np.float32


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------

def tensor(name, elem_type, shape):
    """A tensor ValueInfo; shape [] is a rank-0 scalar."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def seq_of_maps(name, key_type):
    """A ValueInfo of type seq(map(key_type, tensor(float))), as ZipMap emits."""
    t = onnx.TypeProto()
    m = t.sequence_type.elem_type.map_type
    m.key_type = key_type
    m.value_type.tensor_type.elem_type = TensorProto.FLOAT
    return helper.make_value_info(name, t)


def const(name, array):
    """An initializer from a numpy array (dtype kept as given)."""
    return numpy_helper.from_array(np.asarray(array), name)


def make_model(name, doc, nodes, inputs, outputs, initializers=(),
               ml=False, metadata=None):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs),
                              initializer=list(initializers))
    opsets = [OPSET] + ([ML_OPSET] if ml else [])
    model = helper.make_model(graph, opset_imports=opsets,
                              ir_version=IR_VERSION,
                              producer_name=PRODUCER,
                              producer_version=PRODUCER_VERSION,
                              doc_string=doc)
    if metadata:
        helper.set_model_props(model, metadata)
    check(model)
    return model


# onnx < 1.15 cannot run shape/type inference through map types at all
# ("type case unsupported for symbolic shape inference. inferred=5",
# onnx/onnx#5188), so a graph with ZipMap fails full_check there.
_MAP_INFERENCE_OK = tuple(
    int(p) for p in onnx.__version__.split(".")[:2]) >= (1, 15)


def check(model):
    """onnx.checker with full_check (strict type and shape inference)."""
    if _MAP_INFERENCE_OK or not any(n.op_type == "ZipMap"
                                    for n in model.graph.node):
        onnx.checker.check_model(model, full_check=True)
        return
    # Structural check of the whole model, then strict inference of
    # everything but the ZipMap nodes and their (map-typed) outputs.
    onnx.checker.check_model(model)
    rest = onnx.ModelProto()
    rest.CopyFrom(model)
    dropped = set()
    for node in list(rest.graph.node):
        if node.op_type == "ZipMap":
            dropped.update(node.output)
            rest.graph.node.remove(node)
    for out in list(rest.graph.output):
        if out.name in dropped:
            rest.graph.output.remove(out)
    onnx.checker.check_model(rest, full_check=True)


def save_model(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    # Check the bytes on disk too, not only the in-memory proto.
    check(onnx.load(path))
    print("wrote", path)


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote", path)


def _scalar_json(v, dtype, exact):
    if dtype == np.float32:
        if exact:
            # The float32 value exactly (shortest float64 repr): reads back
            # as the same number whether compared in float32 or float64.
            return float(np.float32(v))
        # Shortest decimal that reads back as the same float32 ("5.1").
        return float(repr(np.float32(v)))
    if dtype.kind == "f":  # float16 values are exact in float64; float64 as is
        return float(v)
    if dtype.kind in "iu":
        return int(v)
    if dtype.kind == "b":
        return bool(v)
    if dtype.kind in "OUS":
        return str(v)
    raise TypeError("unsupported dtype %s" % dtype)


def to_json(value, exact):
    """numpy arrays (any rank) -> nested lists; dicts/lists recursively."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _scalar_json(value[()], value.dtype, exact)
        return [to_json(v, exact) if isinstance(v, np.ndarray) else
                _scalar_json(v, value.dtype, exact) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, exact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, exact) for v in value]
    if isinstance(value, np.generic):
        return _scalar_json(value, value.dtype, exact)
    return value


def write_expected(path, cases, atol):
    """cases: list of (inputs dict, outputs dict) of numpy arrays/lists."""
    lines = []
    for inputs, outputs in cases:
        case = {"inputs": {k: to_json(v, False) for k, v in inputs.items()},
                "outputs": {k: to_json(v, True) for k, v in outputs.items()}}
        lines.append("  " + json.dumps(case, ensure_ascii=False,
                                       allow_nan=False))
    text = ('{"cases": [\n' + ",\n".join(lines) + "\n],\n"
            ' "atol": ' + json.dumps(atol) + "}\n")
    json.loads(text)  # sanity
    write_text(path, text)


def softmax32(z):
    z = z.astype(F32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(F32)


def assert_clear_argmax(logits, min_gap=1e-2):
    """Top class must win by a margin float32 rounding cannot overturn."""
    s = np.sort(logits, axis=1)
    gap = s[:, -1] - s[:, -2]
    assert np.all(gap > min_gap), "near-tie in argmax: %s" % gap


# --------------------------------------------------------------------------
# Served models
# --------------------------------------------------------------------------

def export_iris(root):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    X, y = iris.data, iris.target
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    W = clf.coef_.astype(F32)        # (3, 4)
    b = clf.intercept_.astype(F32)   # (3,)

    nodes = [
        helper.make_node("Gemm", ["X", "coef", "intercept"], ["logits"],
                         transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1,
                         keepdims=0),
    ]
    model = make_model(
        "iris",
        "Iris species classifier: multinomial logistic regression on the "
        "4 iris measurements (cm); label 0=setosa 1=versicolor 2=virginica.",
        nodes,
        [tensor("X", TensorProto.FLOAT, [BATCH, 4])],
        [tensor("label", TensorProto.INT64, [BATCH]),
         tensor("probabilities", TensorProto.FLOAT, [BATCH, 3])],
        [const("coef", W), const("intercept", b)],
        metadata={"dataset": "iris",
                  "trained_with": "sklearn LogisticRegression"})
    save_model(model, os.path.join(root, "models/iris/1/model.onnx"))

    def run(x, want):
        x = np.asarray(x, dtype=F32)
        logits = (x @ W.T + b).astype(F32)
        assert_clear_argmax(logits, min_gap=0.5)
        probs = softmax32(logits)
        label = logits.argmax(axis=1).astype(np.int64)
        assert label.tolist() == want, (label, want)
        # Independent check against sklearn (float64).
        assert np.array_equal(label, clf.predict(x.astype(np.float64)))
        assert np.allclose(probs, clf.predict_proba(x.astype(np.float64)),
                           atol=1e-5)
        return {"X": x}, {"label": label, "probabilities": probs}

    rows = X.astype(F32)
    cases = [
        run(rows[[0]], [0]),                 # setosa 5.1,3.5,1.4,0.2
        run(rows[[50, 100, 1]], [1, 2, 0]),  # versicolor, virginica, setosa
        run(rows[[149, 60, 25]], [2, 1, 0]),  # virginica, versicolor, setosa
        run([[6.0, 2.9, 4.5, 1.5],           # hand-made, not in the data set
             [5.0, 3.4, 1.5, 0.2],
             [7.2, 3.0, 5.8, 1.6],
             [6.4, 3.1, 5.5, 1.8]], [1, 0, 2, 2]),
    ]
    labels_seen = set()
    for _, out in cases:
        labels_seen.update(out["label"].tolist())
    assert labels_seen == {0, 1, 2}
    write_expected(os.path.join(root, "models/iris/1/expected.json"), cases,
                   atol=1e-4)
    write_text(os.path.join(root, "models/iris/config.yaml"),
               "description: Iris flower species from sepal and petal "
               "measurements (cm); logistic regression trained on the "
               "classic iris data set.\n"
               "features: [sepal_length, sepal_width, petal_length, "
               "petal_width]\n"
               "labels: [setosa, versicolor, virginica]\n"
               "max_batch_size: 64\n"
               "# prefilled in the API docs' \"Try it out\"\n"
               "example: {sepal_length: 5.1, sepal_width: 3.5, "
               "petal_length: 1.4, petal_width: 0.2}\n")


def export_digits(root):
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    X, y = digits.data, digits.target          # pixels are 0..16
    clf = MLPClassifier(hidden_layer_sizes=(64, 32), activation="relu",
                        max_iter=500, random_state=0).fit(X / 16.0, y)
    Ws = [w.astype(F32) for w in clf.coefs_]       # (64,64) (64,32) (32,10)
    bs = [b.astype(F32) for b in clf.intercepts_]
    assert clf.out_activation_ == "softmax"

    nodes = [helper.make_node("Mul", ["pixels", "inv16"], ["scaled"])]
    prev = "scaled"
    for i in range(len(Ws)):
        gemm = [prev, "W%d" % i, "b%d" % i]
        if i == len(Ws) - 1:
            nodes.append(helper.make_node("Gemm", gemm, ["logits"]))
        else:
            prev = "h%d" % i
            nodes.append(helper.make_node("Gemm", gemm, [prev + "_lin"]))
            nodes.append(helper.make_node("Relu", [prev + "_lin"], [prev]))
    nodes += [
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1,
                         keepdims=0),
    ]
    inits = [const("inv16", np.array(1.0 / 16.0, dtype=F32))]
    for i, (w, b) in enumerate(zip(Ws, bs)):
        inits += [const("W%d" % i, w), const("b%d" % i, b)]
    model = make_model(
        "digits",
        "Handwritten digit classifier (sklearn 8x8 digits): MLP 64-64-32-10 "
        "with ReLU; input is the 64 raw pixel values 0..16, row-major.",
        nodes,
        [tensor("pixels", TensorProto.FLOAT, [BATCH, 64])],
        [tensor("probabilities", TensorProto.FLOAT, [BATCH, 10]),
         tensor("label", TensorProto.INT64, [BATCH])],
        inits,
        metadata={"dataset": "digits (sklearn load_digits)",
                  "trained_with": "sklearn MLPClassifier"})
    save_model(model, os.path.join(root, "models/digits/model.onnx"))

    def run(idx):
        x = X[idx].astype(F32)
        h = (x * F32(1.0 / 16.0)).astype(F32)
        for i, (w, b) in enumerate(zip(Ws, bs)):
            h = (h @ w + b).astype(F32)
            if i < len(Ws) - 1:
                h = np.maximum(h, F32(0))
        assert_clear_argmax(h)
        probs = softmax32(h)
        label = h.argmax(axis=1).astype(np.int64)
        assert np.array_equal(label, clf.predict(X[idx] / 16.0))
        assert np.array_equal(label, y[idx])
        assert np.allclose(probs, clf.predict_proba(X[idx] / 16.0),
                           atol=1e-5)
        return {"pixels": x}, {"probabilities": probs, "label": label}

    cases = [run([0]), run([1, 2, 3]), run([4, 5, 6, 7, 8]), run([9, 10, 11])]
    write_expected(os.path.join(root, "models/digits/expected.json"), cases,
                   atol=1e-4)
    export_digit_images(root, X, y)
    write_text(os.path.join(root, "models/digits/config.yaml"),
               "description: Handwritten digit recognition on 8x8 grayscale "
               "images (64 pixel values 0..16, row-major); a small MLP "
               "trained on the sklearn digits data set.\n"
               "labels: [zero, one, two, three, four, five, six, seven, "
               "eight, nine]\n"
               "max_batch_size: 256\n"
               "# image files (PNG, JPEG) as multipart/form-data: gray, 8x8,\n"
               "# each pixel 0..255 scaled to the data set's 0..16\n"
               "inputs:\n"
               "  pixels:\n"
               "    image: {layout: flat, channels: gray, size: [8, 8], "
               "scale: %r}\n" % DIGIT_SCALE)


def png_gray(x, lo, hi):
    """The 8-bit gray levels an image output's PNG holds, as the server
    must write them: (x - lo) / (hi - lo) clipped to [0, 1], times 255,
    rounded half up."""
    x = np.asarray(x, dtype=np.float64)
    return np.floor(np.clip((x - lo) / (hi - lo), 0.0, 1.0) * 255.0
                    + 0.5).astype(np.int64)


def export_digitview(root):
    """A model whose output is an image: the 64 digit pixels (0..16) as a
    1x32x32 picture scaled to 0..1 (each pixel 4x4, nearest). Its
    config.yaml declares the output an image with range [0, 1], so it can
    come back as a PNG; expected.json holds the PNG's gray levels too."""
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(F32)
    scale = 4
    nodes = [
        helper.make_node("Mul", ["pixels", "inv16"], ["unit"]),
        helper.make_node("Reshape", ["unit", "shape"], ["small"]),
        helper.make_node("Resize", ["small", "", "scales"], ["image"],
                         mode="nearest"),
    ]
    model = make_model(
        "digitview",
        "The 8x8 digit (64 pixels 0..16) as a 1x32x32 image in 0..1.",
        nodes,
        [tensor("pixels", TensorProto.FLOAT, [BATCH, 64])],
        [tensor("image", TensorProto.FLOAT, [BATCH, 1, 32, 32])],
        [const("inv16", np.array(1.0 / 16.0, dtype=F32)),
         const("shape", np.array([-1, 1, 8, 8], dtype=np.int64)),
         const("scales", np.array([1, 1, scale, scale], dtype=F32))])
    save_model(model, os.path.join(root, "models/digitview/model.onnx"))

    def run(idx):
        x = X[idx]
        unit = (x * F32(1.0 / 16.0)).astype(F32).reshape(-1, 1, 8, 8)
        image = unit.repeat(scale, axis=2).repeat(scale, axis=3)
        return ({"pixels": x},
                {"image": image, "image.png": png_gray(image[:, 0], 0.0, 1.0)})

    cases = [run([0]), run([1, 2])]
    write_expected(os.path.join(root, "models/digitview/expected.json"),
                   cases, atol=0.0)
    write_text(os.path.join(root, "models/digitview/config.yaml"),
               "description: Shows an 8x8 handwritten digit (64 pixel values "
               "0..16, row-major, as the digits model takes) as a 32x32 "
               "picture; ask for it as a PNG with the header Accept "
               "image/png (the response content type in the API docs).\n"
               "outputs:\n"
               "  image:\n"
               "    image: {range: [0, 1]}\n"
               "# the first digit of the sklearn data set, a zero\n"
               "example: {inputs: {pixels: [%s]}}\n"
               % json.dumps([float(v) for v in X[0]]))


# An image file's 0..255 gray level becomes digits' 0..16.
DIGIT_SCALE = 16.0 / 255.0


def export_digit_images(root, X, y):
    """Committed image files of digits for the image-input tests: the
    data set's pixels (0..16) as 8-bit gray (p = round(v * 255 / 16)), one
    8x8 PNG and one 32x32 PNG (each pixel 4x4, to be resized back), and
    the tensor row the server must make of each, computed here with numpy
    as config.yaml says (p * 16/255, nearest pixel centre when resizing)."""
    from PIL import Image

    out = os.path.join(root, "models/digits/images")
    os.makedirs(out, exist_ok=True)
    cases = []
    for name, idx, scale in (("zero_8x8.png", 0, 1), ("four_32x32.png", 4, 4)):
        p = np.round(X[idx] * 255.0 / 16.0).astype(np.uint8).reshape(8, 8)
        big = p.repeat(scale, axis=0).repeat(scale, axis=1)
        Image.fromarray(big, mode="L").save(os.path.join(out, name))
        print("wrote", os.path.join(out, name))
        # What the server must compute: nearest source pixel centre of each
        # of the 8x8 targets, times the scale, in float64, then float32.
        n = big.shape[0]
        src = (2 * np.arange(8) + 1) * n // 16
        row = (big[np.ix_(src, src)].astype(np.float64)
               * DIGIT_SCALE).astype(F32).reshape(1, 64)
        cases.append({"file": name, "pixels": to_json(row, True),
                      "label": int(y[idx])})
    write_text(os.path.join(out, "expected.json"),
               json.dumps({"cases": cases}, indent=1) + "\n")


def export_tabular(root):
    """Loan default risk: float features + an int64 category, three outputs."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20240601)
    n = 4000
    income = rng.uniform(15.0, 150.0, n)         # thousand EUR per year
    debt = rng.uniform(0.0, 0.8, n)              # debt-to-income ratio
    years = rng.uniform(0.0, 30.0, n)            # years employed
    purpose = rng.integers(0, 5, n)              # car home education business other
    effect = np.array([0.0, -0.6, 0.3, 0.9, 0.4])
    true_logit = (0.5 - 0.025 * income + 4.0 * debt - 0.06 * years
                  + effect[purpose])
    default = rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-true_logit))

    num = np.stack([income, debt, years], axis=1)
    mean, std = num.mean(axis=0), num.std(axis=0)
    onehot = np.eye(5)[purpose]
    feats = np.hstack([(num - mean) / std, onehot])
    clf = LogisticRegression(max_iter=1000).fit(feats, default)
    coef, icpt = clf.coef_[0], clf.intercept_[0]
    # Fold standardisation and intercept into raw-unit weights + bias table.
    w = (coef[:3] / std).astype(F32)
    table = (icpt - np.sum(coef[:3] * mean / std) + coef[3:]).astype(F32)
    threshold = np.array(0.5, dtype=F32)
    edges = np.array([0.25, 0.5, 0.75], dtype=F32)

    nodes = [
        helper.make_node("MatMul", ["numeric", "weights"], ["linear"]),
        helper.make_node("Gather", ["purpose_bias", "category"], ["bias"],
                         axis=0),
        helper.make_node("Add", ["linear", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
        helper.make_node("Greater", ["score", "threshold"], ["flag"]),
        helper.make_node("Unsqueeze", ["score", "axis1"], ["score_col"]),
        helper.make_node("Greater", ["score_col", "edges"], ["above"]),
        helper.make_node("Cast", ["above"], ["above_i64"],
                         to=TensorProto.INT64),
        helper.make_node("ReduceSum", ["above_i64", "axis1"], ["bucket"],
                         keepdims=0),
    ]
    model = make_model(
        "tabular",
        "Loan default risk: numeric=[income (kEUR/yr), debt ratio, years "
        "employed], category=loan purpose 0..4 (car, home, education, "
        "business, other); score=P(default), flag=score>0.5, "
        "bucket=risk band 0..3 (edges .25/.5/.75).",
        nodes,
        [tensor("numeric", TensorProto.FLOAT, [BATCH, 3]),
         tensor("category", TensorProto.INT64, [BATCH])],
        [tensor("score", TensorProto.FLOAT, [BATCH]),
         tensor("flag", TensorProto.BOOL, [BATCH]),
         tensor("bucket", TensorProto.INT64, [BATCH])],
        [const("weights", w), const("purpose_bias", table),
         const("threshold", threshold), const("edges", edges),
         const("axis1", np.array([1], dtype=np.int64))],
        metadata={"dataset": "synthetic loan applications (numpy seed "
                             "20240601)",
                  "trained_with": "sklearn LogisticRegression"})
    save_model(model, os.path.join(root, "models/tabular/model.onnx"))

    def run(numeric, category):
        x = np.asarray(numeric, dtype=F32)
        c = np.asarray(category, dtype=np.int64)
        logit = (x @ w + table[c]).astype(F32)
        score = (F32(1) / (F32(1) + np.exp(-logit))).astype(F32)
        # Keep clear of the thresholds so rounding cannot flip flag/bucket.
        assert np.all(np.abs(score[:, None] - edges[None, :]) > 0.01), score
        flag = score > threshold
        bucket = (score[:, None] > edges[None, :]).sum(axis=1).astype(np.int64)
        ref = clf.predict_proba(np.hstack([(x - mean) / std,
                                           np.eye(5)[c]]))[:, 1]
        assert np.allclose(score, ref, atol=1e-5)
        return ({"numeric": x, "category": c},
                {"score": score, "flag": flag, "bucket": bucket})

    cases = [
        run([[45.0, 0.35, 4.0]], [0]),
        run([[120.0, 0.1, 20.0], [22.5, 0.7, 0.5], [60.0, 0.45, 8.0]],
            [1, 3, 2]),
        run([[30.0, 0.6, 2.0], [85.0, 0.25, 12.0], [18.0, 0.75, 1.0],
             [50.0, 0.4, 6.0]], [4, 0, 3, 1]),
    ]
    buckets = set()
    for _, out in cases:
        buckets.update(out["bucket"].tolist())
    print("tabular buckets covered:", sorted(buckets))
    write_expected(os.path.join(root, "models/tabular/expected.json"), cases,
                   atol=1e-4)
    write_text(os.path.join(root, "models/tabular/config.yaml"),
               "description: Loan default risk from income (kEUR/yr), debt "
               "ratio and years employed (input numeric) plus loan purpose "
               "id 0-4 = car, home, education, business, other (input "
               "category); outputs the default probability (score), "
               "score > 0.5 (flag) and a risk band 0-3 (bucket). Logistic "
               "regression on synthetic data.\n"
               "example: {inputs: {numeric: [[45.0, 0.35, 4.0]], "
               "category: [0]}}\n")


# --------------------------------------------------------------------------
# Test-only models (runtime/testdata)
# --------------------------------------------------------------------------

def export_dtypes(root):
    types = [
        ("f32", TensorProto.FLOAT, np.float32,
         [[1.5, -0.25], [0.1, -3e38]]),
        ("f64", TensorProto.DOUBLE, np.float64,
         [[0.1, -2.5], [1.7976931348623157e308, 2.2250738585072014e-308]]),
        ("i8", TensorProto.INT8, np.int8, [[-128, 127], [0, -1]]),
        ("i16", TensorProto.INT16, np.int16, [[-32768, 32767], [0, -1]]),
        ("i32", TensorProto.INT32, np.int32,
         [[-2147483648, 2147483647], [0, -1]]),
        ("i64", TensorProto.INT64, np.int64,
         [[-(2 ** 53), 2 ** 53], [0, -1]]),
        ("u8", TensorProto.UINT8, np.uint8, [[0, 255], [1, 128]]),
        ("u16", TensorProto.UINT16, np.uint16, [[0, 65535], [1, 32768]]),
        ("u32", TensorProto.UINT32, np.uint32,
         [[0, 4294967295], [1, 2147483648]]),
        ("u64", TensorProto.UINT64, np.uint64,
         [[0, 2 ** 53], [1, 4294967296]]),
        ("b", TensorProto.BOOL, np.bool_, [[True, False], [False, True]]),
        ("s", TensorProto.STRING, object,
         [["héllo", ""], ["日本語 🙂", "with \"quotes\" and \\ and \n"]]),
    ]
    nodes, ins, outs = [], [], []
    for name, et, _, _ in types:
        nodes.append(helper.make_node("Identity", [name], [name + "_out"]))
        ins.append(tensor(name, et, [BATCH, 2]))
        outs.append(tensor(name + "_out", et, [BATCH, 2]))
    model = make_model("dtypes",
                       "Identity for every plain tensor element type.",
                       nodes, ins, outs)
    save_model(model, os.path.join(root, "runtime/testdata/dtypes.onnx"))

    def case(rows):
        inputs, outputs = {}, {}
        for name, _, dt, vals in types:
            arr = np.array([vals[r] for r in rows], dtype=dt)
            if dt is object:
                arr = np.array([[str(s) for s in row] for row in arr],
                               dtype=object)
            inputs[name] = arr
            outputs[name + "_out"] = arr
        return inputs, outputs

    write_expected(os.path.join(root, "runtime/testdata/dtypes.expected.json"),
                   [case([0, 1]), case([1])], atol=0.0)


def to_bfloat16_values(x):
    """float32 -> bfloat16 (round to nearest even), returned as float32."""
    bits = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (rounded.astype(np.uint32) << 16).view(F32)


def export_half(root):
    nodes = [
        helper.make_node("Cast", ["x"], ["y16"], to=TensorProto.FLOAT16),
        helper.make_node("Cast", ["x"], ["ybf16"], to=TensorProto.BFLOAT16),
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
    ]
    model = make_model(
        "half",
        "Casts float32 to float16 and bfloat16; total is a rank-0 sum.",
        nodes,
        [tensor("x", TensorProto.FLOAT, [BATCH, 3])],
        [tensor("y16", TensorProto.FLOAT16, [BATCH, 3]),
         tensor("ybf16", TensorProto.BFLOAT16, [BATCH, 3]),
         tensor("total", TensorProto.FLOAT, [])])
    save_model(model, os.path.join(root, "runtime/testdata/half.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        y16 = x.astype(np.float16)
        ybf = to_bfloat16_values(x)
        # Inputs chosen exactly representable in both half formats.
        assert np.array_equal(y16.astype(F32), x)
        assert np.array_equal(ybf, x)
        total = np.array(x.sum(dtype=np.float64), dtype=F32)
        assert float(total) == float(x.sum(dtype=np.float64))  # exact
        return {"x": x}, {"y16": y16, "ybf16": ybf, "total": total}

    cases = [run([[1.5, -2.0, 0.25]]),
             run([[0.0, 1024.0, -0.125], [3.0, 0.5, -96.0],
                  [0.0078125, -7.5, 12.0]])]
    write_expected(os.path.join(root, "runtime/testdata/half.expected.json"),
                   cases, atol=1e-6)


def export_scalar(root):
    model = make_model(
        "scalar",
        "y = x * scale with a rank-0 scale input.",
        [helper.make_node("Mul", ["x", "scale"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [BATCH, 2]),
         tensor("scale", TensorProto.FLOAT, [])],
        [tensor("y", TensorProto.FLOAT, [BATCH, 2])])
    save_model(model, os.path.join(root, "runtime/testdata/scalar.onnx"))

    def run(x, s):
        x = np.asarray(x, dtype=F32)
        s = np.array(s, dtype=F32)
        return {"x": x, "scale": s}, {"y": (x * s).astype(F32)}

    cases = [run([[1.0, -2.0]], 2.5),
             run([[0.5, 4.0], [-1.25, 0.75], [3.0, 10.0]], -0.5),
             run([[1.1, 2.2]], 3.0)]
    write_expected(os.path.join(root, "runtime/testdata/scalar.expected.json"),
                   cases, atol=1e-5)


def export_zipmap(root):
    nodes = [
        helper.make_node("Softmax", ["x"], ["probabilities"], axis=1),
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"],
                         domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]),
        helper.make_node("ZipMap", ["probabilities"], ["named_probability"],
                         domain="ai.onnx.ml",
                         classlabels_strings=["cat", "dog", "fox"]),
    ]
    model = make_model(
        "zipmap",
        "Softmax plus ai.onnx.ml ZipMap with int64 and string class labels "
        "(sequence-of-map outputs).",
        nodes,
        [tensor("x", TensorProto.FLOAT, [BATCH, 3])],
        [tensor("probabilities", TensorProto.FLOAT, [BATCH, 3]),
         seq_of_maps("output_probability", TensorProto.INT64),
         seq_of_maps("named_probability", TensorProto.STRING)],
        ml=True)
    save_model(model, os.path.join(root, "runtime/testdata/zipmap.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        p = softmax32(x)
        by_id = [{str(k): p[i, k] for k in range(3)} for i in range(len(p))]
        by_name = [dict(zip(["cat", "dog", "fox"], p[i]))
                   for i in range(len(p))]
        return {"x": x}, {"probabilities": p, "output_probability": by_id,
                          "named_probability": by_name}

    cases = [run([[0.5, 1.0, 2.0]]),
             run([[0.0, 0.0, 0.0], [3.0, -1.0, 0.5], [-2.0, 4.0, 1.0]])]
    write_expected(os.path.join(root, "runtime/testdata/zipmap.expected.json"),
                   cases, atol=1e-5)


def export_strings(root):
    keys = ["red", "green", "blue"]
    nodes = [
        helper.make_node("Identity", ["text"], ["same"]),
        helper.make_node("LabelEncoder", ["text"], ["code"],
                         domain="ai.onnx.ml", keys_strings=keys,
                         values_int64s=[0, 1, 2], default_int64=-1),
    ]
    model = make_model(
        "strings",
        "String tensor in and out, plus ai.onnx.ml LabelEncoder "
        "red/green/blue -> 0/1/2 (else -1).",
        nodes,
        [tensor("text", TensorProto.STRING, [BATCH])],
        [tensor("same", TensorProto.STRING, [BATCH]),
         tensor("code", TensorProto.INT64, [BATCH])],
        ml=True)
    save_model(model, os.path.join(root, "runtime/testdata/strings.onnx"))

    def run(words):
        t = np.array(words, dtype=object)
        code = np.array([keys.index(w) if w in keys else -1 for w in words],
                        dtype=np.int64)
        return {"text": t}, {"same": t, "code": code}

    cases = [run(["green"]),
             run(["red", "blue", "purple", "", "Red", "grün"])]
    write_expected(os.path.join(root, "runtime/testdata/strings.expected.json"),
                   cases, atol=0.0)


def export_normalize(root):
    """StringNormalizer lowering case, its locale left to ONNX Runtime's
    default: on Linux it builds the locale en_US.UTF-8 when it creates the
    session, and the load fails on a system without it. deploy/image_test.go serves it with only
    the container image's locale, to show the image has it."""
    nodes = [helper.make_node("StringNormalizer", ["text"], ["lower"],
                              case_change_action="LOWER")]
    model = make_model(
        "normalize",
        "StringNormalizer LOWER in the default locale: needs en_US.UTF-8 to load.",
        nodes,
        [tensor("text", TensorProto.STRING, [BATCH])],
        [tensor("lower", TensorProto.STRING, [BATCH])])
    save_model(model, os.path.join(root, "deploy/testdata/normalize/model.onnx"))

    def run(words):
        return ({"text": np.array(words, dtype=object)},
                {"lower": np.array([w.lower() for w in words], dtype=object)})

    cases = [run(["Grün", "ÉTÉ", "abc"])]
    write_expected(os.path.join(root, "deploy/testdata/normalize/expected.json"),
                   cases, atol=0.0)


def export_slow(root):
    """A model whose run takes as long as its batch is large: SLOW_STEPS
    chained MatMuls by the identity. Tests of deadlines send a big batch
    and check that the run stops between two MatMuls (ONNX Runtime's
    terminate flag is read between nodes), long before the chain ends;
    a row or two run in no time, and y equals x exactly."""
    steps, width = 256, 256
    eye = np.eye(width, dtype=F32)
    nodes, prev = [], "x"
    for i in range(steps):
        out = "y" if i == steps - 1 else "h%d" % i
        nodes.append(helper.make_node("MatMul", [prev, "eye"], [out]))
        prev = out
    model = make_model(
        "slow",
        "y = x @ I, %d times: a run whose length grows with the batch." % steps,
        nodes,
        [tensor("x", TensorProto.FLOAT, [BATCH, width])],
        [tensor("y", TensorProto.FLOAT, [BATCH, width])],
        initializers=[const("eye", eye)])
    save_model(model, os.path.join(root, "runtime/testdata/slow.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        return {"x": x}, {"y": x}

    rows = np.linspace(-2.0, 2.0, 2 * width, dtype=F32).reshape(2, width)
    cases = [run(rows[:1]), run(rows)]
    write_expected(os.path.join(root, "runtime/testdata/slow.expected.json"),
                   cases, atol=0.0)


def export_logits(root):
    """Two float outputs of 3 classes each, the raw logits (Identity) and
    their softmax: labels match both, so config.yaml must say which one
    with labels_output; with softmax: true the logits' predictions are
    probabilities."""
    nodes = [helper.make_node("Identity", ["x"], ["logits"]),
             helper.make_node("Softmax", ["x"], ["probabilities"], axis=1)]
    model = make_model(
        "logits", "logits = x, probabilities = softmax(x) over 3 classes.",
        nodes,
        [tensor("x", TensorProto.FLOAT, [BATCH, 3])],
        [tensor("logits", TensorProto.FLOAT, [BATCH, 3]),
         tensor("probabilities", TensorProto.FLOAT, [BATCH, 3])])
    save_model(model, os.path.join(root, "runtime/testdata/logits.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        assert_clear_argmax(x)
        return {"x": x}, {"logits": x, "probabilities": softmax32(x)}

    cases = [run([[2.0, -1.0, 0.5]]),
             run([[0.1, 3.0, -2.0], [-4.0, -5.0, 1.25], [10.0, 9.0, -30.0]])]
    write_expected(os.path.join(root, "runtime/testdata/logits.expected.json"),
                   cases, atol=1e-6)


# bytes.onnx's table: code i gives BYTES_WORDS[i]; the last is not UTF-8.
BYTES_WORDS = [b"plain", "caf\u00e9".encode("utf-8"), b"\xffraw\xfe"]


def export_bytes(root):
    """A string output whose bytes need not be UTF-8: an int64 code looked
    up in BYTES_WORDS (else the empty string), so that tests can have a
    model answer bytes a JSON string cannot carry."""
    nodes = [helper.make_node("LabelEncoder", ["code"], ["word"],
                              domain="ai.onnx.ml",
                              keys_int64s=list(range(len(BYTES_WORDS))),
                              values_strings=BYTES_WORDS,
                              default_string="")]
    model = make_model(
        "bytes",
        "ai.onnx.ml LabelEncoder 0/1/2 -> plain / caf\u00e9 / "
        "bytes 0xff 'raw' 0xfe (not UTF-8); else empty.",
        nodes,
        [tensor("code", TensorProto.INT64, [BATCH])],
        [tensor("word", TensorProto.STRING, [BATCH])],
        ml=True)
    save_model(model, os.path.join(root, "runtime/testdata/bytes.onnx"))

    def run(codes):
        words = [BYTES_WORDS[c].decode("utf-8") if 0 <= c < len(BYTES_WORDS)
                 else "" for c in codes]
        return ({"code": np.array(codes, dtype=np.int64)},
                {"word": np.array(words, dtype=object)})

    cases = [run([0]), run([1, 0, 7, -1])]
    write_expected(os.path.join(root, "runtime/testdata/bytes.expected.json"),
                   cases, atol=0.0)


def export_reshape(root):
    """A run ONNX Runtime refuses for some inputs only: x [batch, n], n
    dynamic, reshaped to [-1, 32], which needs batch*n to be a multiple of
    32. The signature cannot say so; the Reshape kernel finds out at run
    time ("The input tensor cannot be reshaped to the requested shape"),
    and the server must answer that as the request's fault."""
    model = make_model(
        "reshape",
        "y = reshape(x, [-1, 32]): batch*n must be a multiple of 32.",
        [helper.make_node("Reshape", ["x", "to"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [BATCH, "n"])],
        [tensor("y", TensorProto.FLOAT, ["rows", 32])],
        initializers=[const("to", np.array([-1, 32], dtype=np.int64))])
    save_model(model, os.path.join(root, "runtime/testdata/reshape.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        return {"x": x}, {"y": x.reshape(-1, 32)}

    cases = [run(np.arange(64, dtype=F32).reshape(1, 64) / 8),
             run(np.arange(96, dtype=F32).reshape(3, 32) - 48)]
    write_expected(os.path.join(root, "runtime/testdata/reshape.expected.json"),
                   cases, atol=0.0)


# lookup.onnx's table: index i gives LOOKUP_TABLE[i].
LOOKUP_TABLE = [10.0, 20.0, 30.0]


def export_lookup(root):
    """value = table[index]: row by row, so requests can be merged by
    dynamic batching, and refused at run time for an index out of the
    table's range (Gather: "indices element out of data bounds"), which
    no signature can say: one request's bad index must not refuse the
    others merged with it."""
    model = make_model(
        "lookup",
        "value = [10, 20, 30][index]; an index out of 0..2 is refused.",
        [helper.make_node("Gather", ["table", "index"], ["value"], axis=0)],
        [tensor("index", TensorProto.INT64, [BATCH])],
        [tensor("value", TensorProto.FLOAT, [BATCH])],
        initializers=[const("table", np.array(LOOKUP_TABLE, dtype=F32))])
    save_model(model, os.path.join(root, "runtime/testdata/lookup.onnx"))

    def run(index):
        index = np.array(index, dtype=np.int64)
        return ({"index": index},
                {"value": np.array(LOOKUP_TABLE, dtype=F32)[index]})

    cases = [run([1]), run([0, 2, 1])]
    write_expected(os.path.join(root, "runtime/testdata/lookup.expected.json"),
                   cases, atol=0.0)


def export_large(root):
    """An e2e-only model with a 3x1024x1024 image input (3,145,728 values
    a row) and a small output, the channel means: the API docs must stay
    small and the Swagger UI fast for it. ReduceMean has no weights, so the
    file is a few hundred bytes."""
    size = 1024
    nodes = [helper.make_node("ReduceMean", ["image"], ["channel_mean"],
                              axes=[2, 3], keepdims=0)]
    model = make_model(
        "large",
        "Mean of each channel of a 3x%dx%d image." % (size, size),
        nodes,
        [tensor("image", TensorProto.FLOAT, [BATCH, 3, size, size])],
        [tensor("channel_mean", TensorProto.FLOAT, [BATCH, 3])])
    save_model(model, os.path.join(root, "e2e/models/large/model.onnx"))
    write_text(os.path.join(root, "e2e/models/large/config.yaml"),
               "description: Mean of each channel of a 3x%dx%d image "
               "(e2e only; a large input for the API docs).\n"
               "max_batch_size: 1\n" % (size, size))


def export_sum(root):
    """s = the sum of each row of x, FLOAT [batch, n]: a model whose input
    can be as large as a request body while its answer stays one number a
    row, for the tests and the soak that measure the memory one request
    takes (the body and its decoded tensor, not the answer)."""
    model = make_model(
        "sum",
        "s = ReduceSum(x, axis 1): a big input, a small answer.",
        [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0)],
        [tensor("x", TensorProto.FLOAT, [BATCH, "n"])],
        [tensor("s", TensorProto.FLOAT, [BATCH])],
        initializers=[const("axes", np.array([1], dtype=np.int64))])
    save_model(model, os.path.join(root, "runtime/testdata/sum.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        return {"x": x}, {"s": x.sum(axis=1, dtype=F32)}

    cases = [run([[1.0, 2.0, 3.5]]), run([[0.5] * 8, [-1.0] * 8])]
    write_expected(os.path.join(root, "runtime/testdata/sum.expected.json"),
                   cases, atol=1e-6)


# branches.onnx's picky table: picky = BRANCHES_TABLE[int(x)].
BRANCHES_TABLE = [10.0, 20.0, 30.0]


def export_branches(root):
    """Two outputs of one input x FLOAT [batch, 16], on branches that share
    nothing: ok = x * 2, which works for any x, and picky =
    [10, 20, 30][int(x)], which ONNX Runtime refuses at run time for an x
    of 3 or more (Gather: "indices element out of data bounds"). It pins
    that ONNX Runtime runs every node of a session's graph whatever outputs
    a run fetches (a binding of ok alone is still refused for such an x),
    and that a request for ok alone, on a session over ok's part of the
    graph, is answered (runtime/outputs_test.go)."""
    model = make_model(
        "branches",
        "ok = x * 2; picky = [10, 20, 30][int(x)], refused for x >= 3.",
        [helper.make_node("Mul", ["x", "two"], ["ok"]),
         helper.make_node("Cast", ["x"], ["index"], to=TensorProto.INT64),
         helper.make_node("Gather", ["table", "index"], ["picky"], axis=0)],
        [tensor("x", TensorProto.FLOAT, [BATCH, 16])],
        [tensor("ok", TensorProto.FLOAT, [BATCH, 16]),
         tensor("picky", TensorProto.FLOAT, [BATCH, 16])],
        initializers=[const("two", np.array(2.0, dtype=F32)),
                      const("table", np.array(BRANCHES_TABLE, dtype=F32))])
    save_model(model, os.path.join(root, "runtime/testdata/branches.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        outs = {"ok": x * F32(2)}
        index = x.astype(np.int64)  # truncates, as ONNX's Cast
        outs["picky"] = np.array(BRANCHES_TABLE, dtype=F32)[index]
        return {"x": x}, outs

    # x stays under 3, so the case has both outputs, as every case of a
    # test model must (the gRPC e2e asks for each of them); the x picky
    # refuses is made by runtime/outputs_test.go itself.
    cases = [run((np.arange(32, dtype=F32).reshape(2, 16) % 3) + F32(0.5))]
    write_expected(os.path.join(root, "runtime/testdata/branches.expected.json"),
                   cases, atol=0.0)


# scoped.onnx's scale, which only its nested If's branches read.
SCOPED_SCALE = [1.0, 2.0, 3.0, 4.0]


def export_scoped(root):
    """Two outputs of one input x FLOAT [batch, 4], one of them through
    subgraphs that read the outer graph's values (scope): branched = If
    (sum(x) > 0) then (If (sum(x) > 10) then (x + 1) * scale else (x + 1) +
    scale) else -(x + 1), and plain = x * 3 on a branch of its own. The
    outer names shift (x + 1), big (sum(x) > 10) and scale are read only
    inside the If's branches, scale and big only in the nested If's, so a
    graph cut down to branched (runtime/onnxgraph) must keep the nodes and
    initializers that subgraphs use as well as those the If's own inputs
    name; cut down to plain, it keeps Mul and three alone."""
    def branch(name, nodes, out):
        return helper.make_graph(nodes, name, [],
                                 [tensor(out, TensorProto.FLOAT, [BATCH, 4])])

    inner_then = branch("inner_then", [helper.make_node("Mul", ["shift", "scale"], ["scaled"])], "scaled")
    inner_else = branch("inner_else", [helper.make_node("Add", ["shift", "scale"], ["offset"])], "offset")
    outer_then = branch("outer_then", [helper.make_node(
        "If", ["big"], ["nested"], then_branch=inner_then, else_branch=inner_else)], "nested")
    outer_else = branch("outer_else", [helper.make_node("Neg", ["shift"], ["negated"])], "negated")
    model = make_model(
        "scoped",
        "branched = sum(x) > 0 ? (sum(x) > 10 ? (x+1)*scale : (x+1)+scale) : -(x+1); plain = x*3.",
        [helper.make_node("Add", ["x", "one"], ["shift"]),
         helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
         helper.make_node("Greater", ["total", "zero"], ["positive"]),
         helper.make_node("Greater", ["total", "ten"], ["big"]),
         helper.make_node("If", ["positive"], ["branched"],
                          then_branch=outer_then, else_branch=outer_else),
         helper.make_node("Mul", ["x", "three"], ["plain"])],
        [tensor("x", TensorProto.FLOAT, [BATCH, 4])],
        [tensor("branched", TensorProto.FLOAT, [BATCH, 4]),
         tensor("plain", TensorProto.FLOAT, [BATCH, 4])],
        initializers=[const("one", np.array(1.0, dtype=F32)),
                      const("zero", np.array(0.0, dtype=F32)),
                      const("ten", np.array(10.0, dtype=F32)),
                      const("three", np.array(3.0, dtype=F32)),
                      const("scale", np.array(SCOPED_SCALE, dtype=F32))])
    save_model(model, os.path.join(root, "runtime/testdata/scoped.onnx"))

    def run(x):
        x = np.asarray(x, dtype=F32)
        shift, total = x + F32(1), x.sum(dtype=F32)
        scale = np.array(SCOPED_SCALE, dtype=F32)
        if total > 0:
            branched = shift * scale if total > 10 else shift + scale
        else:
            branched = -shift
        return {"x": x}, {"branched": branched, "plain": x * F32(3)}

    # One case per branch: sum(x) over 10, between 0 and 10, and under 0.
    cases = [run([[1.5, 2.0, 3.0, 4.0], [0.5, 1.0, -1.0, 2.5]]),
             run([[0.25, 0.5, 1.0, 2.0]]),
             run([[-1.0, 0.5, -2.0, 0.25]])]
    write_expected(os.path.join(root, "runtime/testdata/scoped.expected.json"),
                   cases, atol=1e-6)


def resize_rows(p, h, w, mode):
    """The rows runtime/imagetensor must make of the uint8 HxWx3 picture p
    at target h x w, NHWC rgb, scale 1, for resize mode stretch, fit or
    crop: each target pixel the source pixel nearest its centre, fit's
    padding black (0). Sizes are rounded half up."""
    sh, sw = p.shape[:2]
    out = np.zeros((h, w, 3), dtype=np.float64)
    # The source rectangle (sy, sx, rh, rw) onto the target's (ty, tx, th, tw).
    sy, sx, rh, rw, ty, tx, th, tw = 0, 0, sh, sw, 0, 0, h, w
    def scaled(a, b, c, hi):  # a * b / c rounded half up, within [1, hi]
        return int(np.clip(np.floor(a * b / c + 0.5), 1, hi))

    wider = sw / sh > w / h
    if mode == "fit" and wider:  # full width, the height scaled alike
        th = scaled(sh, w, sw, h)
        ty = (h - th) // 2
    elif mode == "fit":  # full height, the width scaled alike
        tw = scaled(sw, h, sh, w)
        tx = (w - tw) // 2
    elif mode == "crop" and wider:  # all the height, the target's aspect
        rw = scaled(sh, w, h, sw)
        sx = (sw - rw) // 2
    elif mode == "crop":
        rh = scaled(sw, h, w, sh)
        sy = (sh - rh) // 2
    ys = sy + np.floor((np.arange(th) + 0.5) * rh / th).astype(np.int64)
    xs = sx + np.floor((np.arange(tw) + 0.5) * rw / tw).astype(np.int64)
    out[ty:ty + th, tx:tx + tw] = p[np.ix_(ys, xs)]
    return out.reshape(-1)


def export_resize_images(root):
    """A committed non-square picture, 12 wide and 8 high, as PNG and as
    JPEG (quality 95, no chroma subsampling), and the rows
    runtime/imagetensor must make of it for each resize mode at a square
    6x6 and a tall 5x4 target, computed with numpy (resize_rows). The
    JPEG's rows come from the PNG's pixels: the test allows JPEG's loss
    and the decoders' differences a tolerance."""
    from PIL import Image

    out = os.path.join(root, "runtime/imagetensor/testdata")
    os.makedirs(out, exist_ok=True)
    y, x = np.mgrid[0:8, 0:12]
    p = np.stack([x * 20 + 15, y * 30 + 10, 255 - x * 10 - y * 12],
                 axis=-1).astype(np.uint8)
    Image.fromarray(p, mode="RGB").save(os.path.join(out, "wide.png"))
    Image.fromarray(p, mode="RGB").save(os.path.join(out, "wide.jpg"),
                                        quality=95, subsampling=0)
    cases = []
    for h, w in ((6, 6), (5, 4)):
        for mode in ("stretch", "fit", "crop"):
            cases.append({"resize": mode, "size": [h, w],
                          "row": to_json(resize_rows(p, h, w, mode), True)})
    write_text(os.path.join(out, "wide.expected.json"),
               json.dumps({"cases": cases, "jpeg_atol": 8}) + "\n")


def main(argv):
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.abspath(argv[1]) if len(argv) > 1 else default_root
    export_iris(root)
    export_digits(root)
    export_tabular(root)
    export_digitview(root)
    export_dtypes(root)
    export_half(root)
    export_scalar(root)
    export_zipmap(root)
    export_strings(root)
    export_normalize(root)
    export_slow(root)
    export_bytes(root)
    export_reshape(root)
    export_lookup(root)
    export_logits(root)
    export_large(root)
    export_sum(root)
    export_branches(root)
    export_scoped(root)
    export_resize_images(root)


if __name__ == "__main__":
    main(sys.argv)
