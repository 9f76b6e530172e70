#!/usr/bin/env python3
"""NumPy reference forward pass of a gyrus network (needs only NumPy).

    python3 examples/numpy_forward.py WEIGHTS BATCH [--compare OUTPUTS.npz] [--tol 1e-5] [--out OUT.npz]

WEIGHTS is what `gyrus export RUN --format torch --out F` writes (F = *.safetensors or *.npz: the
nn.RNN names `rnn.weight_ih_l0`, `rnn.weight_hh_l0`, `rnn.bias_ih_l0`, `rnn.bias_hh_l0` or the leaky
names `rnn.input2h.*`, `rnn.h2h.*`, plus `readout.weight`, `readout.bias`, activation and alpha in
the metadata) or what `gyrus inspect model.gyrus --npz F` writes (`w_rec`, `w_in`, `b_h`, `w_out`,
`b_o`, `activation`, `alpha`). BATCH is a `gyrus tasks dump` archive (`inputs` [T, B, I]).

The network: h_0 = 0, h_t = (1 - alpha) h_{t-1} + alpha phi(W h_{t-1} + W_in u_t + b_h),
o_t = W_out h_t + b_o, computed in float64. With --compare, the outputs are checked against the
array `outputs` [T, B, 17] of OUTPUTS.npz: the script prints the largest absolute difference and
exits with status 1 if it exceeds --tol (or if the shapes differ).
"""

import argparse
import json
import struct
import sys

import numpy as np

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """(tensors by name, metadata dict) of a safetensors file, without the safetensors package."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        a = np.frombuffer(raw[base + start : base + end], dtype=_DTYPES[info["dtype"]])
        tensors[name] = a.reshape(info["shape"])
    return tensors, meta


def load_weights(path):
    """(W, W_in, b_h, W_out, b_o, activation, alpha), float64, from either file kind."""
    if path.endswith(".npz"):
        d = np.load(path)
        t = {k: d[k] for k in d.files}
        meta = json.loads(str(t["__metadata__"][0])) if "__metadata__" in t else {}
    else:
        t, meta = read_safetensors(path)
    if "w_rec" in t:  # gyrus inspect --npz
        act, alpha = str(t["activation"][0]), float(t["alpha"])
        parts = (t["w_rec"], t["w_in"], t["b_h"], t["w_out"], t["b_o"])
    else:  # gyrus export --format torch
        act, alpha = meta["activation"], float(meta["alpha"])
        if "rnn.weight_hh_l0" in t:
            w, w_in = t["rnn.weight_hh_l0"], t["rnn.weight_ih_l0"]
            b = t["rnn.bias_ih_l0"].astype(np.float64) + t["rnn.bias_hh_l0"]
        else:
            w, w_in = t["rnn.h2h.weight"], t["rnn.input2h.weight"]
            b = t["rnn.input2h.bias"].astype(np.float64) + t["rnn.h2h.bias"]
        parts = (w, w_in, b, t["readout.weight"], t["readout.bias"])
    return tuple(np.asarray(p, dtype=np.float64) for p in parts) + (act, alpha)


def phi(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return np.logaddexp(0.0, x)
    raise ValueError(f"unknown activation {name!r}")


def forward(weights, inputs):
    """Outputs [T, B, O] for inputs [T, B, I] (time-major), h_0 = 0."""
    w, w_in, b_h, w_out, b_o, act, alpha = weights
    t_len, batch, _ = inputs.shape
    h = np.zeros((batch, w.shape[0]))
    out = np.empty((t_len, batch, w_out.shape[0]))
    for t in range(t_len):
        pre = h @ w.T + inputs[t].astype(np.float64) @ w_in.T + b_h
        h = (1.0 - alpha) * h + alpha * phi(act, pre)
        out[t] = h @ w_out.T + b_o
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights")
    p.add_argument("batch")
    p.add_argument("--compare", help="npz with `outputs` [T, B, 17] to agree with")
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--out", help="write the outputs here (npz, array `outputs`)")
    a = p.parse_args()
    weights = load_weights(a.weights)
    inputs = np.load(a.batch)["inputs"]
    out = forward(weights, inputs)
    print(f"{a.weights}: {weights[5]}, alpha {weights[6]}, N = {weights[0].shape[0]}; outputs {list(out.shape)}")
    if a.out:
        np.savez(a.out, outputs=out.astype(np.float32))
    if a.compare:
        ref = np.load(a.compare)["outputs"]
        if ref.shape != out.shape:
            print(f"FAIL: outputs have shape {list(out.shape)}, {a.compare} has {list(ref.shape)}")
            return 1
        diff = float(np.max(np.abs(out - ref)))
        print(f"max |numpy - {a.compare}| = {diff:.3g} over {out.size} values (tolerance {a.tol:g})")
        if not diff <= a.tol:
            print("FAIL: the outputs disagree")
            return 1
        print("OK: the outputs agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
