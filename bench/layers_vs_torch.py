#!/usr/bin/python3
"""Times the layers of bench/layers_bench.cpp against the same ops in PyTorch, in one run.

Op by op (so that both sides of a ratio see the same machine load): build/bench/layers_bench
for that op (Google Benchmark, median of 5 repetitions), then the same forward + backward step
in PyTorch (torch.set_num_threads(2): the same cores; median of 5 timed runs of at least 0.5 s
each after a warm-up). Prints one table: i2v's and PyTorch's milliseconds per step, wall-clock
and CPU time of the whole process, and the ratios PyTorch / i2v (> 1: i2v is faster). On a
machine shared with other work, wall-clock times swell with the load; with --threads 1 the CPU
times do not, and their ratio is the fair one.

    /usr/bin/python3 bench/layers_vs_torch.py [--bench build/bench/layers_bench] [--threads 2]

The `_bf16` rows run both sides on bfloat16 tensors (as activations pass between layers under
bf16 mixed precision). The ops are memory-bound, and their big outputs (100 MB at batch 8, 64×224×224) are fresh
allocations on both sides: first-touch page faults are a large part of every step.

Needs Debian's python3-torch (run with /usr/bin/python3); without it, says so and exits 1.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("layers_vs_torch.py: PyTorch is not installed for this Python "
             "(apt-get install python3-torch; run with /usr/bin/python3)")

BLOCK1 = (8, 64, 224, 224)  # the first conv block's activations at batch 8
HEAD = (8, 1539, 7, 7)      # the conv6 head before global average pooling
TAGS = (8, 1539)            # logits of the 1,539 tags


def uniform(shape, lo, hi, requires_grad=False, dtype=torch.float32):
    x = torch.empty(shape).uniform_(lo, hi).to(dtype)
    return x.requires_grad_(requires_grad)


def layer_step(op, shape, dtype=torch.float32):
    """One training step of a layer: forward, then backward of a fixed output gradient."""
    x = uniform(shape, -2.0, 2.0, requires_grad=True, dtype=dtype)
    with torch.no_grad():
        dy = torch.empty_like(op(x)).uniform_(-1.0, 1.0)

    def step():
        x.grad = None
        op(x).backward(dy)
    return step


def loss_step(loss, logits, *rest):
    logits.requires_grad_(True)

    def step():
        logits.grad = None
        loss(logits, *rest).backward()
    return step


def torch_cases():
    batch_norm = torch.nn.BatchNorm2d(BLOCK1[1]).train()
    targets = (torch.rand(TAGS) < 0.05).float()  # ~5% of tags present, as in Danbooru
    labels = torch.tensor([3, 1538, 0, 700, 12, 999, 512, 1024])
    return {
        "BM_ReLU": layer_step(F.relu, BLOCK1),
        "BM_ReLU_bf16": layer_step(F.relu, BLOCK1, torch.bfloat16),
        "BM_Sigmoid": layer_step(torch.sigmoid, BLOCK1),
        "BM_Dropout": layer_step(lambda x: F.dropout(x, 0.5, training=True), BLOCK1),
        "BM_MaxPool2x2": layer_step(lambda x: F.max_pool2d(x, 2), BLOCK1),
        "BM_MaxPool2x2_bf16": layer_step(lambda x: F.max_pool2d(x, 2), BLOCK1, torch.bfloat16),
        "BM_AvgPool2x2": layer_step(lambda x: F.avg_pool2d(x, 2), BLOCK1),
        "BM_GlobalAvgPool": layer_step(lambda x: x.mean(dim=(2, 3)), HEAD),
        "BM_BatchNorm2d": layer_step(batch_norm, BLOCK1),
        "BM_Softmax": layer_step(lambda x: torch.softmax(x, dim=1), TAGS),
        "BM_BCEWithLogits": loss_step(F.binary_cross_entropy_with_logits, uniform(TAGS, -8, 8), targets),
        "BM_CrossEntropy": loss_step(F.cross_entropy, uniform(TAGS, -8, 8), labels),
    }


def time_torch(step, repetitions=5, min_seconds=0.5):
    """Wall-clock and process CPU seconds per step (medians)."""
    step()  # warm-up (allocations, oneDNN primitives)
    wall, cpu = [], []
    for _ in range(repetitions):
        iterations, start, start_cpu = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            iterations += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        wall.append(elapsed / iterations)
        cpu.append((time.process_time() - start_cpu) / iterations)
    return statistics.median(wall), statistics.median(cpu)


def time_i2v(bench, name, threads):
    """Wall-clock and process CPU seconds per step (medians) and GB/s (wall) of benchmark
    `name` on `threads` OpenMP threads."""
    out = subprocess.run([bench, f"--benchmark_filter=^{name}/", "--benchmark_format=json",
                          "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=str(threads))).stdout
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    report = json.loads(out)
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = scale[b["time_unit"]]
            return b["real_time"] * unit, b["cpu_time"] * unit, b.get("GB/s", 0.0)
    sys.exit(f"layers_vs_torch.py: {bench} has no benchmark {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "layers_bench"),
                        help="the layers_bench binary (default: build/bench/layers_bench)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of both sides: PyTorch's and i2v's OpenMP (default 2: the machine's cores)")
    args = parser.parse_args()
    if not os.path.exists(args.bench):
        sys.exit(f"layers_vs_torch.py: {args.bench} not found: build it (cmake --build build --target layers_bench)")
    torch.set_num_threads(args.threads)

    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node()}: {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; PyTorch {torch.__version__}; {args.threads} thread(s) each")
    print(f"{'':<16} {'wall-clock ms per step':^38}  {'process CPU ms per step':^30}")
    print(f"{'op (fwd + bwd)':<16} {'i2v':>9} {'i2v GB/s':>9} {'torch':>9} {'torch/i2v':>9}  "
          f"{'i2v':>9} {'torch':>9} {'torch/i2v':>10}")
    for name, step in torch_cases().items():
        wall, cpu, gbps = time_i2v(args.bench, name, args.threads)
        torch_wall, torch_cpu = time_torch(step)
        print(f"{name[3:]:<16} {wall * 1e3:>9.3f} {gbps:>9.1f} {torch_wall * 1e3:>9.3f} {torch_wall / wall:>9.2f}  "
              f"{cpu * 1e3:>9.3f} {torch_cpu * 1e3:>9.3f} {torch_cpu / cpu:>10.2f}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
