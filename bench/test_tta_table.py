#!/usr/bin/env python3
"""Tests of bench/tta_table.py's threshold table, against rows worked out by hand.
Run: python3 -m unittest bench/test_tta_table.py (the .NET suite runs it too: ResultsPageTests)."""
import os
import sys
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


if __name__ == "__main__":
    unittest.main()
