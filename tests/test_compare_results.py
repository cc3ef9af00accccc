"""tools/compare_results.py: two results trees compared number for number, timing columns aside."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("compare_results",
                                              Path(__file__).resolve().parents[1] / "tools" / "compare_results.py")
compare_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_results)


def tree(root: Path, rows: str, folder: str = "smoke-0123abcd") -> Path:
    run = root / "lm" / folder
    run.mkdir(parents=True)
    (run / "summary.csv").write_text("cell,valid_ppl,wall_s\n" + rows)
    return root


def test_identical_numbers_pass_and_timing_columns_are_left_out(tmp_path, capsys):
    a = tree(tmp_path / "a", "minimal,120.5,3.0\ngru,130.0,4.0\n")
    b = tree(tmp_path / "b", "minimal,120.50,9.0\ngru,130,1.0\n", folder="smoke-fedcba98")  # another hash
    assert compare_results.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "note: run folder lm/smoke-0123abcd is lm/smoke-fedcba98 after" in out and "identical" in out


def test_every_differing_cell_is_listed_and_fails(tmp_path, capsys):
    a = tree(tmp_path / "a", "minimal,120.5,3.0\ngru,130.0,4.0\n")
    b = tree(tmp_path / "b", "minimal,120.5000001,3.0\ngru,131.0,4.0\n")
    assert compare_results.main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "row 1 (cell=minimal, valid_ppl=120.5): valid_ppl: '120.5' before, '120.5000001' after" in out
    assert "row 2 (cell=gru, valid_ppl=130.0): valid_ppl: '130.0' before, '131.0' after" in out


def test_rows_in_another_order_fail_only_when_asked(tmp_path):
    a = tree(tmp_path / "a", "minimal,120.5,3.0\ngru,130.0,4.0\n")
    b = tree(tmp_path / "b", "gru,130.0,4.0\nminimal,120.5,3.0\n")
    assert compare_results.main([str(a), str(b)]) == 0
    assert compare_results.main([str(a), str(b), "--strict-order"]) == 1


def test_a_missing_file_fails(tmp_path):
    a = tree(tmp_path / "a", "minimal,1,1\n")
    (a / "lm" / "smoke-0123abcd" / "epochs.csv").write_text("epoch\n1\n")
    b = tree(tmp_path / "b", "minimal,1,1\n")
    assert compare_results.main([str(a), str(b)]) == 1
