"""The comparison server: what a Python team writes to serve these models
with FastAPI. Models are loaded once at startup, requests are Pydantic
classes, the iris model is the pickled sklearn estimator, the MLP runs in
numpy. Endpoints are plain `def` functions, which FastAPI runs in its
thread pool (its advice for blocking calls such as sklearn's); with
FASTAPI_ASYNC=1 they are registered as `async def` instead, run on the
event loop without the thread hop, which is faster for this no-I/O work:
the benchmark reports both.

Run: BENCH_MODELS=DIR uvicorn fastapi_server:app --workers 1 --loop uvloop --http httptools
"""
import functools
import os
import pickle
from typing import List

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

MODELS = os.environ.get("BENCH_MODELS", "models")
ASYNC = os.environ.get("FASTAPI_ASYNC") == "1"
LABELS = ["setosa", "versicolor", "virginica"]

with open(os.path.join(MODELS, "iris.pkl"), "rb") as f:
    iris = pickle.load(f)
_w = np.load(os.path.join(MODELS, "mlp.npz"))
MLP = [(_w[f"w{i}"], _w[f"b{i}"]) for i in range(3)]

app = FastAPI()


def post(path):
    """app.post, as `async def` when FASTAPI_ASYNC=1 (FastAPI reads the
    request model from the wrapped function's signature)."""
    def register(fn):
        endpoint = fn
        if ASYNC:
            @functools.wraps(fn)
            async def endpoint(*args, **kwargs):
                return fn(*args, **kwargs)
        app.post(path)(endpoint)
        return fn
    return register


class IrisFeatures(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class Rows(BaseModel):
    instances: List[List[float]]


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@post("/iris")
def predict_iris(x: IrisFeatures):
    proba = iris.predict_proba(np.array([[x.sepal_length, x.sepal_width, x.petal_length, x.petal_width]]))[0]
    best = int(proba.argmax())
    return {"label": LABELS[best], "scores": dict(zip(LABELS, proba.tolist()))}


@post("/iris/batch")
def predict_iris_batch(req: Rows):
    proba = iris.predict_proba(np.asarray(req.instances, dtype=np.float64))
    return {"label": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()}


def mlp(x):
    for i, (w, b) in enumerate(MLP):
        x = x @ w + b
        if i < len(MLP) - 1:
            x = np.maximum(x, 0)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@post("/mlp")
def predict_mlp(req: Rows):
    return {"probabilities": mlp(np.asarray(req.instances, dtype=np.float32)).tolist()}
