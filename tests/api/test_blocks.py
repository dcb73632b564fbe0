"""restore.api.blocks: the shared residual block's maths and its state-dict keys."""

from __future__ import annotations

import torch

from restore.api.blocks import ResidualBlock


def test_state_dict_keys_are_those_of_saved_weights() -> None:
    assert list(ResidualBlock(4).state_dict()) == [
        "first.weight",
        "first.bias",
        "second.weight",
        "second.bias",
    ]


def test_adds_a_correction_of_the_same_shape() -> None:
    block = ResidualBlock(2)
    for conv in (block.first, block.second):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.rand(1, 2, 5, 7)
    assert torch.equal(block(x), x)
    torch.nn.init.constant_(block.second.bias, 0.5)
    assert torch.allclose(block(x), x + 0.5)
