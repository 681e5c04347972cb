#!/usr/bin/env python3
"""Tests of bench/tta_table.py's threshold table, against rows worked out by hand.
Run: python3 -m unittest bench/test_tta_table.py (the .NET suite runs it too: ResultsPageTests)."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tta_table  # noqa: E402


def side(*points):
    """iteration → point, from (iterations, training CPU seconds, accuracy) triples."""
    return {i: {"iterations": i, "train_cpu_seconds": cpu, "accuracy": acc} for i, cpu, acc in points}


class ThresholdTable(unittest.TestCase):
    def test_both_reached_one_reached_and_neither(self):
        ours = side((100, 400, 0.50), (200, 800, 0.92))
        peer = side((100, 600, 0.55), (200, 1200, 0.70), (300, 1800, 0.45))
        rows = tta_table.threshold_rows(ours, peer, [0.5, 0.9, 0.95])
        self.assertEqual(("50 %", "400 s (100 it.)", "600 s (100 it.)", "1.50×"), rows[0])
        # The peer not at 90 % after 1,800 s, we at 800 s: it needs more than 1800 / 800 = 2.25 times our time.
        self.assertEqual(("90 %", "800 s (200 it.)",
                          "not yet in 1,800 s (best 70.0 % at 200 it., last 45.0 % at 300 it.)", "> 2.25×"), rows[1])
        self.assertEqual(("95 %", "not yet in 800 s (best 92.0 % at 200 it.)",
                          "not yet in 1,800 s (best 70.0 % at 200 it., last 45.0 % at 300 it.)", "—"), rows[2])

    def test_a_side_behind_in_seconds_bounds_nothing(self):
        ours = side((100, 800, 0.90))
        peer = side((100, 500, 0.60))  # not there, but it has spent less than our 800 s: no bound either way
        self.assertEqual("—", tta_table.threshold_rows(ours, peer, [0.9])[0][3])

    def test_the_peer_first_gives_an_upper_bound(self):
        ours = side((100, 1000, 0.40))
        peer = side((100, 600, 0.60))  # we are not at 50 % after 1,000 s: the ratio is below 600 / 1000
        self.assertEqual(("50 %", "not yet in 1,000 s (best 40.0 % at 100 it.)", "600 s (100 it.)", "< 0.60×"),
                         tta_table.threshold_rows(ours, peer, [0.5])[0])

    def test_a_side_not_run(self):
        self.assertEqual("not run", tta_table.threshold_rows(side((100, 400, 0.5)), {}, [0.5])[0][2])


class WriteBetweenMarkers(unittest.TestCase):
    LINES = [
        '{"bench": "time-to-accuracy", "side": "metacluster", "iterations": 100, "train_cpu_seconds": 400, "accuracy": 0.8, "ci95": 0.02}',
        '{"bench": "time-to-accuracy", "side": "pytorch-peer", "iterations": 100, "train_cpu_seconds": 600, "accuracy": 0.85, "ci95": 0.02}',
        # --confirm's line scores the saved θ again (no training seconds): not a point of the curve.
        '{"bench": "time-to-accuracy", "side": "pytorch-peer", "confirm": true, "iterations": 100, "accuracy": 0.7, "ci95": 0.01}',
    ]

    def run_script(self, folder, page):
        jsonl, doc = os.path.join(folder, "tta.jsonl"), os.path.join(folder, "page.md")
        with open(jsonl, "w") as f:
            f.write("\n".join(self.LINES) + "\n")
        with open(doc, "w") as f:
            f.write(page)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tta_table.py")
        done = subprocess.run([sys.executable, script, jsonl, "--thresholds", "0.8", "--write", doc],
                              capture_output=True, text=True)
        with open(doc) as f:
            return done, f.read()

    def test_the_tables_replace_only_what_stands_between_the_markers(self):
        page = ("intro\n<!-- tta-curve:begin -->\nold curve\n<!-- tta-curve:end -->\nmiddle\n"
                "<!-- tta-thresholds:begin -->\nold thresholds\n<!-- tta-thresholds:end -->\nend\n")
        with tempfile.TemporaryDirectory() as folder:
            done, text = self.run_script(folder, page)
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertNotIn("old curve", text)
        self.assertNotIn("old thresholds", text)
        self.assertTrue(text.startswith("intro\n<!-- tta-curve:begin -->\n| iterations |"))
        self.assertIn("| 100 | 400 | 80.0 ± 2.0 % | 600 | 85.0 ± 2.0 % |\n<!-- tta-curve:end -->\nmiddle", text)
        self.assertIn("| 80 % | 400 s (100 it.) | 600 s (100 it.) | 1.50× |\n<!-- tta-thresholds:end -->\nend\n", text)

    def test_a_page_without_the_markers_is_refused_and_left_as_it_was(self):
        with tempfile.TemporaryDirectory() as folder:
            done, text = self.run_script(folder, "no markers here\n")
        self.assertNotEqual(0, done.returncode)
        self.assertIn("tta-curve:begin", done.stderr)
        self.assertEqual("no markers here\n", text)


if __name__ == "__main__":
    unittest.main()
