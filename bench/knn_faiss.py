#!/usr/bin/python3
"""FAISS IndexBinaryFlat on the codes knn_bench wrote: pairs/s, and a check of our lists.

FAISS has no all-pairs mode worth waiting for at this size (its generic path for 512-byte codes
does ~8e6 pairs/s here: ~12 minutes for N = 76,003), so it searches the first --queries codes
against the whole database; pairs/s is queries x N / time. Each query's k nearest other codes
(FAISS returns the query itself first, at distance 0) must have the distances knn_bench found.

usage: /usr/bin/python3 bench/knn_faiss.py codes.npy knn.npy [--queries 2000] [--threads 2]
"""
import argparse
import sys
import time

import numpy as np

try:
    import faiss
except ImportError:
    print("knn_faiss: FAISS is not installed (Debian: python3-faiss); skipped")
    sys.exit(0)

parser = argparse.ArgumentParser()
parser.add_argument("codes")
parser.add_argument("knn")
parser.add_argument("--queries", type=int, default=2000)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

codes = np.load(args.codes)
ours = np.load(args.knn)
n, code_bytes = codes.shape
k = ours.shape[1]
faiss.omp_set_num_threads(args.threads)
index = faiss.IndexBinaryFlat(code_bytes * 8)
index.add(codes)
queries = codes[: args.queries]
start, start_cpu = time.perf_counter(), time.process_time()
distances, ids = index.search(queries, k + 1)
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
pairs = len(queries) * n
pairs_per_second = pairs / seconds
per_cpu = pairs / cpu_seconds * args.threads  # as knn_bench: per CPU-second of each thread
print(f"faiss {faiss.__version__} IndexBinaryFlat, {args.threads} threads: {len(queries)} queries x {n} codes "
      f"in {seconds:.2f} s = {pairs_per_second:.3e} pairs/s; {cpu_seconds:.2f} CPU-s "
      f"({100 * cpu_seconds / (seconds * args.threads):.0f}% of the wall time): {per_cpu:.3e} pairs/s per CPU-second "
      f"of each thread")
if not (ids[:, 0] == np.arange(len(queries))).all():
    sys.exit("knn_faiss: a query is not its own nearest code (duplicate codes?)")
if not (distances[:, 1:] == ours[: len(queries), :, 1]).all():
    bad = np.nonzero((distances[:, 1:] != ours[: len(queries), :, 1]).any(axis=1))[0]
    sys.exit(f"knn_faiss: distances differ from knn_bench's for {len(bad)} queries, e.g. query {bad[0]}")
print(f"faiss agrees with knn_bench's top-{k} distances for these {len(queries)} queries")
print(f"PAIRS_PER_SECOND {pairs_per_second:.6e} {per_cpu:.6e}")
