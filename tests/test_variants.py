"""The variant registry: the one place variants differ, in step with the schema."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from symdistill.core.schema import enum
from symdistill.distill.messages import select_components
from symdistill.gnn.data import fully_connected_edges
from symdistill.gnn.models import GraphNetwork
from symdistill.gnn.train import TrainSettings
from symdistill.gnn.variants import VARIANTS, get_variant

SRC = Path(__file__).resolve().parents[1] / "src" / "symdistill"


def test_registry_and_schema_name_the_same_variants():
    assert list(VARIANTS) == enum("variant")
    assert [v.name for v in VARIANTS.values() if v.section is None] == enum("mlp_variant")


def test_no_module_outside_the_registry_tests_a_variant_name():
    names = "|".join(VARIANTS)
    pattern = re.compile(rf"""variant\s*(==|!=|in|not in)\s*[(\[{{]?\s*["']({names})["']""")
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if p.name != "variants.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_builds_and_sends_messages_of_its_width(name):
    s = TrainSettings(variant=name, seed=0, hidden=8, layers=1, msg_dim=6)
    model = GraphNetwork(s.model_settings(2))
    x = torch.rand(3 * 4, 6) + 0.5  # positive masses (last column) for log inputs
    model.train()
    pred, raw = model(x, fully_connected_edges(4, 3), torch.Generator().manual_seed(0))
    width = get_variant(name).width(6, 2)
    assert pred.shape == (12, 2) and model.messages(raw).shape == (36, width)
    assert raw.shape[1] == get_variant(name).raw_factor * width
    assert model.regulariser(raw).shape == (36,)


def test_bottleneck_width_is_the_dimension_whatever_msg_dim_says():
    assert TrainSettings(variant="bottleneck", seed=0, msg_dim=100).model_settings(3).msg_dim == 3
    assert TrainSettings(variant="standard", seed=0, msg_dim=100).model_settings(3).msg_dim == 100


def test_selection_follows_the_variant():
    rng = np.random.default_rng(0)
    msgs = rng.standard_normal((500, 5)) * np.array([0.1, 3.0, 0.2, 2.0, 0.3])
    assert select_components(msgs, "l1", 2)["components"] == [1, 3]
    assert select_components(msgs, "bottleneck", 2)["criterion"] == "bottleneck (all)"
    with pytest.raises(ValueError, match="log-variances"):
        select_components(msgs, "kl", 2)
