#!/usr/bin/python3
"""Conv2d forward and backward on VGG-11's conv layers: i2v (bench/conv_bench) and PyTorch on the
same shapes, the same cores and in the same run, with the ratio and the fraction of the machine's
measured fp32 FMA peak.

    /usr/bin/python3 bench/conv_vs_torch.py [--conv-bench build/bench/conv_bench] [--batch 8]
        [--image 224] [--threads 2] [--repetitions 5]

PyTorch (Debian's python3-torch) runs with torch.set_num_threads(--threads), i2v with as many
OpenMP threads (OMP_NUM_THREADS). Both report the best of --repetitions timings, each the mean
of as many iterations as fill 0.5 s (Google Benchmark's --benchmark_min_time): other processes
on the machine only ever slow a repetition down. Backward computes the weight, bias and input
gradients, except conv1_1's input gradient (nothing needs the image's in training), on both
sides. Without PyTorch the i2v columns are printed alone.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

VGG11 = [  # name, in channels, out channels, image size over the layer's input size
    ("conv1_1", 3, 64, 1), ("conv2_1", 64, 128, 2), ("conv3_1", 128, 256, 4), ("conv3_2", 256, 256, 4),
    ("conv4_1", 256, 512, 8), ("conv4_2", 512, 512, 8), ("conv5_1", 512, 512, 16), ("conv5_2", 512, 512, 16),
]
MIN_TIME = 0.5


def run_i2v(args):
    """Best-of-repetitions milliseconds per call, by benchmark name, and the measured peak."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [args.conv_bench, f"--batch={args.batch}", f"--image={args.image}", "--benchmark_format=json",
               f"--benchmark_repetitions={args.repetitions}", f"--benchmark_min_time={MIN_TIME}"]
    print("running:", " ".join(command), file=sys.stderr)
    report = json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)
    times = {}
    for b in report["benchmarks"]:  # one entry per repetition (and aggregates): keep the fastest run
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"].replace("/real_time", "")
        times[name] = min(times.get(name, float("inf")), b["real_time"])  # ms (kMillisecond)
    return times, float(report["context"].get("fp32_peak_gflops", "nan"))


def best_time_ms(fn, repetitions):
    fn()  # warm up: allocations, oneDNN primitive creation
    start = time.perf_counter()
    fn()
    single = time.perf_counter() - start
    iterations = max(1, math.ceil(MIN_TIME / max(single, 1e-9)))
    best = float("inf")
    for _ in range(repetitions):
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter() - start) / iterations)
    return best * 1e3


def run_torch(args):
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch): i2v alone", file=sys.stderr)
        return None, None
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    times = {}
    for name, cin, cout, down in VGG11:
        size = args.image // down
        conv = torch.nn.Conv2d(cin, cout, 3, 1, 1)
        x = torch.randn(args.batch, cin, size, size, requires_grad=cin != 3)
        with torch.no_grad():
            times[f"conv_forward/{name}"] = best_time_ms(lambda: conv(x), args.repetitions)
        y = conv(x)
        dy = torch.randn_like(y)
        times[f"conv_backward/{name}"] = best_time_ms(lambda: y.backward(dy, retain_graph=True), args.repetitions)
    mkldnn = torch.backends.mkldnn.is_available()
    return times, f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {mkldnn}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conv-bench", default="build/bench/conv_bench")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()

    ours, peak = run_i2v(args)
    theirs, torch_info = run_torch(args)
    print(f"batch {args.batch}, {args.image}x{args.image}, {args.threads} threads; fp32 FMA peak {peak:.1f} GFLOP/s; "
          f"{torch_info or 'no PyTorch'}")
    print("| layer | shape (in -> out @ size) | GFLOP fwd | i2v fwd ms | torch fwd ms | fwd ratio | i2v bwd ms "
          "| torch bwd ms | bwd ratio | i2v fwd+bwd GFLOP/s | of peak | torch fwd+bwd GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    total = {"flops": 0.0, "ours": 0.0, "theirs": 0.0}
    for name, cin, cout, down in VGG11:
        size = args.image // down
        gflop = 2 * args.batch * cout * size * size * cin * 9 / 1e9
        step_gflop = gflop * (2 if cin == 3 else 3)  # forward + weight grad (+ input grad)
        f, b = ours[f"conv_forward/{name}"], ours[f"conv_backward/{name}"]
        rate = step_gflop / ((f + b) / 1e3)
        row = [name, f"{cin} -> {cout} @ {size}", f"{gflop:.2f}", f"{f:.1f}"]
        if theirs:
            tf, tb = theirs[f"conv_forward/{name}"], theirs[f"conv_backward/{name}"]
            row += [f"{tf:.1f}", f"{tf / f:.2f}x", f"{b:.1f}", f"{tb:.1f}", f"{tb / b:.2f}x"]
            torch_rate = f"{step_gflop / ((tf + tb) / 1e3):.0f}"
            total["theirs"] += tf + tb
        else:
            row += ["-", "-", f"{b:.1f}", "-", "-"]
            torch_rate = "-"
        row += [f"{rate:.0f}", f"{rate / peak:.0%}", torch_rate]
        total["flops"] += step_gflop
        total["ours"] += f + b
        print("| " + " | ".join(row) + " |")
    rate = total["flops"] / (total["ours"] / 1e3)
    summary = (f"all 8 layers, forward + backward: i2v {total['ours']:.0f} ms, {rate:.0f} GFLOP/s = "
               f"{rate / peak:.0%} of peak")
    if theirs:
        summary += (f"; PyTorch {total['theirs']:.0f} ms; "
                    f"PyTorch time / i2v time = {total['theirs'] / total['ours']:.2f}")
    print(summary)


if __name__ == "__main__":
    main()
