"""``deblur.unet``: learned deblurring, blind or given the blur kernel.

Blind (no ``kernel_file``): the U-Net of ``unet`` (``unet.SPEC``) restores the
image from itself. Kernel-aware (``kernel_file`` set, typically per image in a
``<stem>.restore.yaml`` sidecar): Wiener deconvolution with the kernel, then
the kernel-aware U-Net removes its ringing and amplified noise, seeing the
blurred image too. Each mode has its own weights; ``weights`` runs a user's
own model of the mode in use, made by ``restore train deblur.unet-blind`` or
``deblur.unet-kernel``. Gray images run as gray-as-RGB and come back gray.

The halo is the network's receptive field plus the radius of the largest
kernel a file may hold: the Wiener deconvolution of a tile needs that much
context around the part the network reads (one descriptor serves both modes,
so blind runs overlap their tiles by that margin too). Blind, tiles are
exact; with a kernel they are not quite, since a Wiener filter's inverse
reaches beyond the kernel (the Wiener step of 256 px tiles of a 25 px motion
blur agrees with the whole image's to 33 dB, and is as close to the sharp
image as that).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch
from pydantic import Field
from restore.api import RestoreError, Stage, StageParams, StageUnavailable, Tiling
from restore.api.weights import WeightsPath, check_weights_file, load_network, read_manifest
from torch import nn

from restore_deblur import unet
from restore_deblur.deconvolution import wiener
from restore_deblur.kernel_file import MAX_SIDE, cached_kernel, read_kernel

WEIGHTS = resources.files("restore_deblur").joinpath("weights")
SHIPPED = {False: "unet-blind", True: "unet-kernel"}  # by ``kernel_aware``
KERNEL_MARGIN = MAX_SIDE // 2  # context the Wiener deconvolution of a tile needs
BALANCE = 0.003  # the Wiener regulariser of the kernel-aware mode (its network trained on it)


class LearnedDeblurParams(StageParams):
    """Parameters of ``deblur.unet``."""

    kernel_file: Path | None = Field(
        None,
        description="The blur kernel, a PNG or .npy 2-D array (normalised here, at most "
        f"{MAX_SIDE} px a side): Wiener deconvolution with it, then the learned artifact "
        "remover. A relative path is resolved against the working directory (not the "
        "sidecar's folder). None: blind deblurring.",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train deblur.unet-blind` (blind) or "
        "`deblur.unet-kernel` (with kernel_file), used instead of the shipped weights.",
    )


class LearnedDeblur(Stage[LearnedDeblurParams]):
    """Residual U-Net deblurrer: blind, or after Wiener deconvolution with a given kernel."""

    name = "deblur.unet"
    summary = (
        "Learned deblurring (residual U-Net): blind for Gaussian, defocus and motion blur "
        "up to about 25 px, or with kernel_file, Wiener deconvolution with that kernel and "
        "a learned artifact remover."
    )
    tiling = Tiling(
        halo=unet.SPEC.halo(unet.DeblurUNetConfig()) + KERNEL_MARGIN,
        multiple=unet.SPEC.multiple,
        precisions=unet.SPEC.precisions,
    )

    @classmethod
    def check(cls, params: LearnedDeblurParams) -> list[str]:
        """The kernel file must hold a usable kernel; a user's weights must be made for this
        stage, architecture and mode."""
        problems = []
        if params.kernel_file is not None:
            try:
                read_kernel(params.kernel_file)
            except RestoreError as error:  # one line, naming the file
                problems.append(str(error))
        if params.weights is not None:
            problem = check_weights_file(
                params.weights, stage=cls.name, architectures=(unet.ARCHITECTURE,)
            )
            if problem is None:
                made_for = bool(read_manifest(params.weights).config.get("kernel_aware", False))
                problem = _mode_problem(params.weights, made_for, params.kernel_file is not None)
            if problem:
                problems.append(problem)
        return problems

    def network(self, kernel_aware: bool, weights: Path | None) -> nn.Module:
        """The network of the mode (``weights``, or the shipped one), loaded once per process
        and device."""
        path = weights or WEIGHTS.joinpath(f"{SHIPPED[kernel_aware]}.safetensors")
        reach = self.tiling.halo - (KERNEL_MARGIN if kernel_aware else 0)
        module, config = load_network(
            unet.SPEC, path, device=self.device, stage=self.name, max_halo=reach
        )
        problem = _mode_problem(path, getattr(config, "kernel_aware", False), kernel_aware)
        if problem:
            raise StageUnavailable(problem)
        return module

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: LearnedDeblurParams
    ) -> dict[str, torch.Tensor]:
        """Each image of the batch deblurred (gray as gray-as-RGB)."""
        image = inputs["image"]
        planes = [image]
        if params.kernel_file is not None:
            planes.insert(0, wiener(image, cached_kernel(params.kernel_file), BALANCE))
        x = torch.cat([p.expand(-1, unet.COLOURS, -1, -1) for p in planes], dim=1)
        network = self.network(params.kernel_file is not None, params.weights)
        x = x.contiguous(memory_format=torch.channels_last)
        out = unet.restored(network, x).float().clamp(0, 1)
        return {"image": out.mean(dim=1, keepdim=True) if image.shape[1] == 1 else out}


def _mode_problem(path: WeightsPath, made_for: bool, wanted: bool) -> str | None:
    """Why weights made for one mode (kernel-aware or blind) cannot serve the other, or None."""
    if made_for == wanted:
        return None
    if made_for:
        return f"{path}: weights are for the kernel-aware mode (with kernel_file)"
    return f"{path}: weights are for blind deblurring (without kernel_file)"
