"""Recipes: a YAML file merged over a schema of typed defaults, then `key.sub=value` overrides,
every value checked on load, before any image is read.

A schema is a mapping of sections to mappings of keys; each key is a `Key` (its default, the
types it takes, and where it applies the values or range allowed). A `Key` whose type is `dict`
holds a free-form mapping (checked by a hook, e.g. the pipeline by `PipelineConfig`); it
deep-merges like a section but takes any key. Unknown keys are refused with their full path
(a typo must not silently train the default); a wrong type or value names its key too. Hooks,
run after the key checks, check what spans keys or needs other packages.

The loaded config is a plain nested dict (`config["train"]["lr"]`), the same shape a run
folder's config.yaml stores.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

# The optimisers every training module builds (dermaseg.training.build_optimizer).
OPTIMIZERS = ("adam", "adamw", "sgd")

_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a mapping", type(None): "null"}


@dataclass(frozen=True, init=False)
class Key:
    """One config key: `Key(default, *types, choices=..., low=..., high=..., fold=..., check=...)`.

    `types` among bool, int, float (ints pass too), str, list, dict and None (null allowed).
    `choices`: the values allowed (null aside), compared lower-cased and without spaces when
    `fold` is set; `low`/`high`: an inclusive range for numbers; `check`: value -> value, for
    what the rest cannot say (it may normalise the value, and raises ValueError).
    """

    default: Any
    types: tuple
    choices: tuple | None
    low: float | None
    high: float | None
    fold: bool
    check: Callable[[Any], Any] | None

    def __init__(self, default, *types, choices=None, low=None, high=None, fold=False, check=None):
        for name, value in [("default", default), ("types", tuple(type(None) if t is None else t for t in types)),
                            ("choices", tuple(choices) if choices is not None else None), ("low", low),
                            ("high", high), ("fold", fold), ("check", check)]:
            object.__setattr__(self, name, value)

    def validate(self, value, where: str):
        """The value, checked (and, for a number written as text such as 1e-3, converted)."""
        if float in self.types and isinstance(value, str):
            try:   # YAML 1.1 reads 1e-3 (no dot) as text
                value = float(value)
            except ValueError:
                pass
        if not any(_is(value, t) for t in self.types):
            wanted = " or ".join(_TYPE_NAMES[t] for t in self.types)
            raise ValueError(f"{where} must be {wanted}, got {value!r}")
        if value is None:
            return value
        if isinstance(value, float) and not math.isfinite(value):   # NaN passes every range check
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        if self.choices is not None:
            seen = str(value).lower().replace(" ", "") if self.fold else value
            if seen not in self.choices:
                null = "null or " if type(None) in self.types else ""
                raise ValueError(f"{where} must be {null}one of {', '.join(map(str, self.choices))}, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            span = (f"in {self.low}..{self.high}" if self.low is not None and self.high is not None
                    else f">= {self.low}" if self.low is not None else f"<= {self.high}")
            raise ValueError(f"{where} must be {span}, got {value!r}")
        if self.check is not None:
            try:
                value = self.check(value)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        return value


def positive(value):
    """A `Key` check: the number must be above zero."""
    if not value > 0:
        raise ValueError(f"must be above 0, got {value!r}")
    return value


def strictly_between_0_and_1(value):
    """A `Key` check for probability thresholds: 0 and 1 would give all-lesion or empty masks."""
    if not 0 < value < 1:
        raise ValueError(f"must lie strictly between 0 and 1, got {value!r}")
    return value


def _is(value, kind) -> bool:
    if kind in (int, float) and isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def defaults(schema: dict) -> dict:
    """The config every key of `schema` at its default."""
    return {k: defaults(v) if isinstance(v, dict) else copy.deepcopy(v.default) for k, v in schema.items()}


def merge(base: dict, update: dict, schema: dict | None, where: str = "") -> dict:
    """`update` deep-merged into a copy of `base`; every key must be in `schema` (None: free-form)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{where}{key}"
        if schema is not None and key not in schema:
            raise ValueError(f"unknown config key {path!r}; known: {', '.join(sorted(schema))}")
        spec = schema[key] if schema is not None else None
        if isinstance(spec, dict) and not isinstance(value, dict):
            raise ValueError(f"{path} is a section: give it a mapping of its keys, got {value!r}")
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, spec if isinstance(spec, dict) else None, f"{path}.")
        else:
            out[key] = value
    return out


def check(config: dict, schema: dict, where: str = "") -> None:
    """Every key of `config` against its `Key`, in place (values a check normalises are replaced)."""
    for key, spec in schema.items():
        if isinstance(spec, dict):
            check(config[key], spec, f"{where}{key}.")
        else:
            config[key] = spec.validate(config[key], f"{where}{key}")


def nested(key: str, value) -> dict:
    """`a.b.c`, value -> {a: {b: {c: value}}}."""
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def parse_override(text: str) -> dict:
    """`key.sub=value` as a nested mapping; the value is read as YAML (numbers, true, null, [lists])."""
    if "=" not in text:
        raise ValueError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    if isinstance(value, int) and ":" in raw:
        value = raw.strip()   # 80:20 is a ratio, not YAML 1.1's base-60 integer 4820
    return nested(key, value)


def read_yaml(path: Path | str, what: str = "config") -> dict:
    """A YAML file that must hold a mapping; errors name the file."""
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read {what} file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a {what} file must be a mapping of sections")
    return loaded


def refuse_unknown(mapping: dict, known: Iterable[str], what: str, path: Path | str) -> None:
    """Raises ValueError naming `path` and the keys of `mapping` not in `known`."""
    unknown = set(mapping) - set(known)
    if unknown:
        raise ValueError(f"{path}: unknown {what} key(s) {', '.join(sorted(map(str, unknown)))}; "
                         f"known: {', '.join(sorted(known))}")


def read_recipe(path: Path | str) -> dict:
    """A YAML recipe file as a mapping of sections, without its descriptive name/description keys."""
    loaded = read_yaml(path)
    loaded.pop("name", None)
    loaded.pop("description", None)
    return loaded


def load(schema: dict, path: Path | str | None = None, overrides: Iterable[str | dict] | None = None, *,
         hooks: Iterable[Callable[[dict], None]] = ()) -> dict:
    """The schema's defaults, then the recipe at `path`, then each override (`key.sub=value` text
    or a nested mapping), checked key by key and then by each hook."""
    config = defaults(schema)
    if path is not None:
        config = merge(config, read_recipe(path), schema)
    for item in overrides or []:
        config = merge(config, parse_override(item) if isinstance(item, str) else item, schema)
    check(config, schema)
    for hook in hooks:
        hook(config)
    return config


def complete(stored: dict, schema: dict) -> dict | None:
    """A resolved config stored by an earlier version (a run folder's config.yaml), with the keys
    added since at their defaults, so that the run still resumes; None if it holds a key the
    schema lacks."""
    try:
        return merge(defaults(schema), stored, schema)
    except ValueError:
        return None
