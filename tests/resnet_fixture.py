#!/usr/bin/python3
"""torchvision's ResNets written out in plain PyTorch (torchvision is not a Debian package here),
for tests/resnet_test.cpp:

  resnet_fixture.py OUT_DIR SEED

writes
  OUT_DIR/shapes.json                 {"resnet18": [[name, shape], ...], ...}: the state dict of
                                      resnet18/34/50/101 (1000 classes) in PyTorch's order
  OUT_DIR/<model>.safetensors         a state dict with random weights and running statistics
  OUT_DIR/<model>.expected.safetensors
                                      "input" [2, 3, 64, 64]; "eval" (the logits in eval mode);
                                      "train" (the logits of a train-mode forward of the same
                                      input) and "after.<name>" (every buffer after it)
for <model> = resnet18 (full width) and resnet50_w4 (resnet50 at a quarter of the channels, as
i2v's --width 0.25 makes it), with 5 classes. Exits 77 when torch is missing.

The classes below follow torchvision/models/resnet.py (v1.5: the Bottleneck's stride on its 3x3).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

try:
    import torch
    from torch import nn
except ImportError as error:
    print(f"torch is missing: {error}")
    sys.exit(77)

import safetensors_reference  # noqa: E402  (numpy-only safetensors writer)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes, width=1.0):
        super().__init__()
        scaled = lambda c: max(1, int(round(c * width)))  # noqa: E731
        self.inplanes = scaled(64)
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, scaled(64), layers[0], 1)
        self.layer2 = self._make_layer(block, scaled(128), layers[1], 2)
        self.layer3 = self._make_layer(block, scaled(256), layers[2], 2)
        self.layer4 = self._make_layer(block, scaled(512), layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(scaled(512) * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


ARCHITECTURES = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
}


def stored(tensor):
    """(dtype name, numpy array) for safetensors_reference.write."""
    if tensor.dtype == torch.int64:
        return "I64", tensor.numpy()
    return "F32", tensor.detach().float().numpy()


def randomize(model, generator):
    """Weights, biases and running statistics that are not their initial values."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
                module.num_batches_tracked.fill_(int(torch.randint(1, 100, (1,), generator=generator)))
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)


def write_model(out_dir, name, architecture, width, generator):
    block, layers = ARCHITECTURES[architecture]
    model = ResNet(block, layers, num_classes=5, width=width)
    randomize(model, generator)
    state = model.state_dict()
    safetensors_reference.write(os.path.join(out_dir, name + ".safetensors"),
                                [(key,) + stored(value) for key, value in state.items()])
    x = torch.randn(2, 3, 64, 64, generator=generator)
    expected = [("input",) + stored(x)]
    model.eval()
    with torch.no_grad():
        expected.append(("eval",) + stored(model(x)))
        model.train()
        expected.append(("train",) + stored(model(x)))
    expected += [("after." + key,) + stored(value) for key, value in model.state_dict().items()
                 if "running" in key or "num_batches" in key]
    safetensors_reference.write(os.path.join(out_dir, name + ".expected.safetensors"), expected)


def main(out_dir, seed):
    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(seed)
    shapes = {}
    for name, (block, layers) in ARCHITECTURES.items():
        state = ResNet(block, layers, num_classes=1000).state_dict()
        shapes[name] = [[key, list(value.shape)] for key, value in state.items()]
    with open(os.path.join(out_dir, "shapes.json"), "w") as out:
        json.dump(shapes, out)
    write_model(out_dir, "resnet18", "resnet18", 1.0, generator)
    write_model(out_dir, "resnet50_w4", "resnet50", 0.25, generator)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
