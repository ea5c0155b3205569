"""Requests per second and p50/p99 latency of `i2v serve` (issue: the HTTP API) for POST /tag and
POST /similar at 1, 8 and 64 concurrent clients, on the demo's tagger, hasher and store; beside
the same tagger served the way such services are usually written in Python (PyTorch, PIL,
ThreadingHTTPServer, one forward pass per request), on the same cores in the same run.

    ./run.sh demo    # demo-out/: the tagger, the hasher, the store
    /usr/bin/python3 bench/serve_bench.py --i2v build/apps/i2v [--demo demo-out] [--clients 1,8,64]
        [--seconds 10] [--threads 2]

Each client is a thread with a keep-alive connection sending the demo's pictures (PNG bytes) one
after another; the load generator runs on the same machine (its share of the cores is the same
for both servers). Latency is from sending the request to reading the whole answer.
"""
import argparse
import glob
import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def start_i2v(args):
    demo = args.demo
    process = subprocess.Popen(
        [args.i2v, "serve", "--port", "0", "--weights", f"{demo}/runs/i2v-tag/best.safetensors",
         "--hasher", f"{demo}/runs/i2v-feature/best.safetensors", "--store", f"{demo}/emoji.i2vcodes"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    for line in process.stdout:
        if line.startswith("listening on http://"):
            return process, int(line.split(":")[2].split("/")[0])
    raise SystemExit("i2v serve did not start")


def start_peer(args):
    process = subprocess.Popen([sys.executable, __file__, "--peer", "--threads", str(args.threads), "--demo", args.demo],
                               stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def peer_server(args):
    """The peer: i2v-tag at the demo's width and input in PyTorch behind ThreadingHTTPServer."""
    import torch
    from PIL import Image
    from train_step_vs_torch import i2v_tag

    torch.set_num_threads(args.threads)
    with open(f"{args.demo}/runs/i2v-tag/config.json") as f:
        config = json.load(f)
    size = config["data"]["preprocess"]["size"]
    model = i2v_tag(torch, width=config["model"].get("width", 1.0), outputs=1029).eval()
    mean = np.array(config["data"]["preprocess"].get("mean", [0, 0, 0]), np.float32)
    std = np.array(config["data"]["preprocess"].get("std", [1, 1, 1]), np.float32)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are written apart (as i2v serve sets TCP_NODELAY)

        def log_message(self, *unused):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            picture = Image.open(io.BytesIO(body))
            if picture.mode in ("RGBA", "LA", "P"):
                picture = picture.convert("RGBA")
                white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
                picture = Image.alpha_composite(white, picture)
            pixels = np.asarray(picture.convert("RGB").resize((size, size), Image.BILINEAR), np.float32) / 255
            x = torch.from_numpy(((pixels - mean) / std).transpose(2, 0, 1)[None].copy())
            with torch.no_grad():
                p = torch.sigmoid(model(x))[0].numpy()
            top = np.argsort(-p)[:10]
            answer = json.dumps({"general": [[int(i), float(p[i])] for i in top]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # listen() backlog: 5 by default refuses 64 clients connecting at once

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def load(port, path, pictures, clients, seconds):
    """(requests per second, p50 ms, p99 ms, errors) of `clients` threads for `seconds`."""
    latencies, errors = [], []
    deadline = time.monotonic() + seconds

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, n = [], index
        while time.monotonic() < deadline:
            body = pictures[n % len(pictures)]
            n += clients
            start = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers={"Content-Type": "image/png"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
                    continue
            except (OSError, http.client.HTTPException) as e:
                errors.append(type(e).__name__)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine.append(time.perf_counter() - start)
        latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ms = np.array(latencies) * 1000
    return len(latencies) / elapsed, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--i2v", default="build/apps/i2v")
    parser.add_argument("--demo", default="demo-out")
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pictures", type=int, default=256)
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return peer_server(args)

    files = sorted(glob.glob(f"{args.demo}/emoji-dump/original/*/*.png"))[: args.pictures]
    if not files:
        raise SystemExit(f"no pictures under {args.demo}/emoji-dump: run ./run.sh demo first")
    pictures = [open(f, "rb").read() for f in files]
    clients = [int(c) for c in args.clients.split(",")]
    print(f"{len(pictures)} PNG pictures of the demo ({np.mean([len(p) for p in pictures]) / 1024:.1f} KB average), "
          f"{args.seconds:g} s per row, {os.cpu_count()} cores shared by the server and the clients")
    print("| server | endpoint | clients | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for name, start, endpoints in (("i2v serve", start_i2v, ("/tag", "/similar")),
                                   ("PyTorch + ThreadingHTTPServer", start_peer, ("/tag",))):
        process, port = start(args)
        try:
            load(port, endpoints[0], pictures, 4, 1.0)  # warm-up
            for endpoint in endpoints:
                for c in clients:
                    rps, p50, p99, errors = load(port, endpoint, pictures, c, args.seconds)
                    rows.append({"server": name, "endpoint": endpoint, "clients": c, "rps": rps, "p50_ms": p50,
                                 "p99_ms": p99, "errors": errors})
                    print(f"| {name} | POST {endpoint} | {c} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {errors} |", flush=True)
        finally:
            process.terminate()
            process.wait()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
