#!/usr/bin/env python3
"""Runs a bench-peer script (shared/bench-peer: plain PyTorch, CPU only) on another device, unchanged.

usage: peer_device.py DEVICE SCRIPT [ARGS...]

The peers sample their data with CPU generators (seeded torch.Generator) and build their parameters on the CPU; this
wrapper loads the script as a module and moves what those functions return to DEVICE, so every step after that runs
there, with the same data and the same initial parameters as on the CPU (with DEVICE=cpu the moves are no-ops).
The JSON line gains "device" (and the GPU's name).
"""
import importlib.util
import json
import os
import sys

import torch


def load(script):
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))  # the peers import cpumeter from beside them
    spec = importlib.util.spec_from_file_location("peer", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def moved(function, device):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if isinstance(result, torch.Tensor):
            return result.to(device)
        return type(result)(r.to(device) if isinstance(r, torch.Tensor) else r for r in result)
    return wrapper


def on_device_params(function, device):
    # Parameters are leaves that require grad: moved, then made leaves again.
    def wrapper(*args, **kwargs):
        return [p.detach().to(device).requires_grad_() for p in function(*args, **kwargs)]
    return wrapper


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.splitlines()[2])
    device, script = sys.argv[1], sys.argv[2]
    module = load(script)
    if device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("peer_device.py: %s asked for, but torch %s sees no CUDA GPU" % (device, torch.__version__))
    # Data in, parameters out: everything the training step touches comes from these. Wrapped on the CPU too (where
    # .to is a no-op), so a CPU run goes through the same path as a GPU run.
    for name in ("sample_tasks", "sample_episode", "load_data"):
        if hasattr(module, name):
            setattr(module, name, moved(getattr(module, name), device))
    module.init_params = on_device_params(module.init_params, device)
    printed = []
    real_print = print
    # Capture the peer's one JSON line to add the device to it.
    module.print = lambda *a, **k: printed.append(" ".join(str(x) for x in a))
    sys.argv = [script] + sys.argv[3:]
    module.main()
    for line in printed:
        try:
            result = json.loads(line)
        except ValueError:
            real_print(line)
            continue
        result["device"] = device
        if device.startswith("cuda"):
            result["device_name"] = torch.cuda.get_device_name(torch.device(device))
        real_print(json.dumps(result))


if __name__ == "__main__":
    main()
