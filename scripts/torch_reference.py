#!/usr/bin/python3
"""The same network in PyTorch, from an i2v model config and weights, to check i2v against.

  torch_reference.py forward  WEIGHTS X.npy OUT.npy
  torch_reference.py backward WEIGHTS X.npy TARGET.npy bce|ce GRADS.npz

WEIGHTS is a safetensors file written by i2v (its metadata holds the model config: `i2v weights
init`, `i2v train`). Layers are built from the config with torch.nn.functional, in eval mode for
forward and train mode for backward (dropout is refused there: its masks differ by design).
Reads safetensors with numpy only (torch 1.13 has no safetensors package).
Needs /usr/bin/python3 with python3-torch and python3-numpy (Debian packages).
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[base + begin : base + end], dtype=dtypes[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors, metadata


def pair(value):
    return tuple(value) if isinstance(value, list) else (value, value)


def run(config, weights, x, train):
    """Runs the config's layers on x; returns the last output."""
    outputs = {"input": x}
    previous = "input"
    for layer in config["layers"]:
        name, kind = layer["name"], layer["type"]
        inputs = [outputs[i] for i in layer.get("inputs", [previous])]
        h = inputs[0]
        w = weights.get(name + ".weight")
        b = weights.get(name + ".bias")
        if kind == "conv2d":
            h = F.conv2d(h, w, b, stride=pair(layer.get("stride", 1)), padding=pair(layer.get("padding", 0)))
        elif kind == "linear":
            h = F.linear(h, w, b)
        elif kind == "relu":
            h = F.relu(h)
        elif kind == "leaky_relu":
            h = F.leaky_relu(h, layer.get("slope", 0.01))
        elif kind == "sigmoid":
            h = torch.sigmoid(h)
        elif kind == "softmax":
            h = F.softmax(h, dim=1)
        elif kind in ("max_pool2d", "avg_pool2d"):
            kernel = pair(layer.get("kernel", 2))
            stride = pair(layer.get("stride", 0))
            stride = tuple(s or k for s, k in zip(stride, kernel))
            args = dict(stride=stride, padding=pair(layer.get("padding", 0)), ceil_mode=layer.get("ceil_mode", False))
            if kind == "max_pool2d":
                h = F.max_pool2d(h, kernel, **args)
            else:
                h = F.avg_pool2d(h, kernel, count_include_pad=layer.get("count_include_pad", True), **args)
        elif kind == "global_avg_pool":
            h = h.mean(dim=(2, 3))
        elif kind == "flatten":
            h = torch.flatten(h, 1)
        elif kind == "dropout":
            if train and layer.get("p", 0.5) > 0:
                raise SystemExit("torch_reference.py: dropout in train mode draws other masks than i2v; check with p = 0")
        elif kind == "batch_norm2d":
            h = F.batch_norm(h, weights[name + ".running_mean"].clone(), weights[name + ".running_var"].clone(), w, b,
                             training=train, momentum=layer.get("momentum", 0.1), eps=layer.get("eps", 1e-5))
        elif kind == "concat":
            h = torch.cat(inputs, dim=1)
        elif kind == "add":
            h = inputs[0] + inputs[1]
        else:
            raise SystemExit(f"torch_reference.py: layer type {kind} is not known here")
        outputs[name] = h
        previous = name
    return outputs[previous]


def main():
    command, path = sys.argv[1], sys.argv[2]
    weights, metadata = read_safetensors(path)
    config = json.loads(metadata["i2v.model_config"])
    x = torch.from_numpy(np.load(sys.argv[3]))
    if command == "forward":
        with torch.no_grad():
            np.save(sys.argv[4], run(config, weights, x, train=False).numpy())
        return
    target = torch.from_numpy(np.load(sys.argv[4]))
    params = {k: v.requires_grad_() for k, v in weights.items() if v.is_floating_point() and "running" not in k}
    logits = run(config, weights, x, train=True)
    loss = F.binary_cross_entropy_with_logits(logits, target) if sys.argv[5] == "bce" else F.cross_entropy(logits, target)
    loss.backward()
    np.savez(sys.argv[6], __loss__=loss.detach().numpy(), **{k: v.grad.numpy() for k, v in params.items()})


if __name__ == "__main__":
    main()
