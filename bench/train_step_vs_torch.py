#!/usr/bin/python3
"""One training step of the i2v-tag network (VGG-11 trunk + conv6 head, 1,539 tag logits) on the
CPU: i2v (bench/train_step_bench) and the same network in PyTorch on the same cores, in the same
run, at 224x224 batch 8 and 64x64 batch 32; images/s and the ratio.

    /usr/bin/python3 bench/train_step_vs_torch.py [--bench build/bench/train_step_bench]
        [--threads 2] [--repetitions 5] [--warmup 2] [--sizes 224x8,64x32] [--breakdown]

A step on both sides: zero the gradients, forward in training mode, BCE-with-logits (mean)
against 0/1 targets with ~5% positives, backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4).
i2v runs with OMP_NUM_THREADS=--threads, PyTorch (Debian's python3-torch) with
torch.set_num_threads(--threads). Each side does --warmup untimed steps, then --repetitions
timed ones; images/s is from the best step (other processes on a shared machine only ever slow
a step down), the median is printed beside it. Both sides print their parameter count and output
shape, which must agree (same architecture). PyTorch's network is torchvision's VGG style
(ReLU in place) with He-normal weights, conv6_4 N(0, 0.01), zero biases, as i2v initialises.
--breakdown adds i2v's per-layer forward/backward table. Without PyTorch, i2v's numbers alone.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import OrderedDict

OUTPUTS = 1539


def run_i2v(args, image, batch):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [args.bench, f"--image={image}", f"--batch={batch}", f"--repetitions={args.repetitions}",
               f"--warmup={args.warmup}", "--json"] + (["--breakdown"] if args.breakdown else [])
    print("running:", " ".join(command), file=sys.stderr)
    return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def i2v_tag(torch):
    """The i2v-tag network of nn/model_zoo.cpp in PyTorch, initialised the same way."""
    nn = torch.nn
    layers = []
    channels = 3

    def conv(name, out, init_std=None):
        nonlocal channels
        c = nn.Conv2d(channels, out, 3, 1, 1)
        if init_std is None:
            nn.init.kaiming_normal_(c.weight, mode="fan_in", nonlinearity="relu")
        else:
            nn.init.normal_(c.weight, 0.0, init_std)
        nn.init.zeros_(c.bias)
        layers.append((name, c))
        channels = out

    for stage, widths in enumerate([[64], [128], [256, 256], [512, 512], [512, 512]], start=1):
        for index, width in enumerate(widths, start=1):
            conv(f"conv{stage}_{index}", width)
            layers.append((f"relu{stage}_{index}", nn.ReLU(inplace=True)))
        layers.append((f"pool{stage}", nn.MaxPool2d(2, 2)))
    for index in range(1, 4):
        conv(f"conv6_{index}", 1024)
        layers.append((f"relu6_{index}", nn.ReLU(inplace=True)))
    conv("conv6_4", OUTPUTS, init_std=0.01)
    layers.append(("pool6", nn.AdaptiveAvgPool2d(1)))
    layers.append(("flatten", nn.Flatten()))
    return nn.Sequential(OrderedDict(layers))


def run_torch(args, image, batch):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = i2v_tag(torch)
    model.train()
    images = torch.randn(batch, 3, image, image)
    targets = (torch.rand(batch, OUTPUTS) < 0.05).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        optimizer.zero_grad()
        logits = model(images)
        loss = loss_fn(logits, targets)
        loss.backward()
        optimizer.step()
        return logits, loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repetitions):
        start = time.perf_counter()
        logits, loss = step()
        times.append((time.perf_counter() - start) * 1e3)
    return {"parameters": sum(p.numel() for p in model.parameters()), "output_shape": list(logits.shape),
            "loss": loss, "step_ms": times, "best_ms": min(times), "median_ms": statistics.median(times),
            "images_per_s": batch / (min(times) / 1e3),
            "info": f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
                    f"mkldnn {torch.backends.mkldnn.is_available()}"}


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        print("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch): i2v alone", file=sys.stderr)
        return False


def print_breakdown(ours):
    print(f"\ni2v per layer at {ours['image']}x{ours['image']} batch {ours['batch']}, median ms:")
    print("| layer | forward | backward | total | share |")
    print("|---|---:|---:|---:|---:|")
    parts = [(l["name"], l["forward_ms"], l["backward_ms"]) for l in ours["layers"]]
    total = sum(f + b for _, f, b in parts) + ours["zero_grad_ms"] + ours["loss_ms"] + ours["sgd_ms"]
    for name, f, b in parts:
        print(f"| {name} | {f:.1f} | {b:.1f} | {f + b:.1f} | {(f + b) / total:.1%} |")
    for name in ("zero_grad", "loss", "sgd"):
        print(f"| {name} | | | {ours[name + '_ms']:.1f} | {ours[name + '_ms'] / total:.1%} |")
    print(f"| sum | | | {total:.1f} | |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default="build/bench/train_step_bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sizes", default="224x8,64x32", help="IMAGExBATCH, comma-separated")
    parser.add_argument("--breakdown", action="store_true", help="i2v's per-layer times too")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    torch_present = have_torch()

    results = []
    for image, batch in sizes:
        ours = run_i2v(args, image, batch)
        theirs = run_torch(args, image, batch) if torch_present else None
        if theirs:
            same = ours["parameters"] == theirs["parameters"] and ours["output_shape"] == theirs["output_shape"]
            if not same:
                sys.exit(f"architectures differ at {image}x{image}: i2v {ours['parameters']} parameters, output "
                         f"{ours['output_shape']}; PyTorch {theirs['parameters']}, {theirs['output_shape']}")
        results.append((image, batch, ours, theirs))

    print(f"i2v-tag training step (forward + BCE + backward + SGD), {args.threads} threads, best of "
          f"{args.repetitions} steps after {args.warmup} warm-up; "
          f"{results[0][3]['info'] if results[0][3] else 'no PyTorch'}")
    print("| input | batch | parameters | output | i2v ms (best / median) | i2v images/s "
          "| PyTorch ms (best / median) | PyTorch images/s | i2v / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for image, batch, ours, theirs in results:
        row = [f"{image}x{image}", str(batch), f"{ours['parameters']:,}", "x".join(map(str, ours["output_shape"])),
               f"{ours['best_ms']:.0f} / {ours['median_ms']:.0f}", f"{ours['images_per_s']:.2f}"]
        if theirs:
            row += [f"{theirs['best_ms']:.0f} / {theirs['median_ms']:.0f}", f"{theirs['images_per_s']:.2f}",
                    f"{ours['images_per_s'] / theirs['images_per_s']:.2f}x"]
        else:
            row += ["-", "-", "-"]
        print("| " + " | ".join(row) + " |")
    if args.breakdown:
        for _, _, ours, _ in results:
            print_breakdown(ours)


if __name__ == "__main__":
    main()
