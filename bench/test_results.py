#!/usr/bin/env python3
"""Tests of bench/results.py on bench/fixtures/results-fixture.jsonl, against rows worked out by hand.
Run: python3 -m unittest bench/test_results.py (the .NET suite runs it too: ResultsPageTests)."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import results  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "results-fixture.jsonl")


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class ResultsPage(unittest.TestCase):
    def setUp(self):
        self.table = results.rows(results.read([FIXTURE]))
        self.by_key = {(r["task"], r["method"]): r for r in self.table}

    def row(self, task, method):
        return self.by_key[(task, method)]

    def test_train_line_uses_the_last_result_the_most_steps_and_transductive_batch_norm(self):
        r = self.row("Omniglot 5-way 1-shot", "MAML")
        # 0.9123 ± 0.0061 at 3 steps, transductive; the earlier 0.85 line of the same task is superseded.
        self.assertEqual(
            (r["paper"], r["ours"], r["episodes"], r["iterations"], r["wall"], r["machine"], r["command"]),
            ("98.70 %", "91.23 ± 0.61 %", "600", "1508", "48.0 min", "Test CPU 9000, AVX-512, 2 cores",
             "`metacluster train --dataset omniglot --data ../shared/data/omniglot --json`"))
        self.assertEqual(r["source"], results.FINN)

    def test_evaluate_line_takes_its_own_shots_and_round(self):
        r = self.row("mini-ImageNet 5-way 5-shot", "ProtoNets")
        self.assertEqual((r["paper"], r["ours"], r["iterations"], r["wall"]), ("68.20 %", "68.20 ± 0.71 %", "20000", "75.3 s"))
        self.assertEqual(r["command"], "`metacluster evaluate --checkpoint 'runs/p q/checkpoint.mcc' --shots 5 --json`")

    def test_evaluate_line_takes_its_own_ways_its_training_time_and_curve_points_are_skipped(self):
        # Trained 60-way (config), scored 20-way 5-shot (the line's own ways and shots); the training time it carries
        # (5400 s) is the row's, not the scoring's 42 s; the later curve point (50 %) is not a result.
        r = self.row("Omniglot 20-way 5-shot", "ProtoNets")
        self.assertEqual((r["paper"], r["ours"], r["episodes"], r["iterations"], r["wall"]), ("98.90 %", "97.50 ± 0.30 %", "1000", "9000", "90.0 min"))
        self.assertNotIn(("Omniglot 60-way 1-shot", "ProtoNets"), self.by_key)

    def test_a_checkpoint_without_its_training_time_gives_no_wall_time_rather_than_the_scorings(self):
        # evaluate prints "train_wall_seconds": null for a checkpoint that did not record it (written before it was
        # kept, or resumed from one): the row's wall time is unknown, not the 42 s the scoring took.
        line = {"command": "evaluate", "wall_seconds": 42.0, "train_wall_seconds": None, "round": 10,
                "config": {"dataset": "omniglot", "algorithm": "maml", "ways": 5, "shots": 1},
                "evaluation": {"episodes": 600, "results": [
                    {"steps": 3, "batch_norm": "transductive", "accuracy": {"mean": 0.9, "ci95": 0.01}}]}}
        parsed = results.parse(line)
        self.assertEqual((parsed["mean"], parsed["iterations"]), (0.9, 10))
        self.assertIsNone(parsed["wall_seconds"])
        self.assertEqual(results.wall(parsed["wall_seconds"]), "—")

    def test_bench_sinusoid_line_gives_the_one_step_mse_and_the_peer_line_is_skipped(self):
        r = self.row("Sinusoid K=5", "MAML")
        # The peer's later line (no "engine": "metacluster", MSE 0.5) must not replace ours.
        self.assertEqual((r["paper"], r["ours"], r["episodes"], r["iterations"], r["wall"], r["machine"], r["command"]),
                         ("0.67", "0.608 ± 0.062", "600", "70000", "16.7 min", "—", "—"))

    def test_first_order_maml_is_fomaml_and_pipes_are_escaped(self):
        r = self.row("Omniglot 20-way 1-shot", "FOMAML")
        self.assertEqual((r["paper"], r["ours"], r["iterations"], r["wall"]), ("89.40 %", "90.00 ± 2.00 %", "300", "2.0 h"))
        line = results.markdown_table([r], results.COLUMNS).splitlines()[2]
        self.assertIn("--ways 20 \\| tee log", line)
        self.assertEqual(line.count(" | "), len(results.COLUMNS) - 1)

    def test_an_equal_time_screen_is_marked_and_never_replaces_a_full_run(self):
        # The fixture's last lines are bench/methods_omniglot.py screens: 20-way FOMAML (read after the full 2-hour run
        # of the same task, which stays) and 5-way matching nets (no full run: the screen fills the row, marked).
        self.assertEqual(self.row("Omniglot 20-way 1-shot", "FOMAML")["ours"], "90.00 ± 2.00 %")
        r = self.row("Omniglot 5-way 1-shot", "Matching nets")
        self.assertEqual((r["paper"], r["ours"], r["iterations"], r["wall"], r["machine"]),
                         ("98.10 %", "93.95 ± 0.46 %", "68", "2.7 min (equal-time screen, 180 CPU s)", "Test CPU 9000, 2 cores, AVX2"))
        self.assertNotIn(r, results.headline(self.table))
        self.assertIn(self.row("Omniglot 20-way 1-shot", "FOMAML"), results.headline(self.table))
        # With nothing but screens measured, the headline shows them rather than nothing.
        only_screens = results.rows({k: v for k, v in results.read([FIXTURE]).items() if v.get("screen")})
        self.assertEqual([(r["task"], r["method"]) for r in results.headline(only_screens)], [("Omniglot 5-way 1-shot", "Matching nets")])

    def test_a_result_without_a_paper_figure_gets_its_own_row(self):
        r = self.row("Omniglot 5-way 1-shot", "metasgd")
        self.assertEqual((r["paper"], r["ours"], r["command"]), ("—", "50.00 ± 10.00 %", "—"))

    def test_a_maml_run_with_the_maml_plus_plus_options_is_a_maml_plus_plus_row(self):
        config = {"dataset": "omniglot", "algorithm": "maml", "ways": 5, "shots": 1, "multi_step_loss": True, "per_step_bn": True, "learned_inner_lr": True}
        line = {"command": "train", "config": config, "evaluation": {"episodes": 600, "results": [{"steps": 5, "batch_norm": "transductive", "accuracy": {"mean": 0.9, "ci95": 0.01}}]}}
        self.assertEqual(results.parse(line)["method"], "MAML++")
        self.assertEqual(results.parse(dict(line, config=dict(config, per_step_bn=False)))["method"], "MAML")

    def test_every_paper_figure_has_a_row_pending_or_not_implemented(self):
        self.assertEqual(len(self.table), len(results.PAPER) + 1)
        self.assertEqual(self.row("mini-ImageNet 5-way 1-shot", "MAML")["ours"], "not run yet")
        self.assertEqual(self.row("mini-ImageNet 5-way 1-shot", "MAML")["paper"], "48.70 %")
        self.assertEqual(self.row("Omniglot 5-way 1-shot", "MAML++")["ours"], "not run yet")
        self.assertEqual(self.row("mini-ImageNet 5-way 5-shot", "Baseline++")["paper"], "75.68 %")
        # Omniglot before mini-ImageNet before sinusoid; ways then shots within a dataset.
        tasks = [r["task"] for r in self.table]
        self.assertLess(tasks.index("Omniglot 20-way 5-shot"), tasks.index("mini-ImageNet 5-way 1-shot"))
        self.assertEqual(tasks[-1], "Sinusoid K=5")

    def test_writes_the_page_and_the_readme_rows_between_the_markers(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, readme = os.path.join(tmp, "results.md"), os.path.join(tmp, "README.md")
            with open(readme, "w") as f:
                f.write("# X\n<!-- results:begin -->\nold rows\n<!-- results:end -->\ntail\n")
            self.assertEqual(results.main([FIXTURE, "--out", out, "--readme", readme]), 0)
            page = read_text(out)
            self.assertIn("| Omniglot 5-way 1-shot | MAML | 98.70 % | 91.23 ± 0.61 % | 600 | 1508 | 48.0 min |", page)
            self.assertIn("results-fixture.jsonl", page)
            text = read_text(readme)
            self.assertNotIn("old rows", text)
            self.assertTrue(text.startswith("# X\n<!-- results:begin -->\n| task | method | paper | ours (95 % CI) | wall time |"))
            self.assertTrue(text.endswith("<!-- results:end -->\ntail\n"))
            # Headline rows are the measured ones: 6 results in the fixture.
            self.assertEqual(text.count("\n| "), 1 + 6)

            with open(readme, "w") as f:
                f.write("# no markers\n")
            with self.assertRaises(SystemExit) as e:
                results.main([FIXTURE, "--out", out, "--readme", readme])
            self.assertIn("results:begin", str(e.exception))

    def test_a_line_that_is_not_json_names_the_file_and_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.jsonl")
            with open(bad, "w") as f:
                f.write('{"command": "train"}\n{"command": oops}\n')
            with self.assertRaises(SystemExit) as e:
                results.read([bad])
            self.assertIn("bad.jsonl line 2: not valid JSON", str(e.exception))
            with self.assertRaises(SystemExit) as e:
                results.main([os.path.join(tmp, "missing.jsonl"), "--out", os.path.join(tmp, "o.md")])
            self.assertIn("cannot read", str(e.exception))

    def test_no_files_leave_the_page_and_readme_as_they_are(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, readme = os.path.join(tmp, "results.md"), os.path.join(tmp, "README.md")
            for path in (out, readme):
                with open(path, "w") as f:
                    f.write("measured rows\n<!-- results:begin -->\nrows\n<!-- results:end -->\n")
            with self.assertRaises(SystemExit) as e:
                results.main(["--out", out, "--readme", readme])
            self.assertIn("no JSON lines files given", str(e.exception))
            for path in (out, readme):
                with open(path) as f:
                    self.assertEqual("measured rows\n<!-- results:begin -->\nrows\n<!-- results:end -->\n", f.read())

    def test_with_no_results_the_readme_shows_mamls_pending_rows(self):
        head = results.headline(results.rows({}))
        self.assertEqual([(r["task"], r["method"], r["ours"]) for r in head],
                         [("Omniglot 5-way 1-shot", "MAML", "not run yet"), ("mini-ImageNet 5-way 1-shot", "MAML", "not run yet")])


if __name__ == "__main__":
    unittest.main()
