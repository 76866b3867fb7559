"""A command does not exit while a local model is generating (the process would abort inside
torch): it says it waits, and a second Ctrl-C ends it at once with exit code 130."""

from __future__ import annotations

import pytest

from compliance_gap import exiting


def test_an_idle_or_absent_local_model_exits_at_once(monkeypatch, capsys):
    monkeypatch.setattr(exiting, "hf_generation_busy", lambda: False)
    monkeypatch.setattr(exiting, "drop_queued_hf_generations", lambda: pytest.fail("nothing to drop"))
    exiting.let_local_generation_end()
    assert capsys.readouterr().err == ""


def test_a_busy_local_model_is_waited_for_after_its_queue_is_dropped(monkeypatch, capsys):
    busy, dropped = iter([True, True, True, False]), []
    monkeypatch.setattr(exiting, "hf_generation_busy", lambda: next(busy))
    monkeypatch.setattr(exiting, "drop_queued_hf_generations", lambda: dropped.append(1))
    exiting.let_local_generation_end(poll_s=0)
    assert dropped == [1] and next(busy, "done") == "done"  # waited until idle
    assert capsys.readouterr().err.strip() == exiting.WAITING


def test_a_second_ctrl_c_while_waiting_exits_130_at_once(monkeypatch, capsys):
    checks = iter([True])

    def busy_then_ctrl_c():  # busy, then Ctrl-C while waiting
        if next(checks, False):
            return True
        raise KeyboardInterrupt

    class Exited(Exception):
        pass

    def exit_now(code):
        raise Exited(code)

    monkeypatch.setattr(exiting, "hf_generation_busy", busy_then_ctrl_c)
    monkeypatch.setattr(exiting, "drop_queued_hf_generations", lambda: 0)
    monkeypatch.setattr(exiting.os, "_exit", exit_now)
    with pytest.raises(Exited) as exited:
        exiting.let_local_generation_end(poll_s=0)
    assert exited.value.args == (130,)
    assert exiting.WAITING in capsys.readouterr().err
