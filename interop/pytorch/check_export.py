#!/usr/bin/env python3
"""Checks `metacluster export` against PyTorch itself: the exported .pt (torch.load) and .safetensors files hold the
checkpoint's θ bit for bit under its names and in its order; the module in metacluster_torch.py finds every key it needs in them; its
forward pass equals the plain-PyTorch peer's functional Conv4 (../shared/bench-peer/maml_omniglot.py) on the same
batch; and, with --score N, the module fine-tuned in PyTorch (SGD on each support set, as MetaCluster adapts) classifies
N held-out Omniglot episodes. Prints one JSON line. Needs PyTorch (Debian: /usr/bin/python3 with python3-torch).

  metacluster export --checkpoint C --out /tmp/theta.pt && metacluster export --checkpoint C --out /tmp/theta.safetensors
  /usr/bin/python3 interop/pytorch/check_export.py --checkpoint C --pt /tmp/theta.pt --safetensors /tmp/theta.safetensors --score 100
"""
import argparse
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from metacluster_torch import Conv4, Mlp  # noqa: E402

PEER = os.path.join(HERE, "..", "..", "..", "shared", "bench-peer")


def read_checkpoint(path):
    """(header, θ as one float32 tensor): magic, int32 version, int32 header length, JSON header, θ."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"METACLCK":
        sys.exit("check_export: %s is not a MetaCluster checkpoint" % path)
    length = struct.unpack_from("<i", data, 12)[0]
    header = json.loads(data[16:16 + length])
    count = sum(math.prod(s) for s in header["Shapes"])
    theta = torch.frombuffer(bytearray(data[16 + length:16 + length + 4 * count]), dtype=torch.float32)
    return header, theta


def read_safetensors(path):
    """The safetensors layout read by hand (8-byte header length, JSON header, data): name → tensor, in file order."""
    with open(path, "rb") as f:
        data = f.read()
    length = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + length])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        start, end = entry["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[8 + length + start:8 + length + end]), dtype=torch.float32).reshape(entry["shape"])
    return out


def peer_module():
    """The plain-PyTorch peer's script (its functional Conv4, data loader and episode sampler); its folder goes on the
    path once, however often this is called."""
    path = os.path.abspath(PEER)
    if path not in sys.path:
        sys.path.insert(0, path)
    import maml_omniglot
    return maml_omniglot


def model_for(config):
    if config["Dataset"] in ("sinusoid", "sine-sequence"):
        return Mlp([1] + list(config["Hidden"]) + [1])
    color = config["Dataset"] == "mini-imagenet"
    return Conv4(config["Ways"], in_channels=3 if color else 1, filters=config.get("Filters") or (32 if color else 64),
                 image_size=84 if color else 28, strided=config.get("ConvDownsample") == "stride")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--pt", required=True)
    p.add_argument("--safetensors", required=True)
    p.add_argument("--score", type=int, default=0, help="held-out Omniglot episodes to fine-tune and classify (0: none)")
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "omniglot"))
    args = p.parse_args()
    torch.set_num_threads(1)

    header, theta = read_checkpoint(args.checkpoint)
    config, names, shapes = header["Config"], header["Names"], header["Shapes"]
    expected, offset = {}, 0
    for name, shape in zip(names, shapes):
        n = math.prod(shape)
        expected[name] = theta[offset:offset + n].reshape(shape)
        offset += n
    exported = {"pt": torch.load(args.pt), "safetensors": read_safetensors(args.safetensors)}
    bits = {kind: list(d.keys()) == names and all(torch.equal(d[k], expected[k]) for k in names) for kind, d in exported.items()}

    model = model_for(config)
    # θ of some methods holds more than the network (Meta-SGD's and MAML++'s rates, MAML++'s per-step batch norm,
    # Reptile's carried Adam state): the network's keys must all be there; the rest is listed.
    missing, extra = model.load_state_dict(exported["pt"], strict=False)
    if missing:
        sys.exit("check_export: the export lacks the network's %s" % missing)
    result = {"check": "export", "checkpoint": args.checkpoint, "round": header["Round"], "tensors": len(names),
              "parameters": offset, "bit_identical": bits, "network_loaded": True, "extra_tensors": len(extra),
              "torch": torch.__version__}
    if isinstance(model, Conv4) and not model.strided and config["Dataset"] == "omniglot":
        peer = peer_module()
        x = torch.rand(25, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ours = model(x)
            theirs = peer.forward([expected[k] for k in names], x)
        result["forward_max_abs_diff_vs_peer"] = (ours - theirs).abs().max().item()
        if args.score:
            result["score"] = score(model, config, args)
    print(json.dumps(result))
    return 0 if all(bits.values()) else 1


def score(model, config, args):
    """Fine-tune a copy of the module on each held-out episode's support set with plain SGD (the run's inner rate and
    evaluation steps), then classify its query set in one batch; mean accuracy and 95 % CI over the episodes."""
    peer = peer_module()
    options = peer.build_parser().parse_args([
        "--data", args.data, "--ways", str(config["Ways"]), "--shots", str(config["Shots"]), "--query", "15"]
        + (["--rotate"] if config.get("Rotate") else []))
    _, test = peer.load_data(options) if config.get("Split") == "lake" else sys.exit("check_export: --score knows Lake's split only")
    gen = torch.Generator().manual_seed(12345)
    accuracies = []
    for _ in range(args.score):
        xs, ys, xq, yq = peer.sample_episode(test, options, gen)
        tuned = copy.deepcopy(model)
        sgd = torch.optim.SGD(tuned.parameters(), lr=config["InnerLr"])
        for _ in range(config["EvalSteps"]):
            sgd.zero_grad()
            F.cross_entropy(tuned(xs), ys).backward()
            sgd.step()
        with torch.no_grad():
            accuracies.append((tuned(xq).argmax(1) == yq).float().mean().item())
    a = torch.tensor(accuracies)
    return {"episodes": len(a), "steps": config["EvalSteps"], "accuracy": a.mean().item(),
            "ci95": 1.96 * a.std().item() / math.sqrt(len(a))}


if __name__ == "__main__":
    sys.exit(main())
