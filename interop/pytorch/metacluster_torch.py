"""PyTorch modules whose state_dict keys are those `metacluster export` writes, so a meta-trained θ goes on in PyTorch:

    import torch
    from metacluster_torch import Conv4
    model = Conv4(ways=5)                                   # Omniglot 5-way, 64 filters, 28×28, max-pool blocks
    model.load_state_dict(torch.load("theta.pt"))           # strict: every key and shape must match
    # or: from safetensors.torch import load_file; model.load_state_dict(load_file("theta.safetensors"))

Batch norm uses the statistics of the batch it is given (track_running_stats=False), as MetaCluster trains and
evaluates (transductive: adapt on the support set, then classify the query set as one batch). θ of Meta-SGD, MAML++ or
other methods holds more than the network (e.g. "lr.conv1.weight", per-step batch norm): load those with
strict=False, or read the extra tensors from the state dict yourself (docs/commands.md, export). The way back:
torch.save(model.state_dict(), "theta.pt") and `metacluster train --init theta.pt …` starts a run from it.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv4(nn.Module):
    """MetaCluster's Conv4: four blocks of 3×3 convolution (padding 1), batch norm, ReLU and 2×2 max-pool — or, with
    strided=True (--conv-downsample stride, MAML's and Reptile's Omniglot network), a stride-2 convolution and no pool,
    the last map averaged — then a linear head. Keys: conv1.weight … bn4.bias, head.weight, head.bias."""

    def __init__(self, ways, in_channels=1, filters=64, image_size=28, strided=False):
        super().__init__()
        self.strided = strided
        for block in range(1, 5):
            setattr(self, "conv%d" % block, nn.Conv2d(in_channels if block == 1 else filters, filters, 3,
                                                      stride=2 if strided else 1, padding=1))
            setattr(self, "bn%d" % block, nn.BatchNorm2d(filters, track_running_stats=False))
        side = image_size // 16  # four halvings, rounding down as max-pool does
        self.head = nn.Linear(filters if strided else filters * side * side, ways)

    def features(self, x):
        for block in range(1, 5):
            x = F.relu(getattr(self, "bn%d" % block)(getattr(self, "conv%d" % block)(x)))
            if not self.strided:
                x = F.max_pool2d(x, 2)
        return x.mean((2, 3)) if self.strided else x.flatten(1)

    def forward(self, x):
        return self.head(self.features(x))


class Mlp(nn.Module):
    """MetaCluster's MLP (sinusoid regression; --hidden W,W): linear layers with ReLU between. Keys: fc1.weight …"""

    def __init__(self, widths=(1, 40, 40, 1)):
        super().__init__()
        for i in range(len(widths) - 1):
            setattr(self, "fc%d" % (i + 1), nn.Linear(widths[i], widths[i + 1]))
        self.layers = len(widths) - 1

    def forward(self, x):
        for i in range(1, self.layers):
            x = F.relu(getattr(self, "fc%d" % i)(x))
        return getattr(self, "fc%d" % self.layers)(x)
