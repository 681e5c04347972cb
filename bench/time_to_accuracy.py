#!/usr/bin/env python3
"""Issue 13: training time to 80 / 90 / 95 % held-out accuracy, MetaCluster beside the plain-PyTorch peer
(../shared/bench-peer/maml_omniglot.py), on Omniglot 5-way 1-shot FOMAML.

Both sides run the same algorithm with the same settings — the MAML paper's Conv4 (64 filters, batch norm on batch
statistics), one inner SGD step at 0.4, Adam at 1e-3 outside, meta-batch 32, 15 queries, 3 steps when scoring — on the
same data (Lake's split: images_background to train, images_evaluation held out, both with rotations as new classes),
from the same initial θ (MetaCluster's, written by `train --iterations 0`; the peer reads it from the checkpoint) and
the same seed. Each side samples its own episodes with its own generator: the trajectories differ, the distribution
of tasks does not.

Every --every iterations each side scores --episodes held-out episodes (transductive batch norm, as the peer's
evaluate and the MAML paper do) and prints one JSON line. Time is the single-thread CPU seconds of training only
(sampling, adaptation, the outer step; not scoring or start-up): on one thread that is what a quiet machine's clock
would show, and it barely moves when other processes share the cores, so both sides can run side by side on a busy
2-core machine. MetaCluster trains with --in-process (the same θ bits as the embedded silo; the cluster's own cost is
measured by the coordinator benchmarks) and continues its checkpoint with --resume between scorings.

  bench/time_to_accuracy.py --side ours --out bench/results/time-to-accuracy-2026-12-01.jsonl
  /usr/bin/python3 bench/time_to_accuracy.py --side peer --out bench/results/time-to-accuracy-2026-12-01.jsonl

The peer side needs Debian's PyTorch (/usr/bin/python3); the ours side needs only the standard library. Run `--side
ours` first: it writes the initial θ the peer starts from (or give --theta CHECKPOINT). Either side continues where it
stopped with --resume (ours: its checkpoint and the last point in --out; the peer: the state it saves in RUNS after
every scoring, parameters, Adam and its episode generator), so a run can be extended with a larger --budget later.
--deadline HH:MM stops a side cleanly at the last scoring that leaves it time for no further segment (the segment just
taken is the estimate), so a run that spans sessions ends with its state and its points at the same iteration.

A threshold is met by the first 100-episode scoring at or above it — the best of many scorings on the same episodes,
so a lucky one counts. --confirm N trains nothing: it scores the side's saved θ (ours: RUNS/ours/checkpoint.mcc; the
peer: RUNS/peer-state.pt) on N held-out episodes with the side's own evaluator and prints one line ("confirm": true),
which the resume and the tables leave aside.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import datetime
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CLI = os.path.join(ROOT, "src/MetaCluster.Cli/bin/Release/net10.0/linux-x64/metacluster")
DEFAULT_PEER = os.path.join(ROOT, "..", "shared", "bench-peer")
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "omniglot")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", choices=["ours", "peer"], required=True)
    p.add_argument("--cli", default=DEFAULT_CLI)
    p.add_argument("--peer", default=DEFAULT_PEER, help="folder holding maml_omniglot.py")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "time-to-accuracy"), help="checkpoint folder (ours)")
    p.add_argument("--theta", default=None, help="checkpoint whose θ both sides start from (default: RUNS/initial/checkpoint.mcc)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--every", type=int, default=50, help="iterations between scorings")
    p.add_argument("--episodes", type=int, default=100, help="held-out episodes per scoring")
    p.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9,0.95")
    p.add_argument("--resume", action="store_true", help="continue this side's run (see above)")
    p.add_argument("--budget", type=float, default=2400, help="training CPU seconds after which a side stops")
    p.add_argument("--max-iterations", type=int, default=100_000)
    p.add_argument("--deadline", type=deadline_time, default=None,
                   help="HH:MM (local, the next one to come) or seconds since the epoch: start no segment that would end after it")
    p.add_argument("--out", default=None, help="append every JSON line here too")
    p.add_argument("--confirm", type=int, default=None, metavar="N",
                   help="train nothing: score the side's saved θ on N held-out episodes (see above)")
    return p.parse_args(argv)


def deadline_time(text):
    """--deadline's value as seconds since the epoch: HH:MM is the next such local time, a number is taken as is."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        clock = datetime.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError("--deadline takes HH:MM or seconds since the epoch (got %r)" % text)
    now = datetime.datetime.now()
    at = datetime.datetime.combine(now.date(), clock)
    return (at if at > now else at + datetime.timedelta(days=1)).timestamp()


class Segments:
    """Why a side stops: its thresholds, --budget, --max-iterations, or --deadline, judged before every segment (train
    --every iterations, then score) with the wall time of the segment just taken as the estimate of the next."""

    def __init__(self, args, clock=time.time):
        self.args, self.clock, self.last_wall, self.started = args, clock, 0.0, None

    def stop_reason(self, thresholds, cpu, iteration):
        if thresholds.done:
            return "thresholds"
        if cpu >= self.args.budget:
            return "budget"
        if iteration >= self.args.max_iterations:
            return "max-iterations"
        if self.args.deadline is not None and self.clock() + self.last_wall > self.args.deadline:
            return "deadline"
        self.started = self.clock()
        return None

    def ended(self):
        """Call when a segment's point is out: its wall time is the next one's estimate."""
        self.last_wall = self.clock() - self.started


def emit(args, row):
    line = json.dumps(row)
    print(line, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


def read_theta(path):
    """(names, shapes, float32 values) of a MetaCluster checkpoint: magic, version, header length, JSON header, θ."""
    with open(path, "rb") as f:
        data = f.read()
    header_length = struct.unpack_from("<i", data, 12)[0]
    header = json.loads(data[16:16 + header_length])
    names, shapes = header["Names"], header["Shapes"]
    count = sum(math.prod(s) for s in shapes)
    values = struct.unpack_from("<%df" % count, data, 16 + header_length)
    return names, shapes, values


class Thresholds:
    """The training CPU seconds and iteration at which each threshold was first met by a scoring."""

    def __init__(self, text):
        self.targets = [float(t) for t in text.split(",")]
        self.reached = {}

    def update(self, accuracy, cpu, iteration):
        for t in self.targets:
            if accuracy >= t and t not in self.reached:
                self.reached[t] = {"train_cpu_seconds": round(cpu, 1), "iterations": iteration}

    @property
    def done(self):
        return len(self.reached) == len(self.targets)

    def summary(self):
        return {("%g" % t): self.reached.get(t) for t in self.targets}


def previous_points(args, side):
    """This side's earlier points in --out (to resume): (last iteration, training CPU seconds, thresholds met)."""
    thresholds, iteration, cpu = Thresholds(args.thresholds), 0, 0.0
    if args.out and os.path.exists(args.out):
        with open(args.out) as f:
            for line in f:
                row = json.loads(line)
                if row.get("bench") == "time-to-accuracy" and row.get("side") == side and not row.get("summary") \
                        and not row.get("confirm"):
                    iteration, cpu = row["iterations"], row["train_cpu_seconds"]
                    thresholds.update(row["accuracy"], cpu, iteration)
    return iteration, cpu, thresholds


def common_row(args, side):
    return {"bench": "time-to-accuracy", "side": side, "algorithm": "fomaml", "ways": 5, "shots": 1, "queries": 15,
            "meta_batch": 32, "split": "lake", "rotate": True, "seed": args.seed, "score_episodes": args.episodes}


def confirm_row(args, side, iteration, source, accuracy, ci95, eval_seed, **extra):
    """--confirm's line: a side's saved θ scored on more held-out episodes than the scorings that met the thresholds."""
    row = dict(common_row(args, side), confirm=True, iterations=iteration, source=source, accuracy=accuracy, ci95=ci95,
               eval_seed=eval_seed, **extra)
    row["score_episodes"] = args.confirm
    return row


# ----------------------------------------------------------------------------------------------------------- ours
def run_cli(args, verb, *options):
    command = [args.cli, verb] + list(options) + ["--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("time_to_accuracy: %s failed (%d):\n%s" % (" ".join(command), done.returncode, done.stderr[-3000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def score(args, checkpoint, episodes):
    """`evaluate` on held-out episodes with transductive batch norm: (its JSON, the first result)."""
    scored = run_cli(args, "evaluate", "--checkpoint", checkpoint, "--episodes", str(episodes), "--batch-norm", "transductive")
    return scored, scored["evaluation"]["results"][0]


def initial_checkpoint(args):
    """θ before any training: `train --iterations 0` writes the run's initial θ (and its config) to a checkpoint."""
    directory = os.path.join(args.runs, "initial")
    path = os.path.join(directory, "checkpoint.mcc")
    if not os.path.exists(path):
        run_cli(args, "train", *train_options(args, directory), "--iterations", "0", "--no-eval", "--overwrite")
    return path


def train_options(args, directory):
    return ["--dataset", "omniglot", "--data", args.data, "--split", "lake", "--rotate", "--algorithm", "fomaml",
            "--ways", "5", "--shots", "1", "--queries", "15", "--meta-batch", "32", "--inner-lr", "0.4",
            "--inner-steps", "1", "--eval-steps", "3", "--outer-lr", "0.001", "--outer-lr-final", "none",
            "--seed", str(args.seed), "--threads", "1", "--in-process", "--checkpoint-every", "0",
            "--checkpoint-dir", directory]


def ours(args):
    directory = os.path.join(args.runs, "ours")
    if args.confirm is not None:
        checkpoint = os.path.join(directory, "checkpoint.mcc")
        if not os.path.exists(checkpoint):
            sys.exit("time_to_accuracy: %s does not exist: nothing to confirm; train this side first." % checkpoint)
        scored, result = score(args, checkpoint, args.confirm)
        emit(args, confirm_row(args, "metacluster", scored["round"], checkpoint, result["accuracy"]["mean"],
                               result["accuracy"]["ci95"], scored["evaluation"]["eval_seed"], theta_sha256=scored["theta_sha256"]))
        return
    theta = args.theta or initial_checkpoint(args)
    thresholds, cpu, iteration = Thresholds(args.thresholds), 0.0, 0
    if args.resume:
        iteration, cpu, thresholds = previous_points(args, "metacluster")
    segments = Segments(args)
    while (stopped := segments.stop_reason(thresholds, cpu, iteration)) is None:
        iteration += args.every
        if iteration == args.every:
            # The first segment starts from the initial checkpoint's θ: copy it in and resume, so both sides share θ0.
            os.makedirs(directory, exist_ok=True)
            with open(theta, "rb") as src, open(os.path.join(directory, "checkpoint.mcc"), "wb") as dst:
                dst.write(src.read())
        trained = run_cli(args, "train", "--resume", "--in-process", "--checkpoint-dir", directory, "--iterations", str(iteration), "--no-eval")
        cpu += trained["cpu_seconds"]
        _, result = score(args, os.path.join(directory, "checkpoint.mcc"), args.episodes)
        accuracy = result["accuracy"]["mean"]
        thresholds.update(accuracy, cpu, iteration)
        emit(args, dict(common_row(args, "metacluster"), iterations=iteration, train_cpu_seconds=round(cpu, 2),
                        accuracy=accuracy, ci95=result["accuracy"]["ci95"], theta_sha256=trained["theta_sha256"],
                        machine=trained.get("machine")))
        segments.ended()
    emit(args, dict(common_row(args, "metacluster"), summary=True, iterations=iteration, train_cpu_seconds=round(cpu, 1),
                    reached=thresholds.summary(), stopped=stopped, initial_theta=theta))


# ----------------------------------------------------------------------------------------------------------- peer
def machine():
    """The peer's host in the form MetaCluster's lines record theirs (cpu, isa, cores), so each stretch of a run that
    went on over several sessions says which CPU its seconds were spent on."""
    model, flags = "unknown", set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return {"cpu": model, "isa": isa, "cores": os.cpu_count()}


def peer(args):
    import torch
    sys.path.insert(0, os.path.abspath(args.peer))
    import maml_omniglot as reference

    theta = args.theta or os.path.join(args.runs, "initial", "checkpoint.mcc")
    state_path = os.path.join(args.runs, "peer-state.pt")
    if args.resume and not os.path.exists(state_path):
        sys.exit("time_to_accuracy: %s does not exist: nothing to resume; drop --resume." % state_path)
    if not args.resume and args.confirm is None and not os.path.exists(theta):
        sys.exit("time_to_accuracy: %s does not exist: run --side ours first (it writes the initial θ), or give --theta." % theta)
    options = reference.build_parser().parse_args([
        "--algo", "fomaml", "--data", args.data, "--rotate", "--ways", "5", "--shots", "1", "--query", "15",
        "--meta-batch", "32", "--inner-lr", "0.4", "--inner-steps", "1", "--outer-lr", "0.001", "--threads", "1",
        "--seed", str(args.seed), "--eval-episodes", str(args.episodes), "--eval-steps", "3"])
    torch.set_num_threads(1)
    if args.confirm is not None:
        if not os.path.exists(state_path):
            sys.exit("time_to_accuracy: %s does not exist: nothing to confirm; train this side first." % state_path)
        options.eval_episodes = args.confirm
        _, test = reference.load_data(options)
        state = torch.load(state_path)
        scored = reference.evaluate([saved.clone().requires_grad_() for saved in state["params"]], test, options)
        emit(args, confirm_row(args, "pytorch-peer", state["iterations"], state_path, scored["acc_mean"], scored["acc_ci95"],
                               scored["eval_seed"], torch=torch.__version__))
        return
    train, test = reference.load_data(options)
    expected = [list(p.shape) for p in reference.init_params(options.ways, options.seed)]
    if args.resume:  # the saved parameters replace θ0, so the initial checkpoint need not be here
        state = torch.load(state_path)
        params = [saved.clone().requires_grad_() for saved in state["params"]]
        shapes = [list(p.shape) for p in params]
    else:
        _, shapes, values = read_theta(theta)
        params, offset = [], 0
        for shape in shapes:
            n = math.prod(shape)
            params.append(torch.tensor(values[offset:offset + n], dtype=torch.float32).reshape(shape).requires_grad_())
            offset += n
    if [list(s) for s in shapes] != expected:
        sys.exit("time_to_accuracy: θ shaped %s; the peer's Conv4 is %s" % (shapes, expected))
    opt = torch.optim.Adam(params, lr=options.outer_lr)
    gen = torch.Generator().manual_seed(options.seed)
    thresholds, cpu, iteration = Thresholds(args.thresholds), 0.0, 0
    if args.resume:
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        iteration, cpu, thresholds = previous_points(args, "pytorch-peer")
        if iteration != state["iterations"]:
            sys.exit("time_to_accuracy: %s is at iteration %d but --out's last peer point at %d." % (state_path, state["iterations"], iteration))
    segments = Segments(args)
    while (stopped := segments.stop_reason(thresholds, cpu, iteration)) is None:
        start = time.process_time()
        for _ in range(args.every):
            episodes = [reference.sample_episode(train, options, gen) for _ in range(options.meta_batch)]
            reference.maml_step(params, opt, episodes, options)
        cpu += time.process_time() - start
        iteration += args.every
        scored = reference.evaluate(params, test, options)
        thresholds.update(scored["acc_mean"], cpu, iteration)
        torch.save({"params": [p.detach().clone() for p in params], "opt": opt.state_dict(), "gen": gen.get_state(),
                    "iterations": iteration}, state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)
        emit(args, dict(common_row(args, "pytorch-peer"), iterations=iteration, train_cpu_seconds=round(cpu, 2),
                        accuracy=scored["acc_mean"], ci95=scored["acc_ci95"], torch=torch.__version__, machine=machine()))
        segments.ended()
    emit(args, dict(common_row(args, "pytorch-peer"), summary=True, iterations=iteration, train_cpu_seconds=round(cpu, 1),
                    reached=thresholds.summary(), stopped=stopped, initial_theta=theta, torch=torch.__version__))


if __name__ == "__main__":
    parsed = parse_args()
    (ours if parsed.side == "ours" else peer)(parsed)
