"""Adversarial fine-tuning: a patch critic and ESRGAN's relativistic average GAN losses.

``Adversarial`` is what a ``TrainingRecipe`` sets to fine-tune a restoration
network against a critic (Wang et al. 2018, ESRGAN: the critic judges whether a
real patch looks more realistic than the average restored one, and the
generator learns to turn that around). ``Critic`` is the discriminator: strided
convolutions with spectral normalisation (as Real-ESRGAN's critic has, which
keeps its training stable without a gradient penalty), giving a realism score
per patch region. ``AdversarialTraining`` holds the critic and its optimiser
for one run and checkpoints with it. The critic is training-only: nothing at run
time imports it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class Adversarial:
    """An adversarial term: ``weight`` times the relativistic generator loss is added to the
    recipe's loss; the critic (``width`` channels at its first layer) learns at ``lr``."""

    weight: float = 0.05
    width: int = 32
    lr: float = 1e-4


class Critic(nn.Module):
    """Five spectrally normalised strided 4 x 4 convs with leaky ReLUs, then a 3 x 3 conv:
    one realism logit per 32 x 32 cell of the input."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        widths = [channels, width, 2 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(widths):
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(widths[-1], 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> N x 1 x H/32 x W/32 logits."""
        return self.body(x)


def relativistic_losses(
    real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(critic loss, generator loss) of the relativistic average GAN from the critic's
    logits on real and restored patches: each side is judged against the other's mean."""
    real_vs_fake = real - fake.mean()
    fake_vs_real = fake - real.mean()
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    bce = F.binary_cross_entropy_with_logits
    critic = (bce(real_vs_fake, ones) + bce(fake_vs_real, zeros)) / 2
    generator = (bce(real_vs_fake, zeros) + bce(fake_vs_real, ones)) / 2
    return critic, generator


class AdversarialTraining:
    """The critic and its optimiser during one training run."""

    def __init__(self, settings: Adversarial, channels: int, device: torch.device) -> None:
        self.settings = settings
        self.critic = Critic(channels, settings.width).to(device)
        self.optimiser = torch.optim.Adam(
            self.critic.parameters(), lr=settings.lr, betas=(0.9, 0.99)
        )

    def generator_loss(self, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """The weighted adversarial term of the generator's loss (the critic is not updated)."""
        self.critic.requires_grad_(False)
        _, generator = relativistic_losses(self.critic(clean), self.critic(restored))
        self.critic.requires_grad_(True)
        return self.settings.weight * generator

    def update(self, restored: torch.Tensor, clean: torch.Tensor) -> float:
        """One optimiser step of the critic on detached restored and clean patches."""
        critic, _ = relativistic_losses(self.critic(clean), self.critic(restored.detach()))
        self.optimiser.zero_grad(set_to_none=True)
        critic.backward()
        self.optimiser.step()
        return float(critic.item())

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it."""
        return {"critic": self.critic.state_dict(), "optimiser": self.optimiser.state_dict()}

    def load(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``state()``."""
        self.critic.load_state_dict(state["critic"])
        self.optimiser.load_state_dict(state["optimiser"])
