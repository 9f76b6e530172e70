#!/usr/bin/env python3
"""A network trained in PyTorch goes through gyrus and back (needs torch, safetensors, numpy).

    python3 examples/pytorch_roundtrip.py [--gyrus target/release/gyrus] [--work runs/pytorch]
        [--steps 300] [--sheet 8x8] [--radius 2] [--tasks cog20] [--firmware]

1. Trains `GyrusNet` (below: nn.RNN + nn.Linear, relu, a local mask of radius --radius on the
   sheet, kept by zeroing W outside it after every step) for --steps Adam steps on batches from
   `gyrus tasks dump`, and saves its state dict with `safetensors.torch.save_file`.
2. `gyrus import` turns it into a run; `gyrus eval --dump-trials` scores it and writes the scored
   trials; the same trials are scored here in PyTorch: the two scores are printed side by side.
3. `gyrus export --format torch` writes it back: `GyrusNet.load_state_dict(strict=True)` loads it and
   the weights are compared with the trained ones; a gyrus run with alpha < 1 is exported too and
   loaded into the leaky variant with strict=True.
4. `gyrus export` prunes it into a blob, `gyrus deploy sim` runs it on the simulated sheet of cores,
   and with --firmware the blob runs on the emulated Cortex-M4F (`cargo run --release` in firmware/).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn
from safetensors.torch import load_file, save_file


class LeakyRNN(nn.Module):
    """The leaky RNN of the multitask literature: h' = (1 - alpha) h + alpha phi(input2h(x) + h2h(h))."""

    def __init__(self, n_in, n_hidden, alpha, nonlinearity):
        super().__init__()
        self.input2h = nn.Linear(n_in, n_hidden)
        self.h2h = nn.Linear(n_hidden, n_hidden)
        self.alpha = alpha
        self.phi = {"relu": torch.relu, "tanh": torch.tanh, "softplus": nn.functional.softplus}[nonlinearity]

    def forward(self, x):  # x [T, B, I] -> (h [T, B, N], h_T)
        h = x.new_zeros(x.shape[1], self.h2h.out_features)
        out = []
        for x_t in x:
            h = (1 - self.alpha) * h + self.alpha * self.phi(self.input2h(x_t) + self.h2h(h))
            out.append(h)
        return torch.stack(out), h


class GyrusNet(nn.Module):
    """The module a `gyrus export --format torch` state dict fits with strict=True."""

    def __init__(self, n_in, n_hidden, n_out=17, nonlinearity="relu", alpha=1.0):
        super().__init__()
        if alpha == 1.0 and nonlinearity in ("relu", "tanh"):
            self.rnn = nn.RNN(n_in, n_hidden, nonlinearity=nonlinearity)
        else:
            self.rnn = LeakyRNN(n_in, n_hidden, alpha, nonlinearity)
        self.readout = nn.Linear(n_hidden, n_out)
        self.register_buffer("mask", torch.ones(n_hidden, n_hidden))
        self.register_buffer("positions", torch.zeros(n_hidden, 2))

    def forward(self, x):  # x [T, B, I] time-major -> logits [T, B, 17]
        h, _ = self.rnn(x)
        return self.readout(h)


def sh(args, **kw):
    print("$", " ".join(args), flush=True)
    out = subprocess.run(args, text=True, capture_output=True, **kw)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {out.stderr}")
    return out.stdout


def task_flags(tasks):
    """The `gyrus tasks dump` flags that select `tasks` (a collection or a list)."""
    return ["--collection" if tasks in ("cog20", "modcog", "modcog-full") else "--tasks", tasks]


def local_mask(rows, cols, radius):
    r, c = np.divmod(np.arange(rows * cols), cols)
    d2 = (r[:, None] - r[None, :]) ** 2 + (c[:, None] - c[None, :]) ** 2
    return torch.tensor(d2 <= radius * radius, dtype=torch.float32)


def torch_scores(model, trials_path):
    """Mean over tasks of `last` and `strict` (docs/tasks.md) on `gyrus eval --dump-trials` trials."""
    d = np.load(trials_path)
    with torch.no_grad():
        pred = model(torch.from_numpy(d["inputs"])).argmax(-1).numpy()  # [T, n]
    last, strict = {}, {}
    for k, (n, rule) in enumerate(zip(d["lengths"], d["rules"])):
        ok_last = pred[n - 1, k] == d["targets"][n - 1, k]
        ok_strict = bool(np.all(pred[:n, k] == d["targets"][:n, k]))
        last.setdefault(rule, []).append(ok_last)
        strict.setdefault(rule, []).append(ok_strict)
    mean = lambda m: float(np.mean([np.mean(v) for v in m.values()]))
    return mean(last), mean(strict)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gyrus", default="target/release/gyrus")
    p.add_argument("--work", default="runs/pytorch")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--sheet", default="8x8")
    p.add_argument("--radius", type=float, default=2.0)
    p.add_argument("--tasks", default="cog20")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--firmware", action="store_true", help="also run the blob on the emulated board")
    a = p.parse_args()
    g = os.path.abspath(a.gyrus)
    os.makedirs(a.work, exist_ok=True)
    w = lambda name: os.path.join(a.work, name)
    torch.manual_seed(a.seed)
    rows, cols = map(int, a.sheet.split("x"))
    n = rows * cols

    # 1. Train in PyTorch on gyrus batches.
    sh([g, "tasks", "dump", *task_flags(a.tasks), "--batch", "1", "--seq-len", "1", "--out", w("probe.npz")])
    n_in = np.load(w("probe.npz"))["inputs"].shape[2]
    model = GyrusNet(n_in, n, nonlinearity="relu")
    mask = local_mask(rows, cols, a.radius)
    model.mask.copy_(mask)
    model.positions.copy_(torch.tensor([[u // cols, u % cols] for u in range(n)], dtype=torch.float32))
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(0.5 * torch.eye(n))  # gyrus' init; the mask keeps the diagonal
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.time()
    for step in range(a.steps):
        batch = w("batch.npz")
        subprocess.run([g, "tasks", "dump", *task_flags(a.tasks), "--batch", str(a.batch), "--seq-len",
                        str(a.seq_len), "--seed", str(1000 + step), "--out", batch], check=True, capture_output=True)
        d = np.load(batch)
        x, y = torch.from_numpy(d["inputs"]), torch.from_numpy(d["targets"])
        loss = nn.functional.cross_entropy(model(x).reshape(-1, 17), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.rnn.weight_hh_l0.mul_(model.mask)
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step + 1:4d}  loss {loss.item():.4f}", flush=True)
    print(f"trained {a.steps} steps in {time.time() - started:.1f} s")
    save_file(model.state_dict(), w("trained.safetensors"))

    # 2. Import, score in gyrus and in PyTorch on the same trials.
    run = w("imported")
    if os.path.exists(run):
        subprocess.run(["rm", "-r", run], check=True)
    print(sh([g, "import", w("trained.safetensors"), "--tasks", a.tasks, "--activation", "relu",
              "--seed", str(a.seed), "--out", run]))
    ev = json.loads(sh([g, "eval", run, "--json", "--dump-trials", w("trials.npz")]))
    t_last, t_strict = torch_scores(model, w("trials.npz"))
    print(f"gyrus eval: last {ev['last']:.4f} strict {ev['strict']:.4f}")
    n_trials = len(np.load(w("trials.npz"))["lengths"])
    print(f"PyTorch:    last {t_last:.4f} strict {t_strict:.4f}  (the same {n_trials} trials)")

    # 3. Export back, load with strict=True, compare.
    sh([g, "export", run, "--format", "torch", "--out", w("back.safetensors")])
    back = GyrusNet(n_in, n, nonlinearity="relu")
    back.load_state_dict(load_file(w("back.safetensors")), strict=True)
    diffs = {k: float((v - model.state_dict()[k]).abs().max()) for k, v in back.state_dict().items()
             if k != "rnn.bias_ih_l0" and k != "rnn.bias_hh_l0"}
    b_sum = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    diffs["b_ih + b_hh"] = float((back.rnn.bias_ih_l0 + back.rnn.bias_hh_l0 - b_sum).abs().max())
    print("strict=True load of the export: ok; max |exported - trained| per tensor:",
          json.dumps({k: v for k, v in diffs.items() if k != "positions"}))
    print(f"back in PyTorch: last/strict {torch_scores(back, w('trials.npz'))}")
    leaky = w("leaky")
    if not os.path.exists(leaky):
        sh([g, "train", "--sheet", "3x3", "--collection", "go,dm1", "--steps", "20", "--batch", "8",
            "--seq-len", "30", "--activation", "tanh", "--alpha", "0.2", "--quiet", "--out", leaky])
    sh([g, "export", leaky, "--format", "torch", "--out", w("leaky.safetensors")])
    sd = load_file(w("leaky.safetensors"))
    lk = GyrusNet(sd["rnn.input2h.weight"].shape[1], 9, nonlinearity="tanh", alpha=0.2)
    lk.load_state_dict(sd, strict=True)
    print("strict=True load of a leaky (alpha 0.2, tanh) export: ok")

    # 4. The board.
    blob = w("model.gyrus")
    print(sh([g, "export", run, "--out", blob]))
    print(sh([g, "deploy", "sim", blob, "--trials", "8", "--theta", "0,0.05"]))
    if a.firmware:
        out = subprocess.run(["cargo", "run", "--release"], cwd="firmware", text=True, capture_output=True,
                             env=dict(os.environ, GYRUS_MODEL=os.path.abspath(blob)))
        print(out.stdout[-4000:], out.stderr[-4000:])
        if out.returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
