#!/usr/bin/env python3
"""Tests of bench/time_to_accuracy.py's stopping rules (--deadline, --budget, --max-iterations) and of a stopped side
resuming where its points end. The MetaCluster side runs against a stand-in CLI (a small script written here), so the
tests need neither a build nor the Omniglot data.
Run: python3 -m unittest bench/test_time_to_accuracy.py (the .NET suite runs it too: ResultsPageTests)."""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import time_to_accuracy  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "time_to_accuracy.py")

# The stand-in for `metacluster`: a checkpoint is a text file holding its round; training to round N takes TRAIN_SECONDS
# of wall time and reports 2 CPU seconds per 50 rounds; a checkpoint at round r scores r / 1000.
FAKE_CLI = r'''#!/usr/bin/env python3
import json, os, sys, time
args = sys.argv[1:]
value = lambda name: args[args.index(name) + 1]
if args[0] == "train":
    directory = value("--checkpoint-dir")
    path = os.path.join(directory, "checkpoint.mcc")
    target = int(value("--iterations"))
    start = 0 if target == 0 else int(open(path).read())
    time.sleep(float(os.environ.get("TRAIN_SECONDS", "0")) if target else 0)
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(str(target))
    print(json.dumps({"cpu_seconds": (target - start) / 25, "theta_sha256": "round-%d" % target}))
else:
    reached = int(open(value("--checkpoint")).read())
    print(json.dumps({"round": reached, "theta_sha256": "round-%d" % reached, "evaluation": {
        "eval_seed": 12345, "episodes": int(value("--episodes")),
        "results": [{"accuracy": {"mean": reached / 1000, "ci95": 0.01}}]}}))
'''


class StopRules(unittest.TestCase):
    def rules(self, clock, **options):
        args = argparse.Namespace(budget=1000.0, max_iterations=500, deadline=None)
        vars(args).update(options)
        return time_to_accuracy.Segments(args, clock=lambda: clock[0])

    def test_the_deadline_leaves_room_for_a_segment_like_the_last(self):
        clock = [100.0]
        segments = self.rules(clock, deadline=125.0)
        thresholds = time_to_accuracy.Thresholds("0.9")
        self.assertIsNone(segments.stop_reason(thresholds, 0, 0))  # no segment yet: nothing to judge by but the clock
        clock[0] = 110.0
        segments.ended()  # it took 10 s: at 110 + 10 ≤ 125 another fits
        self.assertIsNone(segments.stop_reason(thresholds, 4, 50))
        clock[0] = 121.0
        segments.ended()  # 11 s this time: 121 + 11 > 125
        self.assertEqual("deadline", segments.stop_reason(thresholds, 8, 100))

    def test_a_deadline_already_past_takes_no_segment(self):
        self.assertEqual("deadline", self.rules([200.0], deadline=199.0).stop_reason(time_to_accuracy.Thresholds("0.9"), 0, 0))

    def test_thresholds_then_budget_then_iterations_are_checked_first(self):
        met = time_to_accuracy.Thresholds("0.5")
        met.update(0.6, 10, 50)
        late = [1e9]
        self.assertEqual("thresholds", self.rules(late, deadline=0.0).stop_reason(met, 0, 0))
        open_ = time_to_accuracy.Thresholds("0.9")
        self.assertEqual("budget", self.rules(late, deadline=0.0).stop_reason(open_, 1000.0, 0))
        self.assertEqual("max-iterations", self.rules(late, deadline=0.0).stop_reason(open_, 999.0, 500))
        self.assertIsNone(self.rules(late).stop_reason(open_, 999.0, 450))

    def test_deadline_values(self):
        self.assertEqual(1234.5, time_to_accuracy.deadline_time("1234.5"))
        at = datetime.datetime.fromtimestamp(time_to_accuracy.deadline_time("00:00"))
        self.assertEqual((0, 0), (at.hour, at.minute))
        self.assertGreater(at, datetime.datetime.now())  # the next midnight, not the last one
        self.assertLessEqual(at - datetime.datetime.now(), datetime.timedelta(days=1))
        with self.assertRaises(argparse.ArgumentTypeError):
            time_to_accuracy.deadline_time("4pm")


class StoppedSideResumes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.cli = os.path.join(self.dir.name, "metacluster")
        with open(self.cli, "w") as f:
            f.write(FAKE_CLI)
        os.chmod(self.cli, 0o755)
        self.out = os.path.join(self.dir.name, "points.jsonl")

    def tearDown(self):
        self.dir.cleanup()

    def run_side(self, *options, train_seconds=0):
        done = subprocess.run([sys.executable, SCRIPT, "--side", "ours", "--cli", self.cli, "--runs", self.dir.name,
                               "--out", self.out, "--thresholds", "0.9"] + list(options),
                              env=dict(os.environ, TRAIN_SECONDS=str(train_seconds)), capture_output=True, text=True)
        self.assertEqual(0, done.returncode, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def test_a_deadline_stops_at_a_point_and_resume_goes_on_from_it(self):
        # Each segment sleeps 1.5 s: the first starts before the deadline 2.5 s away, the second would end after it.
        # (--max-iterations only bounds the run should the deadline not stop it.)
        rows = self.run_side("--deadline", str(time.time() + 2.5), "--max-iterations", "200", train_seconds=1.5)
        self.assertEqual([50], [r["iterations"] for r in rows if not r.get("summary")])
        self.assertEqual(dict(summary=True, iterations=50, train_cpu_seconds=2.0, stopped="deadline"),
                         {k: rows[-1][k] for k in ("summary", "iterations", "train_cpu_seconds", "stopped")})
        with open(os.path.join(self.dir.name, "ours", "checkpoint.mcc")) as f:
            self.assertEqual("50", f.read())  # the state is at the last point: nothing trained past it

        rows = self.run_side("--resume", "--max-iterations", "150")
        self.assertEqual([(100, 4.0, 0.1), (150, 6.0, 0.15)],
                         [(r["iterations"], r["train_cpu_seconds"], r["accuracy"]) for r in rows if not r.get("summary")])
        self.assertEqual("max-iterations", rows[-1]["stopped"])

    def test_the_budget_counts_training_seconds_across_a_resume(self):
        self.run_side("--budget", "4")  # 2 CPU s a segment: stops at 4 s, after two
        rows = self.run_side("--resume", "--budget", "5")  # 4 s already spent: one more
        self.assertEqual([150], [r["iterations"] for r in rows if not r.get("summary")])
        self.assertEqual(("budget", 6.0), (rows[-1]["stopped"], rows[-1]["train_cpu_seconds"]))

    def test_confirm_scores_the_saved_theta_and_a_resume_passes_it_by(self):
        self.run_side("--max-iterations", "100")
        rows = self.run_side("--confirm", "600")
        self.assertEqual([dict(confirm=True, side="metacluster", iterations=100, score_episodes=600, accuracy=0.1,
                               theta_sha256="round-100")],
                         [{k: r[k] for k in ("confirm", "side", "iterations", "score_episodes", "accuracy", "theta_sha256")}
                          for r in rows])
        with open(os.path.join(self.dir.name, "ours", "checkpoint.mcc")) as f:
            self.assertEqual("100", f.read())  # nothing trained
        rows = self.run_side("--resume", "--max-iterations", "150")  # the confirm line in --out is not a point
        self.assertEqual([(150, 6.0)], [(r["iterations"], r["train_cpu_seconds"]) for r in rows if not r.get("summary")])

    def test_confirm_without_a_saved_theta_says_so(self):
        done = subprocess.run([sys.executable, SCRIPT, "--side", "ours", "--cli", self.cli, "--runs", self.dir.name,
                               "--confirm", "600"], capture_output=True, text=True)
        self.assertNotEqual(0, done.returncode)
        self.assertIn("nothing to confirm", done.stderr)


if __name__ == "__main__":
    unittest.main()
