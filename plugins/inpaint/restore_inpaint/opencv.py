"""``inpaint.opencv``: fill masked pixels with OpenCV's Telea or Navier-Stokes inpainting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import cv2
import numpy as np
import torch
from pydantic import Field
from restore.api import Port, PortKind, Stage, StageParams, TilePolicy, Tiling, per_image

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
UINT16_MAX = 65535


class OpenCVInpaintParams(StageParams):
    """Parameters of ``inpaint.opencv``."""

    method: Literal["telea", "ns"] = Field(
        "telea", description="telea (fast marching) or ns (Navier-Stokes)."
    )
    radius: float = Field(
        5.0, ge=1, le=50, description="Neighbourhood in pixels each filled pixel draws on."
    )


class OpenCVInpaint(Stage[OpenCVInpaintParams]):
    """Classical inpainting (OpenCV), per channel at 16-bit precision."""

    name = "inpaint.opencv"
    summary = (
        "Fills pixels where mask > 0.5 with OpenCV inpainting (Telea or Navier-Stokes), "
        "per channel on 16-bit data (OpenCV's float32 Telea is unreliable), so filled "
        "pixels are quantised to 1/65535; other pixels pass through unchanged. Runs on "
        "the whole image, as filling may reach far."
    )
    inputs: ClassVar[Mapping[str, Port]] = {"image": Port(), "mask": Port(PortKind.MASK)}
    tiling = Tiling(policy=TilePolicy.WHOLE)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: OpenCVInpaintParams
    ) -> dict[str, torch.Tensor]:
        """Inpaint each image of the batch where its mask is set."""
        method = METHODS[params.method]

        def fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
            damaged = (mask[..., 0] > 0.5).astype(np.uint8)
            data = np.rint(np.clip(image, 0, 1) * UINT16_MAX).astype(np.uint16)
            channels = [
                cv2.inpaint(np.ascontiguousarray(data[..., c]), damaged, params.radius, method)
                for c in range(image.shape[2])
            ]
            filled = np.stack(channels, axis=-1).astype(np.float32) / UINT16_MAX
            return np.where(damaged[..., None] > 0, filled, image)

        return {"image": per_image(fill, inputs["image"], inputs["mask"])}
