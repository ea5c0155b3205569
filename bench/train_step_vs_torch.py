#!/usr/bin/python3
"""One training step of the i2v-tag network (VGG-11 trunk + conv6 head, 1,539 tag logits) on the
CPU: i2v (bench/train_step_bench) and the same network in PyTorch on the same cores, in the same
run, at 224x224 batch 8 and 64x64 batch 32; images/s and the ratio. With --device cuda, on the GPU.

    /usr/bin/python3 bench/train_step_vs_torch.py [--bench build/bench/train_step_bench]
        [--threads 2] [--repetitions 5] [--warmup 2] [--sizes 224x8,64x32] [--precision fp32,bf16]
        [--breakdown]
    python3 bench/train_step_vs_torch.py --device cuda [--sizes 224x64]

A step on both sides: zero the gradients, forward in training mode, BCE-with-logits (mean)
against 0/1 targets with ~5% positives, backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4).
i2v runs with OMP_NUM_THREADS=--threads, PyTorch (Debian's python3-torch) with
torch.set_num_threads(--threads). Each side does --warmup untimed steps, then --repetitions
timed ones; images/s is from the best step (other processes on a shared machine only ever slow
a step down), the median is printed beside it. Both sides print their parameter count and output
shape, which must agree (same architecture). PyTorch's network is torchvision's VGG style
(ReLU in place) with He-normal weights, conv6_4 N(0, 0.01), zero biases, as i2v initialises.
--breakdown adds i2v's per-layer forward/backward table. Without PyTorch, i2v's numbers alone.

--precision (cpu; comma-separated, default fp32) runs each size in each arithmetic on both sides:
fp32, or bf16 mixed precision — i2v's train_step_bench --precision bf16 (the operands of every
convolution and matrix product rounded to bfloat16, fp32 sums: vdpbf16ps on a CPU with AVX-512
BF16, kernels/gemm.h) and PyTorch's torch.autocast("cpu", dtype=torch.bfloat16) around the
forward and the loss, as its CPU mixed-precision recipe has it (master weights, SGD and the loss
in fp32 on both sides). The table gives each side's bf16 speed-up over its own fp32 too.

--device cuda (default size 224x224 batch 64): i2v's step on the GPU in fp32, tf32 and bf16
(train_step_bench --precision, kernels/precision.h), and PyTorch's on the same GPU in the same
run in the same three arithmetics: fp32 (torch.backends.cuda.matmul.allow_tf32 and
torch.backends.cudnn.allow_tf32 off), tf32 (both on) and bf16 (torch.autocast to bfloat16,
channels_last model and images), each with torch.backends.cudnn.benchmark on (cuDNN picks its
fastest algorithms in the warm-up steps). Every timed step on either side is wrapped in device
synchronisations (torch.cuda.synchronize() here; train_step_bench waits for the device before
reading its clock). PyTorch's inference (eval-mode forward under torch.no_grad()) is timed too.
Each side's peak memory over its steps is reported with each side's bf16 / fp32 ratio: i2v's
allocator's peak in use, PyTorch's torch.cuda.max_memory_allocated() (both count the weights,
gradients, momentum and every live tensor; neither the caching allocators' spare blocks). On the
cpu, i2v's peak memory alone (PyTorch's CPU allocator keeps no such count).
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import OrderedDict

OUTPUTS = 1539


def run_i2v(args, image, batch, precision):
    """train_step_bench's JSON on args.device at `precision` (fp32, tf32 or bf16)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [args.bench, f"--image={image}", f"--batch={batch}", f"--repetitions={args.repetitions}",
               f"--warmup={args.warmup}", "--json", f"--device={args.device}", f"--precision={precision}"]
    command += ["--breakdown"] if args.breakdown else []
    print("running:", " ".join(command), file=sys.stderr)
    return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def i2v_tag(torch, width=1.0, outputs=OUTPUTS):
    """The i2v-tag network of nn/model_zoo.cpp in PyTorch, initialised the same way; `width`
    scales every layer's channels but the last (as --width does)."""
    nn = torch.nn
    layers = []
    channels = 3

    def conv(name, out, init_std=None):
        nonlocal channels
        out = out if name == "conv6_4" else max(1, round(out * width))
        c = nn.Conv2d(channels, out, 3, 1, 1)
        if init_std is None:
            nn.init.kaiming_normal_(c.weight, mode="fan_in", nonlinearity="relu")
        else:
            nn.init.normal_(c.weight, 0.0, init_std)
        nn.init.zeros_(c.bias)
        layers.append((name, c))
        channels = out

    for stage, widths in enumerate([[64], [128], [256, 256], [512, 512], [512, 512]], start=1):
        for index, channels_out in enumerate(widths, start=1):  # not `width`: conv() reads that one
            conv(f"conv{stage}_{index}", channels_out)
            layers.append((f"relu{stage}_{index}", nn.ReLU(inplace=True)))
        layers.append((f"pool{stage}", nn.MaxPool2d(2, 2)))
    for index in range(1, 4):
        conv(f"conv6_{index}", 1024)
        layers.append((f"relu6_{index}", nn.ReLU(inplace=True)))
    conv("conv6_4", outputs, init_std=0.01)
    layers.append(("pool6", nn.AdaptiveAvgPool2d(1)))
    layers.append(("flatten", nn.Flatten()))
    return nn.Sequential(OrderedDict(layers))


def run_torch(args, image, batch, mode, cuda):
    """PyTorch's step on the GPU (cuda) in mode fp32, tf32 or bf16, or on the CPU in fp32 or bf16."""
    import torch
    if not cuda:
        torch.set_num_threads(args.threads)
    else:
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(1)
    model = i2v_tag(torch)
    model.train()
    images = torch.randn(batch, 3, image, image)
    targets = (torch.rand(batch, OUTPUTS) < 0.05).float()
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = mode != "fp32"
        torch.backends.cudnn.allow_tf32 = mode != "fp32"
        model, images, targets = model.cuda(), images.cuda(), targets.cuda()
        if mode == "bf16":
            model = model.to(memory_format=torch.channels_last)
            images = images.contiguous(memory_format=torch.channels_last)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def autocast():
        if mode != "bf16":
            return contextlib.nullcontext()
        return torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16)

    def synchronize():
        if cuda:
            torch.cuda.synchronize()

    def step():
        optimizer.zero_grad()
        with autocast():
            logits = model(images)
            loss = loss_fn(logits, targets)
        loss.backward()
        optimizer.step()
        return logits, loss.item()

    def timed(run):
        """Milliseconds of each of args.repetitions calls after args.warmup, and the last result."""
        for _ in range(args.warmup):
            result = run()
        times = []
        for _ in range(args.repetitions):
            synchronize()
            start = time.perf_counter()
            result = run()
            synchronize()
            times.append((time.perf_counter() - start) * 1e3)
        return times, result

    times, (logits, loss) = timed(step)
    result = {"parameters": sum(p.numel() for p in model.parameters()), "output_shape": list(logits.shape),
              "loss": loss, "step_ms": times, "best_ms": min(times), "median_ms": statistics.median(times),
              "images_per_s": batch / (min(times) / 1e3)}
    if not cuda:
        result["info"] = (f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
                          f"mkldnn {torch.backends.mkldnn.is_available()}")
        return result
    result["peak_memory_bytes"] = torch.cuda.max_memory_allocated()

    def infer():
        with torch.no_grad(), autocast():
            return model(images)

    model.eval()
    inference, _ = timed(infer)
    result["inference_ms"] = statistics.median(inference)
    result["info"] = (f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}, cuDNN "
                      f"{torch.backends.cudnn.version()}, cudnn.benchmark on")
    del model, optimizer, images, targets
    torch.cuda.empty_cache()
    return result


def torch_tf32_gradient_error():
    """How far TF32 moves PyTorch's own gradients: i2v-tag at width 0.5, 64x64, batch 4,
    cross-entropy over 10 outputs (the network check.sh compares between our cpu and cuda), in
    fp32 and in tf32 on the GPU against float64 on the GPU. Returns the worst tensor's
    normwise error ||g - g64|| / ||g64|| of each, with its name."""
    import torch
    torch.manual_seed(3)
    model64 = i2v_tag(torch, width=0.5, outputs=10).double().cuda()
    images = torch.randn(4, 3, 64, 64, dtype=torch.float64, device="cuda")
    targets = torch.randint(0, 10, (4,), device="cuda")

    def gradients(model, x):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), targets).backward()
        return {name: p.grad.double() for name, p in model.named_parameters()}

    exact = gradients(model64, images)
    worst = {}
    for mode in ("fp32", "tf32"):
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        model = i2v_tag(torch, width=0.5, outputs=10).cuda()
        model.load_state_dict({k: v.float() for k, v in model64.state_dict().items()})
        got = gradients(model, images.float())
        worst[mode] = max(((got[k] - exact[k]).norm().item() / max(exact[k].norm().item(), 1e-300), k) for k in exact)
    return worst


def run_i2v_or_say_why(args, image, batch, precision):
    """run_i2v, or None after printing why it failed (the PyTorch side still runs)."""
    try:
        return run_i2v(args, image, batch, precision)
    except (subprocess.CalledProcessError, OSError, json.JSONDecodeError) as e:
        detail = getattr(e, "stderr", None) or str(e)
        print(f"error: i2v {precision} on {args.device} failed: {detail.strip()[-2000:]}", file=sys.stderr)
        return None


def have_torch(device="cpu"):
    try:
        import torch
    except ImportError:
        print(f"PyTorch is not installed for {sys.executable} (Debian: python3-torch): i2v alone", file=sys.stderr)
        return False
    if device == "sim":
        print("--device sim runs i2v's side alone (PyTorch has no such device)", file=sys.stderr)
        return False
    if device == "cuda" and not torch.cuda.is_available():
        print(f"PyTorch {torch.__version__} sees no CUDA device: i2v alone", file=sys.stderr)
        return False
    return True


def mib(size):
    """Bytes as whole MiB with thousands separators."""
    return f"{size / 2**20:,.0f}"


def print_breakdown(ours):
    print(f"\ni2v per layer at {ours['image']}x{ours['image']} batch {ours['batch']} in {ours['precision']}, median ms:")
    print("| layer | forward | backward | total | share |")
    print("|---|---:|---:|---:|---:|")
    parts = [(l["name"], l["forward_ms"], l["backward_ms"]) for l in ours["layers"]]
    total = sum(f + b for _, f, b in parts) + ours["zero_grad_ms"] + ours["loss_ms"] + ours["sgd_ms"]
    for name, f, b in parts:
        print(f"| {name} | {f:.1f} | {b:.1f} | {f + b:.1f} | {(f + b) / total:.1%} |")
    for name in ("zero_grad", "loss", "sgd"):
        print(f"| {name} | | | {ours[name + '_ms']:.1f} | {ours[name + '_ms'] / total:.1%} |")
    print(f"| sum | | | {total:.1f} | |")


def same_network(image, ours, theirs):
    """Exits unless both sides built the same architecture (parameters and output shape)."""
    if ours["parameters"] != theirs["parameters"] or ours["output_shape"] != theirs["output_shape"]:
        sys.exit(f"architectures differ at {image}x{image}: i2v {ours['parameters']} parameters, output "
                 f"{ours['output_shape']}; PyTorch {theirs['parameters']}, {theirs['output_shape']}")


def main_cpu(args, sizes, precisions):
    torch_present = have_torch()
    results = []
    for image, batch in sizes:
        for precision in precisions:
            ours = run_i2v(args, image, batch, precision)
            if torch_present:
                print(f"running: PyTorch {precision} at {image}x{image} batch {batch}", file=sys.stderr)
            theirs = run_torch(args, image, batch, precision, cuda=False) if torch_present else None
            if theirs:
                same_network(image, ours, theirs)
            results.append((image, batch, precision, ours, theirs))

    first_torch = next((theirs for *_, theirs in results if theirs), None)
    print(f"i2v-tag training step (forward + BCE + backward + SGD), {args.threads} threads, best of "
          f"{args.repetitions} steps after {args.warmup} warm-up; "
          f"{first_torch['info'] if first_torch else 'no PyTorch'}")
    print("| input | batch | parameters | output | arithmetic | i2v ms (best / median) | i2v images/s "
          "| PyTorch ms (best / median) | PyTorch images/s | i2v / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for image, batch, precision, ours, theirs in results:
        arithmetic = ours.get("arithmetic", precision) + (", PyTorch autocast" if precision == "bf16" else "")
        row = [f"{image}x{image}", str(batch), f"{ours['parameters']:,}", "x".join(map(str, ours["output_shape"])),
               arithmetic, f"{ours['best_ms']:.0f} / {ours['median_ms']:.0f}", f"{ours['images_per_s']:.2f}"]
        if theirs:
            row += [f"{theirs['best_ms']:.0f} / {theirs['median_ms']:.0f}", f"{theirs['images_per_s']:.2f}",
                    f"{ours['images_per_s'] / theirs['images_per_s']:.2f}x"]
        else:
            row += ["-", "-", "-"]
        print("| " + " | ".join(row) + " |")
    if "fp32" in precisions and len(precisions) > 1:
        by_key = {(image, batch, precision): (ours, theirs) for image, batch, precision, ours, theirs in results}
        for image, batch in sizes:
            base_ours, base_theirs = by_key[(image, batch, "fp32")]
            for precision in precisions:
                if precision == "fp32":
                    continue
                ours, theirs = by_key[(image, batch, precision)]
                line = f"{image}x{image} batch {batch}, {precision} over fp32 (best step): i2v " \
                       f"{base_ours['best_ms'] / ours['best_ms']:.2f}x"
                if theirs and base_theirs:
                    line += f", PyTorch {base_theirs['best_ms'] / theirs['best_ms']:.2f}x"
                print(line)
    for image, batch in sizes:
        print(f"{image}x{image} batch {batch}, i2v peak memory: " + ", ".join(
            f"{precision} {mib(ours['peak_memory_bytes'])} MiB"
            for result_image, result_batch, precision, ours, _ in results if (result_image, result_batch) == (image, batch)))
    if args.breakdown:
        for *_, ours, _ in results:
            print_breakdown(ours)


def main_gpu(args, sizes):
    torch_present = have_torch(args.device)
    for image, batch in sizes:
        ours = {}
        for precision in ("fp32", "tf32", "bf16"):
            result = run_i2v_or_say_why(args, image, batch, precision)
            if result:
                ours[precision] = result
        theirs = {}
        if torch_present:
            for mode in ("fp32", "tf32", "bf16"):
                print(f"running: PyTorch {mode} at {image}x{image} batch {batch}", file=sys.stderr)
                theirs[mode] = run_torch(args, image, batch, mode, cuda=args.device == "cuda")
                for result in ours.values():
                    same_network(image, result, theirs[mode])
        first = next(iter(ours.values()), None) or next(iter(theirs.values()), None)
        if not first:
            sys.exit(f"nothing ran at {image}x{image} batch {batch}")
        print(f"\ni2v-tag training step (forward + BCE + backward + SGD) on {args.device} at {image}x{image} batch "
              f"{batch}: {first['parameters']:,} parameters, output {'x'.join(map(str, first['output_shape']))}; "
              f"best of {args.repetitions} steps after {args.warmup} warm-up, synchronised; "
              f"{next(iter(theirs.values()))['info'] if theirs else 'no PyTorch'}")
        print("| run | arithmetic | step ms (best / median) | img/s (best) | inference ms (median) "
              "| peak memory MiB | i2v img/s / PyTorch img/s, same arithmetic |")
        print("|---|---|---|---|---|---|---|")
        for precision, result in ours.items():
            peer = theirs.get(precision)
            ratio = f"{result['images_per_s'] / peer['images_per_s']:.3f}x" if peer else "-"
            print(f"| i2v | {precision} | {result['best_ms']:.1f} / {result['median_ms']:.1f} "
                  f"| {result['images_per_s']:.1f} img/s | - | {mib(result['peak_memory_bytes'])} | {ratio} |")
        for mode, result in theirs.items():
            arithmetic = "bf16 autocast, channels_last" if mode == "bf16" else mode
            print(f"| PyTorch | {arithmetic} | {result['best_ms']:.1f} / {result['median_ms']:.1f} "
                  f"| {result['images_per_s']:.1f} img/s | {result['inference_ms']:.1f} "
                  f"| {mib(result['peak_memory_bytes'])} | |")
        for side, results in (("i2v", ours), ("PyTorch", theirs)):
            if "fp32" in results and "bf16" in results:
                fp32, bf16 = results["fp32"], results["bf16"]
                print(f"{side} bf16 against fp32: step {fp32['best_ms'] / bf16['best_ms']:.2f}x faster (best), peak "
                      f"memory {bf16['peak_memory_bytes'] / fp32['peak_memory_bytes']:.2f}x")
        if args.breakdown:
            for precision in ours:
                print(f"\n{precision}:")
                print_breakdown(ours[precision])
    if torch_present and args.device == "cuda":
        worst = torch_tf32_gradient_error()
        print("\nPyTorch's own gradient error against float64 (i2v-tag width 0.5, 64x64, batch 4, CE over 10 outputs; "
              "worst tensor, normwise): " + ", ".join(f"{mode} {error:.2e} ({name})" for mode, (error, name) in worst.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default="build/bench/train_step_bench")
    parser.add_argument("--device", default="cpu", choices=["cpu", "sim", "cuda"],
                        help="sim: i2v's GPU code on the emulator, alone (a smoke test at a tiny --sizes)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sizes", help="IMAGExBATCH, comma-separated (default 224x8,64x32; on cuda 224x64)")
    parser.add_argument("--precision", default="fp32",
                        help="cpu: fp32, bf16 or both comma-separated (fp32,bf16), each on both sides")
    parser.add_argument("--breakdown", action="store_true", help="i2v's per-layer times too")
    args = parser.parse_args()
    sizes_text = args.sizes or ("224x8,64x32" if args.device == "cpu" else "224x64")
    sizes = [tuple(int(v) for v in s.split("x")) for s in sizes_text.split(",")]
    if args.device == "cpu":
        precisions = args.precision.split(",")
        for precision in precisions:
            if precision not in ("fp32", "bf16"):
                parser.error(f"--precision {precision}: the cpu runs fp32 or bf16")
        main_cpu(args, precisions=precisions, sizes=sizes)
    else:
        main_gpu(args, sizes)


if __name__ == "__main__":
    main()
