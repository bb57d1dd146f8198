"""One dialect of flags: every help page states each default once; the positional forms and the
command name that came before the flags still work for one release, with a note."""

from __future__ import annotations

import argparse

import pytest
from support import REPO


def _subparsers(parser: argparse.ArgumentParser, prefix=()):
    """(command words, parser) for every command and action, the hidden ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subparsers(sub, (*prefix, name))


def test_every_help_page_states_a_default_once():
    from dermaseg.cli import build_parser

    pages = dict(_subparsers(build_parser()))
    assert ("classify", "experiment") in pages and ("evaluate",) in pages
    for words, parser in pages.items():
        text = " ".join(parser.format_help().split())
        assert "(default: None)" not in text and "(default: False)" not in text, words
        for action in parser._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                help_text = parser._get_formatter()._expand_help(action)
                assert help_text.count("default:") <= 1, (words, action.dest, help_text)


def test_same_flag_for_the_same_thing():
    from dermaseg.cli import build_parser

    pages = dict(_subparsers(build_parser()))
    options = {words: {o for a in p._actions for o in a.option_strings} for words, p in pages.items()}
    for words in [("predict",), ("evaluate",), ("export",), ("classify", "evaluate"), ("classify", "predict")]:
        assert "--model" in options[words] and "--out" in options[words], words
    for words in [("evaluate",), ("classify", "evaluate"), ("classify", "calibrate"), ("augment", "preview")]:
        assert "--data" in options[words], words
    assert not any("--tta-views" in o for o in options.values())
    assert all("--tta" in options[w] for w in [("predict",), ("evaluate",), ("classify", "evaluate"),
                                                ("classify", "predict")])


def test_json_means_one_thing_everywhere(shared_data, tmp_path, capsys):
    """--json: JSON on stdout instead of text; --json FILE: the text, and the JSON in FILE."""
    import json

    from dermaseg.cli import build_parser, main

    pages = dict(_subparsers(build_parser()))
    with_json = {w: next(a for a in p._actions if "--json" in a.option_strings) for w, p in pages.items()
                 if any("--json" in a.option_strings for a in p._actions)}
    assert set(with_json) >= {("models",), ("data", "inspect")}
    assert {(a.nargs, a.const, a.help) for a in with_json.values()} == {(a.nargs, a.const, a.help)
                                                                         for a in list(with_json.values())[:1]}
    data = str(shared_data / "isic2017")
    assert main(["data", "inspect", data, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)         # nothing but the JSON document on stdout
    assert report["images"] == 2000
    assert main(["data", "inspect", data, "--json", str(tmp_path / "r.json")]) == 0
    assert "inspected 2000 images" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert main(["models", "--no-params", "--json"]) == 0
    assert "architectures" in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv, expect", [
    (["evaluate", "isic-unet-lite0", "DATA"], {"model": "isic-unet-lite0", "data": "DATA"}),
    (["export", "isic-unet-lite0", "--out", "m.onnx"], {"model": "isic-unet-lite0", "out": "m.onnx"}),
    (["augment", "preview", "DATA", "--n", "2"], {"data": "DATA", "n": 2}),
])
def test_old_positional_forms_map_onto_the_flags_with_a_note(argv, expect, capsys):
    from dermaseg.cli import _command_name, build_parser
    from dermaseg.core.cliutil import take_old_positionals

    args = build_parser().parse_args(argv)
    take_old_positionals(args, _command_name(args))
    assert {k: getattr(args, k) for k in expect} == expect
    note = capsys.readouterr().err
    assert "deprecated" in note and "--" + next(iter(expect)) in note


def test_old_positional_and_its_flag_together_is_a_usage_error(capsys):
    from dermaseg.cli import main

    assert main(["export", "isic-unet-lite0", "--model", "other"]) == 2
    assert main(["evaluate", "a", "b", "c"]) == 2
    assert main(["evaluate", "--model", "otsu"]) == 2          # no --data
    err = capsys.readouterr().err
    assert "give it once, as --model" in err and "unrecognized arguments: c" in err and "--data DATA" in err


def test_experiment_moved_under_classify(monkeypatch, capsys):
    from dermaseg.classify import cli as classify_cli
    from dermaseg.cli import build_parser, main

    grids = []
    monkeypatch.setattr(classify_cli, "_experiment", lambda args: grids.append(args.grid) or 0)
    grid = str(REPO / "configs" / "experiments" / "seed_table.yaml")
    args = build_parser().parse_args(["classify", "experiment", grid, "--dry-run"])
    assert (args.grid, args.dry_run) == (grid, True)
    assert main(["experiment", grid, "--dry-run"]) == 0            # the old name, for one release
    assert grids == [grid] and "now `dermaseg classify experiment`" in capsys.readouterr().err


# --- typos ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,expected", [
    (["predcit", "x.jpg"], "did you mean 'predict'?"),
    (["classify", "predcit"], "did you mean 'predict'?"),
    (["predict", "x.jpg", "--ouput", "out"], "unrecognized arguments: --ouput (did you mean --out?)"),
    (["classify", "predict", "x.jpg", "--modle", "m"], "dermaseg classify predict: error: unrecognized arguments: "
                                                      "--modle (did you mean --model?)"),
])
def test_a_misspelt_command_or_flag_names_the_closest_one(argv, expected, capsys):
    from dermaseg.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and expected in capsys.readouterr().err


def test_hidden_commands_stay_out_of_the_list_of_choices(capsys):
    from dermaseg.cli import main

    with pytest.raises(SystemExit):
        main(["no-such-command"])
    err = capsys.readouterr().err
    assert "choose from 'data'" in err and "'predict'" in err and "'experiment'" not in err
    assert "did you mean" not in err
