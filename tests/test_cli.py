"""The command line: help, version and listing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mcnbench import __version__
from mcnbench.cli import build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mcnbench {__version__}"


def test_help_lists_commands_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "list" in out and "examples:" in out


@pytest.mark.parametrize("what", ["tasks", "models"])
def test_list(what, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    assert out.strip(), "listing must never print nothing"


def test_list_tasks_shows_each_main_score(capsys):
    assert main(["list", "tasks"]) == 0
    rows = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["youcook2_video"] == "caption_avg/R@10"
    assert rows["ucf101"] == rows["hmdb51"] == "top1" and rows["youcook2"] == "R@10"


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description, f"{name} has no description"
        assert "usage: mcnbench " + name in text


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "mcnbench", "list", "tasks"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip()


def test_the_default_worlds_short_demo_run_says_so_and_where_the_comparison_is():
    from types import SimpleNamespace

    from mcnbench.commands.run import demo_note

    default = SimpleNamespace(hints={"train": {"epochs": 6}})

    def ran(preset="default", overrides=None, checkpoint=None):  # what the records of a run say
        model = {"name": "mcn", "overrides": overrides or {}, "checkpoint": checkpoint}
        return [SimpleNamespace(record=SimpleNamespace(model=model, data={"preset": preset}))]

    trained = {"cached": True, "path": "cache/model.pth"}
    note = demo_note(ran(checkpoint=trained), default)
    assert "short demo training (6 epochs" in note and "results/default" in note
    assert demo_note(ran(overrides={"epochs": 12}, checkpoint=trained), default) == ""  # a chosen length
    assert demo_note(ran(), default) == ""                                              # random: untrained
    assert demo_note(ran(checkpoint={"path": "w.pth"}), default) == ""                  # the user's weights
    assert demo_note(ran(preset="tiny", checkpoint=trained), default) == ""
    assert demo_note(ran(preset=None, checkpoint=trained), default) == ""              # real data
