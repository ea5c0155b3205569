#!/usr/bin/python3
"""PyTorch's SGEMM (torch.mm; Debian's PyTorch calls the system BLAS, OpenBLAS) on the shapes
of bench/gemm_bench.cpp, on the same cores: the peer for the GEMM table in bench/RESULTS.md.

    /usr/bin/python3 bench/gemm_vs_torch.py [--threads 2] [--repetitions 5]

Best of --repetitions timings, each the mean of 10 calls, with torch.set_num_threads(--threads).
"""
import argparse
import time

SHAPES = [  # name, trans_a, trans_b, m, n, k (as in gemm_bench.cpp)
    ("conv3_2_forward", False, False, 256, 3136, 2304), ("conv3_2_input_grad", True, False, 2304, 3136, 256),
    ("conv3_2_weight_grad", False, True, 256, 2304, 3136), ("conv5_1_forward", False, False, 512, 1568, 4608),
    ("conv5_1_input_grad", True, False, 4608, 1568, 512), ("conv5_1_weight_grad", False, True, 512, 4608, 1568),
    ("square_1000", False, False, 1000, 1000, 1000),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is not installed for /usr/bin/python3 (Debian: python3-torch)")
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, trans_a, trans_b, m, n, k in SHAPES:
        a = torch.randn(k, m).t() if trans_a else torch.randn(m, k)  # stored transposed, as in gemm_bench
        b = torch.randn(n, k).t() if trans_b else torch.randn(k, n)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(args.repetitions):
            start = time.perf_counter()
            for _ in range(10):
                torch.mm(a, b)
            best = min(best, (time.perf_counter() - start) / 10)
        print(f"{name}: {best * 1e3:.2f} ms, {2 * m * n * k / best / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
