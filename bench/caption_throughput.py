"""Pictures captioned per second (issue: captioning whole datasets): a folder of JPEGs through
`i2v caption` and through the same network in PyTorch with PIL decoding and a DataLoader, on the
same cores in the same run. Decoding, resizing to 224, the network and writing the .txt files are
all timed; the network is i2v-tag at full width (1,539 tags; weights drawn at random: the time
does not depend on them).

    /usr/bin/python3 bench/caption_throughput.py --i2v build/apps/i2v [--pictures 128]
        [--picture-size 768x1024] [--threads 2] [--workers 2] [--batch 32] [--repeats 2]

PyTorch's side is what a careful user writes: PIL with draft() (JPEG DCT-domain downscaling, as
i2v's decoder does), a bilinear resize to 224 (PIL filters when shrinking, as i2v's area average
does), BGR minus the mean, torch.no_grad, DataLoader workers; torch.set_num_threads(threads).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import safetensors_reference  # noqa: E402  safetensors in numpy
from train_step_vs_torch import i2v_tag  # noqa: E402  the same network in PyTorch

MEAN_BGR = (164.76139251, 167.47864617, 181.13838569)
GENERAL, CHARACTER = 0.35, 0.85


def make_pictures(folder, count, width, height, rng):
    """Smooth colour fields with noise and shapes, as JPEG quality 90 (photos of ~150-300 KB)."""
    os.makedirs(folder)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        a, b, c = rng.uniform(0.002, 0.02, 3)
        base = np.stack([128 + 100 * np.sin(a * xs + i), 128 + 100 * np.cos(b * ys + 2 * i),
                         128 + 100 * np.sin(c * (xs + ys))], axis=2)
        noisy = base + rng.normal(0, 12, base.shape)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def write_tagger_weights(i2v, path, tags):
    """Fresh i2v-tag weights, with the output names and the release's preprocessing in the metadata."""
    subprocess.run([i2v, "weights", "init", "--model", "i2v-tag", "--seed", "1", "-o", path], check=True,
                   capture_output=True)
    tensors, metadata = safetensors_reference.read(path)
    metadata.update({
        "i2v.outputs": json.dumps([{"index": i, "name": n, "category": c} for i, (n, c) in enumerate(tags)]),
        "i2v.preprocess": json.dumps({"preset": "i2v"}), "i2v.target": "multi_label"})
    safetensors_reference.write(path, tensors, metadata)


def torch_state(path):
    import torch
    return {name: torch.from_numpy(array.copy()) for name, _, array in safetensors_reference.read(path)[0]}


def run_i2v(args, folder, weights):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.perf_counter()
    subprocess.run([args.i2v, "caption", folder, "--weights", weights, "--batch", str(args.batch), "--workers",
                    str(args.workers)], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


class Pictures:
    """The folder's JPEGs as i2v-tag inputs, decoded by PIL (a torch Dataset)."""

    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        import torch
        with Image.open(self.files[index]) as image:
            image.draft("RGB", (224, 224))
            image = image.convert("RGB").resize((224, 224), Image.BILINEAR)
        bgr = np.asarray(image, dtype=np.float32)[:, :, ::-1] - np.array(MEAN_BGR, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1))), index


def run_torch(args, folder, weights, tags):
    import torch
    torch.set_num_threads(args.threads)
    model = i2v_tag(torch)
    model.load_state_dict(torch_state(weights))
    model.eval()
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))
    loader = torch.utils.data.DataLoader(Pictures(files), batch_size=args.batch, num_workers=args.workers)
    thresholds = np.array([CHARACTER if c in ("character", "copyright") else GENERAL if c == "general" else 2.0
                           for _, c in tags], dtype=np.float32)
    start = time.perf_counter()
    with torch.no_grad():
        for batch, indices in loader:
            probabilities = torch.sigmoid(model(batch)).numpy()
            for row, index in zip(probabilities, indices.tolist()):
                chosen = np.nonzero(row >= thresholds)[0]
                chosen = chosen[np.argsort(-row[chosen])]
                with open(files[index][:-4] + ".torch.txt", "w") as f:
                    f.write(", ".join(tags[k][0] for k in chosen) + "\n")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--i2v", required=True)
    parser.add_argument("--pictures", type=int, default=128)
    parser.add_argument("--picture-size", default="768x1024", help="WIDTHxHEIGHT of the JPEGs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    width, height = (int(v) for v in args.picture_size.split("x"))
    work = tempfile.mkdtemp(prefix="i2v_caption_bench_")
    try:
        tags = ([(f"general_{i}", "general") for i in range(512)] + [(f"character_{i}", "character") for i in range(512)]
                + [(f"copyright_{i}", "copyright") for i in range(512)]
                + [("safe", "rating"), ("questionable", "rating"), ("explicit", "rating")])
        folder = os.path.join(work, "pictures")
        make_pictures(folder, args.pictures, width, height, np.random.default_rng(1))
        weights = os.path.join(work, "i2v-tag.safetensors")
        write_tagger_weights(args.i2v, weights, tags)
        megabytes = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1e6
        print(f"{args.pictures} JPEGs of {width}x{height} ({megabytes:.1f} MB), i2v-tag at 224 (1,539 tags), "
              f"batch {args.batch}, {args.threads} threads, {args.workers} decoding workers")
        print("| run | i2v caption s | i2v pictures/s | PyTorch + PIL s | PyTorch pictures/s | i2v / PyTorch |")
        print("|---|---|---|---|---|---|")
        for repeat in range(1, args.repeats + 1):
            ours = run_i2v(args, folder, weights)
            theirs = run_torch(args, folder, weights, tags)
            print(f"| {repeat} | {ours:.2f} | {args.pictures / ours:.2f} | {theirs:.2f} | {args.pictures / theirs:.2f} "
                  f"| {theirs / ours:.2f}x |", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
