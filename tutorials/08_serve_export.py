# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Serve and export a model
#
# A run folder is enough to put a model to work:
#
# * `corenets serve RUN` starts a web page (drop an image, type a sentence, upload a CSV) and a JSON API;
# * `corenets export RUN --format onnx` writes `model.onnx` and `model.preprocessing.json` (what a program must
#   do before and after the model), after checking that onnxruntime gives PyTorch's numbers.
#
# This notebook does both from Python: the server runs in-process (FastAPI's test client, no port opened), and
# the ONNX model runs with onnxruntime, with the preprocessing done by hand from the JSON. It needs the extras:
# `pip install 'corenets[serve,export]'`.
#
# **Fast mode** (`FAST = True`, about 30 s): a digits MLP trained 10 epochs.

# %% tags=["parameters"]
FAST = True

# %%
import io
import json

import numpy as np
from PIL import Image as PILImage
from sklearn.datasets import load_digits

import corenets as cn

run_dir = cn.run_recipe("quickstart", quiet=True, **({"epochs": 10} if FAST else {}))
run = cn.load_run(run_dir)
digits = load_digits()
images = (digits.images[-5:] * 255 / 16).astype(np.uint8)  # as 8-bit pictures, the way a user sends them
print("predict:", run.predict(images).labels, "true:", list(digits.target[-5:]))

# %% [markdown]
# ## The JSON API
#
# `corenets serve RUN` runs this same app with uvicorn on http://127.0.0.1:8000/. `POST /predict` takes image
# files (multipart), `{"texts": [...]}`, `{"rows": [...]}` or `{"prices": [...]}` by the run's input kind;
# `GET /info` is the model card.

# %%
from fastapi.testclient import TestClient

from corenets.serve import create_app

client = TestClient(create_app(run_dir))


def png(array):
    buf = io.BytesIO()
    PILImage.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


files = [("file", (f"digit{i}.png", png(im), "image/png")) for i, im in enumerate(images)]
answer = client.post("/predict", files=files).json()
served = [p["label"] for p in answer["predictions"]]
print("served:", served)
print(json.dumps(answer["predictions"][0]["top_k"][:2], indent=1))
print({k: v for k, v in client.get("/info").json().items() if k in ("recipe", "dataset", "classes")})

# %% [markdown]
# ## ONNX
#
# `export_run` (the `corenets export` command) tries torch.export first, then the TorchScript-based exporter, and
# keeps the file only when onnxruntime's outputs match PyTorch's to 1e-4 on the run's own test inputs.

# %%
from corenets.export import export_run

result = export_run(run_dir, "onnx")
print(result.path.name, result.preprocessing.name, result.exporter, f"max difference {result.max_abs_diff:.2e}")
pre = json.loads(result.preprocessing.read_text())
print(json.dumps(pre, indent=1)[:800])

# %% [markdown]
# ## Running the ONNX model with onnxruntime
#
# Another program needs only onnxruntime and the JSON: it applies the JSON's `steps` to each raw input (here:
# scale the 8-bit pixels as the training images were), runs the model and applies `postprocess` (the softmax).
# The [export format reference](../reference/export-format.md) defines every step. For brevity, corenets prepares
# the input here; onnxruntime alone runs the model, and the same five images get the same labels.

# %%
import onnxruntime as ort

session = ort.InferenceSession(str(result.path))
feed = session.get_inputs()[0]
print("input:", feed.name, feed.shape, feed.type)
torch_logits = run.scorer(run.preprocessing.prepare(images, None).x).detach().numpy()
onnx_logits = session.run(None, {feed.name: run.preprocessing.prepare(images, None).x.numpy()})[0]
print("largest logit difference, onnxruntime vs torch:", float(np.abs(onnx_logits - torch_logits).max()))
onnx_labels = [run.classes[i] for i in onnx_logits.argmax(1)]
print("onnx:", onnx_labels)

# %% [markdown]
# ## The headline numbers
#
# The server, onnxruntime and `Run.predict` give the same answers, and the export's parity check passed.

# %%
assert served == run.predict(images).labels == onnx_labels
assert result.max_abs_diff <= 1e-4 and np.abs(onnx_logits - torch_logits).max() <= 1e-4
