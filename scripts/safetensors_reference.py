#!/usr/bin/python3
"""safetensors in plain Python (numpy + struct + json), for cross-checks and conversions.

Debian's python3-torch has no safetensors package, so this file writes and reads the format
itself, independently of i2v's C++ reader and writer (nn/safetensors.cpp). Usage:

  safetensors_reference.py write-fixture OUT SEED
      A file with every dtype i2v reads (F32, F64, F16, BF16, I64, I32, U8, BOOL, U64), including
      all 65,536 F16 bit patterns and BF16 special values; for each tensor X, a tensor
      "expected.X" (F64) holds the values numpy computes for it.
  safetensors_reference.py roundtrip IN OUT
      Reads IN strictly (checking the layout i2v promises: header padded with spaces to a
      multiple of 8, tensors aligned and tiling the buffer), then writes its tensors to OUT in
      another order, adding metadata "python.sum.X" (the float64 sum numpy computes for X).
  safetensors_reference.py from-torch IN.pth OUT.safetensors
      Converts a PyTorch state dict (e.g. torchvision's vgg11-8a719046.pth) for i2v.
  safetensors_reference.py torch-fixture OUT_PTH OUT_EXPECTED SEED
      A small PyTorch state dict, and the values it holds (as "expected.X", F64) in safetensors.
"""
import json
import struct
import sys

import numpy as np

# dtype name -> numpy type of the stored bits (BF16 has no numpy type: its bits are uint16).
STORED = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "U64": np.uint64, "U8": np.uint8, "BOOL": np.bool_,
}


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(values):
    """Rounds float32 to bfloat16, to nearest with ties to even (NaN stays a quiet NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def as_float64(dtype, array):
    return bf16_bits_to_f32(array).astype(np.float64) if dtype == "BF16" else array.astype(np.float64)


def write(path, tensors, metadata=None):
    """tensors: list of (name, dtype, numpy array of the stored type), written in that order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, array in tensors:
        data = np.ascontiguousarray(array, dtype=np.dtype(STORED[dtype]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read(path):
    """Returns (list of (name, dtype, array) in file order, metadata), checking i2v's layout."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + n]
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    assert text.rstrip(b" ") == text.rstrip(), "the header is padded with something else than spaces"
    header = json.loads(text)
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    tensors, end = [], 0
    for name, info in entries:
        begin, stop = info["data_offsets"]
        stored = np.dtype(STORED[info["dtype"]]).newbyteorder("<")
        assert begin == end, f"{name}: starts at {begin}, the previous tensor ends at {end}"
        assert begin % stored.itemsize == 0, f"{name}: data at {begin} is not aligned to {stored.itemsize}"
        array = np.frombuffer(data[begin:stop], dtype=stored).reshape(info["shape"])
        tensors.append((name, info["dtype"], array))
        end = stop
    assert end == len(data), f"{len(data) - end} bytes after the last tensor"
    return tensors, metadata


def write_fixture(path, seed):
    rng = np.random.default_rng(seed)
    specials = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 6.103515625e-05, 5.960464477539063e-08,
                         3.0e-06, 70000.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    with np.errstate(over="ignore"):  # 70000 overflows to inf in F16, on purpose
        f16_specials = specials.astype(np.float16)
    bf16_source = np.concatenate([specials, np.array([1.00390625, 1.01171875, 3.0e38, 1.0e-40, -1.0e-39],
                                                     dtype=np.float32),
                                  rng.standard_normal(39).astype(np.float32)])
    tensors = [
        ("w.f32", "F32", rng.standard_normal((3, 4)).astype(np.float32)),
        ("w.f64", "F64", rng.standard_normal((2, 3)).astype(np.float64)),
        ("w.f16.specials", "F16", f16_specials),
        ("w.f16.all", "F16", np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)),
        ("w.bf16", "BF16", f32_to_bf16_bits(bf16_source).reshape(3, 19)),
        ("w.i64", "I64", rng.integers(-2**40, 2**40, size=(5,), dtype=np.int64)),
        ("w.i32", "I32", rng.integers(-2**31, 2**31 - 1, size=(2, 2), dtype=np.int32)),
        ("w.u8", "U8", rng.integers(0, 256, size=(7,), dtype=np.uint8)),
        ("w.bool", "BOOL", rng.integers(0, 2, size=(3, 3)).astype(np.bool_)),
        ("w.u64", "U64", rng.integers(0, 2**52, size=(4,), dtype=np.uint64)),
        ("w.scalar", "F32", np.array(rng.standard_normal(), dtype=np.float32)),
        ("w.empty", "F32", np.zeros((0, 3), dtype=np.float32)),
    ]
    expected = [("expected." + name, "F64", as_float64(dtype, array)) for name, dtype, array in tensors]
    # Not sorted by name or alignment: readers must not depend on an order.
    everything = expected + tensors[::-1]
    write(path, everything, {"writer": "safetensors_reference.py", "seed": str(seed)})


def roundtrip(source, target):
    tensors, metadata = read(source)
    metadata = dict(metadata)
    for name, dtype, array in tensors:
        metadata["python.sum." + name] = repr(float(as_float64(dtype, array).sum()))
    write(target, tensors[::-1], metadata)


def torch_dtype_and_array(tensor):
    import torch
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        return "BF16", tensor.view(torch.int16).numpy().view(np.uint16)
    names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.int64: "I64",
             torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
    if tensor.dtype not in names:
        raise SystemExit(f"cannot convert a tensor of {tensor.dtype}")
    return names[tensor.dtype], tensor.numpy()


def from_torch(source, target):
    import torch
    state = torch.load(source, map_location="cpu")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SystemExit(f"{source}: not a state dict (a dict of tensors) but {type(state).__name__}")
    tensors = [(name,) + torch_dtype_and_array(value) for name, value in sorted(state.items())
               if isinstance(value, torch.Tensor)]
    write(target, tensors, {"format": "pt", "converted_from": source.rsplit("/", 1)[-1]})


def torch_fixture(pth_path, expected_path, seed):
    import torch
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    state = model.state_dict()
    state["half.weight"] = torch.randn(3, 2).half()
    state["bf16.weight"] = torch.randn(2, 3).bfloat16()
    torch.save(state, pth_path)
    expected = [("expected." + name, "F64", value.double().numpy()) for name, value in sorted(state.items())]
    write(expected_path, expected)


def main(argv):
    commands = {"write-fixture": (write_fixture, 2), "roundtrip": (roundtrip, 2), "from-torch": (from_torch, 2),
                "torch-fixture": (torch_fixture, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) != 2 + commands[argv[1]][1]:
        raise SystemExit(__doc__)
    function, _ = commands[argv[1]]
    arguments = argv[2:]
    if argv[1] in ("write-fixture", "torch-fixture"):
        arguments[-1] = int(arguments[-1])
    function(*arguments)


if __name__ == "__main__":
    main(sys.argv)
