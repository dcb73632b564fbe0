"""Metadata from inputs to outputs: resolution, EXIF, transparency, and the notes
(``warnings``) on whatever a format cannot keep."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from imagefiles import png_bytes, png_chunk, random_samples, stored, tiff_bytes, write
from PIL import Image, ImageCms
from PIL.ExifTags import IFD, Base

from restore.api.errors import ImageWriteError
from restore.io.images import (
    Encoded,
    LoadedImage,
    prepare_image,
    prepare_output,
    read_image,
    write_image,
    write_output,
)

H, W = 12, 20
SUFFIXES = (".png", ".jpg", ".tif", ".webp", ".bmp")
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo(channels: int = 3, bits: int = 8, seed: int = 0) -> np.ndarray:
    samples = random_samples(H, W, channels, bits, seed)
    return samples.astype(np.float32) / (2**bits - 1)


def source_image(**fields: Any) -> LoadedImage:
    image = LoadedImage(photo(), None, 8, None, "PNG")
    for name, value in fields.items():
        setattr(image, name, value)
    return image


def pillow_dpi(path: Path) -> tuple[float, float] | None:
    """The resolution as Pillow reads it (for TIFF: from the tags, by tifffile)."""
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return page.get_resolution(tifffile.RESUNIT.INCH) if 282 in page.tags else None
    with Image.open(path) as image:
        return image.info.get("dpi")


# ---------------------------------------------------------------- resolution


def test_dpi_is_read_from_every_format_that_has_it(tmp_path: Path) -> None:
    samples = (photo() * 255).astype(np.uint8)
    for name in ("a.jpg", "a.png", "a.bmp", "a.tif"):
        Image.fromarray(samples).save(tmp_path / name, dpi=(300, 150))
        assert read_image(tmp_path / name).dpi == (300, 150), name
    Image.fromarray(samples).save(tmp_path / "lzw.tif", dpi=(300, 150), compression="tiff_lzw")
    assert read_image(tmp_path / "lzw.tif").dpi == (300, 150)
    Image.fromarray(samples).save(tmp_path / "a.webp")
    assert read_image(tmp_path / "a.webp").dpi is None
    Image.fromarray(samples).save(tmp_path / "none.png")
    assert read_image(tmp_path / "none.png").dpi is None


def test_dpi_from_exif_tiff_units_and_16bit(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[Base.XResolution], exif[Base.YResolution], exif[Base.ResolutionUnit] = 250, 250, 2
    Image.new("RGB", (W, H)).save(tmp_path / "exif.jpg", exif=exif.tobytes())  # no JFIF dpi
    assert read_image(tmp_path / "exif.jpg").dpi == (250, 250)
    samples = random_samples(H, W, 3, 16, seed=1)
    for unit, expected in (("CENTIMETER", (254, 127)), ("INCH", (100, 50)), ("NONE", None)):
        data = tiff_bytes(samples, planar=True, resolution=(100, 50), resolutionunit=unit)
        assert read_image(write(tmp_path / f"{unit}.tif", data)).dpi == expected
    phys = png_chunk(b"pHYs", struct.pack(">IIB", 11811, 3937, 1))  # per metre: 300 x 100 dpi
    path = write(tmp_path / "p16.png", png_bytes(samples, 2, phys))
    assert read_image(path).dpi == (300, 100)


def test_dpi_follows_the_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[Base.Orientation] = 6  # turned a quarter: the stored x is the upright y
    Image.new("RGB", (W, H)).save(tmp_path / "o.jpg", dpi=(300, 100), exif=exif.tobytes())
    loaded = read_image(tmp_path / "o.jpg")
    assert loaded.pixels.shape[:2] == (W, H)
    assert loaded.dpi == (100, 300)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_dpi_is_written_to_every_format_that_holds_it(
    tmp_path: Path, suffix: str, bits: int
) -> None:
    out = write_image(tmp_path / f"a{suffix}", photo(), dpi=(300, 150), bit_depth=bits)
    if suffix == ".webp":
        assert read_image(out).dpi is None
        return
    assert pillow_dpi(out) == pytest.approx((300, 150), abs=0.02)  # PNG: whole dots per metre
    assert read_image(out).dpi == (300, 150)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_output_dpi_scales_with_the_size(tmp_path: Path, suffix: str) -> None:
    source = source_image(dpi=(300.0, 200.0), alpha=np.ones((H, W), np.float32))
    bigger = np.repeat(np.repeat(source.pixels, 2, axis=0), 3, axis=1)  # 2x tall, 3x wide
    out = write_output(tmp_path / f"a{suffix}", bigger, source)
    expected = None if suffix == ".webp" else (900, 400)
    assert read_image(out).dpi == expected
    same = write_output(tmp_path / f"same{suffix}", source.pixels, source)
    assert read_image(same).dpi == (None if suffix == ".webp" else (300, 200))


def test_output_alpha_is_resized_with_the_picture(tmp_path: Path) -> None:
    alpha = np.zeros((H, W), np.float32)
    alpha[:, W // 2 :] = 1
    source = source_image(alpha=alpha)
    bigger = np.repeat(np.repeat(source.pixels, 2, axis=0), 2, axis=1)
    loaded = read_image(write_output(tmp_path / "a.png", bigger, source))
    assert loaded.alpha is not None and loaded.alpha.shape == (2 * H, 2 * W)
    assert loaded.alpha[:, : W - 1].max() == 0 and loaded.alpha[:, W + 1 :].min() == 1


def test_exif_resolution_is_updated_with_the_size(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[Base.Make], exif[Base.XResolution], exif[Base.YResolution] = "Kodak", 300, 300
    Image.new("RGB", (W, H)).save(tmp_path / "in.jpg", dpi=(300, 300), exif=exif.tobytes())
    source = read_image(tmp_path / "in.jpg")
    bigger = np.repeat(np.repeat(source.pixels, 2, axis=0), 2, axis=1)
    out = write_output(tmp_path / "out.jpg", bigger, source)
    with Image.open(out) as image:
        tags = image.getexif()
        assert image.info["dpi"] == (600, 600)
    assert (tags[Base.Make], tags[Base.XResolution], tags[Base.YResolution]) == ("Kodak", 600, 600)


def test_dpi_out_of_a_formats_range_is_left_out(tmp_path: Path) -> None:
    encoded = prepare_image(tmp_path / "a.jpg", photo(), dpi=(100_000, 100_000))
    assert encoded.warnings == ["resolution not stored: JPEG holds 1 to 65,535 dpi"]
    assert prepare_image(tmp_path / "a.png", photo(), dpi=(100_000, 100_000)).warnings == []
    for bad in ((0, 300), (float("nan"), 300), (300,), "300"):
        with pytest.raises(ImageWriteError, match="dpi"):
            prepare_image(tmp_path / "a.png", photo(), dpi=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- EXIF


def camera_exif(maker_note: int = 0, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make], exif[Base.Model], exif[Base.Artist] = "Kodak", "Brownie", "Ann"
    exif[Base.Copyright], exif[Base.Software] = "(c) Ann", "Darkroom 2"
    exif[Base.ImageDescription], exif[Base.Orientation] = "Beach, 1962", orientation
    camera = {Base.DateTimeOriginal: "1962:07:01 10:00:00", Base.ExposureTime: 0.01}
    if maker_note:
        camera[Base.MakerNote] = b"M" * maker_note
    exif[IFD.Exif] = camera
    exif[IFD.GPSInfo] = {1: "N", 2: (51.0, 30.0, 0.0)}
    return exif


def test_tiff_exif_keeps_descriptive_tags_not_structure(tmp_path: Path) -> None:
    samples = (photo() * 255).astype(np.uint8)
    Image.fromarray(samples).save(tmp_path / "in.tif", exif=camera_exif(orientation=6).tobytes())
    loaded = read_image(tmp_path / "in.tif")
    assert loaded.pixels.shape[:2] == (W, H)  # orientation applied
    assert loaded.exif is not None
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert set(exif) == {270, 271, 272, 274, 305, 315, 33432, IFD.Exif, IFD.GPSInfo}
    assert exif[Base.Orientation] == 1
    assert exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] == "1962:07:01 10:00:00"
    assert exif.get_ifd(IFD.GPSInfo)[1] == "N"
    for suffix in (".jpg", ".png", ".webp"):
        out = write_output(tmp_path / f"out{suffix}", loaded.pixels, loaded)
        with Image.open(out) as image:
            written = image.getexif()
        assert written[Base.Artist] == "Ann" and written[Base.Orientation] == 1, suffix
        assert written.get_ifd(IFD.Exif)[Base.ExposureTime] == 0.01, suffix


def test_16bit_tiff_tags_become_exif(tmp_path: Path) -> None:
    tags = [(271, "s", 0, "Nikon", True), (315, "s", 0, "Bo", True), (274, "H", 1, 8, True)]
    data = tiff_bytes(random_samples(H, W, 3, 16, 2), planar=True, extratags=tags)
    loaded = read_image(write(tmp_path / "in.tif", data))
    assert loaded.exif is not None
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert dict(exif) == {271: "Nikon", 315: "Bo", 274: 1, 305: "tifffile.py"}


def test_tiff_writers_own_description_is_not_carried(tmp_path: Path) -> None:
    samples = random_samples(H, W, 3, 8, 4)
    tifffile.imwrite(tmp_path / "shaped.tif", samples, extratags=[(271, "s", 0, "Zeiss", True)])
    with tifffile.TiffFile(tmp_path / "shaped.tif") as tif:
        assert tif.pages.first.description.startswith('{"shape"')
    loaded = read_image(tmp_path / "shaped.tif")
    assert loaded.exif is not None
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[Base.Make] == "Zeiss" and Base.ImageDescription not in exif


def test_tiff_output_writes_descriptive_tags(tmp_path: Path) -> None:
    exif = camera_exif()
    encoded = prepare_image(tmp_path / "a.tif", photo(), exif=exif.tobytes())
    assert encoded.warnings == ["EXIF and GPS tags dropped: TIFF output keeps only IFD0 tags"]
    out = write_image(tmp_path / "a.tif", photo(), exif=exif.tobytes())
    with tifffile.TiffFile(out) as tif:
        values = {tag.code: tag.value for tag in tif.pages.first.tags}
    expected = {270: "Beach, 1962", 271: "Kodak", 272: "Brownie", 305: "Darkroom 2"}
    expected |= {306: "1962:07:01 10:00:00", 315: "Ann", 33432: "(c) Ann"}  # DateTimeOriginal
    assert {code: values[code] for code in expected} == expected
    assert 274 not in values and 34665 not in values
    plain = Image.Exif()
    plain[Base.Make], plain[Base.DateTime] = "Leica", "2001:01:01 00:00:00"
    encoded = prepare_image(tmp_path / "b.tif", photo(), exif=plain.tobytes())
    assert encoded.warnings == []


def test_jpeg_exif_is_shrunk_to_fit_or_dropped_with_a_note(tmp_path: Path) -> None:
    big = camera_exif(maker_note=70_000).tobytes()
    encoded = prepare_image(tmp_path / "a.jpg", photo(), exif=big)
    assert encoded.warnings == ["EXIF maker note dropped: a JPEG holds at most 64 KiB of EXIF"]
    with Image.open(write_image(tmp_path / "a.jpg", photo(), exif=big)) as image:
        written = image.getexif()
        assert written[Base.Make] == "Kodak"
        assert Base.MakerNote not in written.get_ifd(IFD.Exif)
        assert written.get_ifd(IFD.Exif)[Base.ExposureTime] == 0.01
    huge = Image.Exif()
    huge[Base.ImageDescription] = "x" * 70_000
    encoded = prepare_image(tmp_path / "b.jpg", photo(), exif=huge.tobytes())
    assert encoded.warnings == ["EXIF dropped: 68 KiB is over the 64 KiB a JPEG holds"]
    with Image.open(write_image(tmp_path / "b.jpg", photo(), exif=huge.tobytes())) as image:
        assert "exif" not in image.info
    for suffix in (".png", ".webp"):  # no size limit there
        assert prepare_image(tmp_path / f"c{suffix}", photo(), exif=big).warnings == []


def with_thumbnail(exif: bytes, size: int) -> bytes:
    """``exif`` with an IFD1 holding a ``size``-byte thumbnail."""
    body = bytearray(exif.removeprefix(b"Exif\x00\x00"))
    order = "<" if body[:2] == b"II" else ">"
    (first,) = struct.unpack_from(order + "I", body, 4)
    (count,) = struct.unpack_from(order + "H", body, first)
    ifd1 = len(body)
    struct.pack_into(order + "I", body, first + 2 + 12 * count, ifd1)  # IFD0's next-IFD link
    thumbnail = ifd1 + 2 + 2 * 12 + 4
    body += struct.pack(order + "H", 2)
    body += struct.pack(order + "HHII", 0x0201, 4, 1, thumbnail)  # JPEGInterchangeFormat
    body += struct.pack(order + "HHII", 0x0202, 4, 1, size)  # JPEGInterchangeFormatLength
    body += struct.pack(order + "I", 0) + b"\xff\xd8" + b"T" * (size - 2)
    return b"Exif\x00\x00" + bytes(body)


def test_jpeg_exif_thumbnail_is_dropped_to_fit(tmp_path: Path) -> None:
    exif = with_thumbnail(camera_exif().tobytes(), 70_000)
    parsed = Image.Exif()
    parsed.load(exif)
    assert len(exif) > 70_000 and parsed.get_ifd(IFD.IFD1)  # a valid thumbnail IFD
    encoded = prepare_image(tmp_path / "a.jpg", photo(), exif=exif)
    assert encoded.warnings == []
    with Image.open(write_image(tmp_path / "a.jpg", photo(), exif=exif)) as image:
        assert image.getexif()[Base.Model] == "Brownie"
        assert len(image.info["exif"]) < 1000


def test_exif_notes_for_bmp_and_damaged_blocks(tmp_path: Path) -> None:
    exif = camera_exif().tobytes()
    assert prepare_image(tmp_path / "a.bmp", photo(), exif=exif).warnings == [
        "EXIF dropped: BMP holds none"
    ]
    damaged = prepare_image(tmp_path / "a.jpg", photo(), exif=b"Exif\x00\x00II*\x00\xff\xff")
    assert len(damaged.warnings) == 1 and damaged.warnings[0].startswith("EXIF dropped")
    with Image.open(write_image(tmp_path / "a.jpg", photo(), exif=b"Exif\x00\x00junk")) as image:
        assert "exif" not in image.info


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_damaged_exif_on_read_costs_only_the_exif(tmp_path: Path) -> None:
    good = (photo() * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(good).save(out, "PNG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff")
    loaded = read_image(write(tmp_path / "a.png", out.getvalue()))
    np.testing.assert_array_equal(stored(loaded), good)
    assert loaded.exif is None


# ---------------------------------------------------------------- notes on what is lost


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_dropped_with_a_note(tmp_path: Path, suffix: str) -> None:
    alpha = np.ones((H, W), np.float32)
    encoded = prepare_image(tmp_path / f"a{suffix}", photo(), alpha=alpha)
    fmt = {".jpg": "JPEG", ".bmp": "BMP"}[suffix]
    assert encoded.warnings == [f"alpha dropped: {fmt} has no transparency"]


def test_notes_on_bit_depth_and_icc(tmp_path: Path) -> None:
    assert prepare_image(tmp_path / "a.jpg", photo(), bit_depth=16).warnings == [
        "16-bit samples stored as 8-bit: JPEG holds 8 bits per sample"
    ]
    assert prepare_image(tmp_path / "a.bmp", photo(), icc_profile=SRGB).warnings == [
        "ICC profile dropped: BMP output holds none"
    ]
    assert prepare_image(tmp_path / "g.png", photo(1), icc_profile=SRGB).warnings == [
        "ICC profile dropped: a RGB profile does not fit gray pixels"
    ]
    for suffix in (".png", ".tif", ".jpg", ".webp"):
        assert prepare_image(tmp_path / f"c{suffix}", photo(), icc_profile=SRGB).warnings == []
        alpha = np.ones((H, W), np.float32)
        plain = prepare_image(tmp_path / f"p{suffix}", photo(1), alpha=alpha, bit_depth=16)
        assert all("alpha" not in note for note in plain.warnings) or suffix == ".jpg"


def test_cmyk_profile_dropped_on_read_with_a_note(tmp_path: Path) -> None:
    cmyk = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cmyk = cmyk[:16] + b"CMYK" + cmyk[20:]  # a profile claiming CMYK data
    Image.new("CMYK", (W, H), (10, 20, 30, 40)).save(tmp_path / "c.jpg", icc_profile=cmyk)
    loaded = read_image(tmp_path / "c.jpg")
    assert loaded.icc_profile is None
    assert loaded.warnings == ["ICC profile dropped: a CMYK profile does not fit RGB pixels"]


# ---------------------------------------------------------------- 16-bit transparency kept


def test_16bit_transparent_colour_survives_a_round_trip(tmp_path: Path) -> None:
    gray = random_samples(H, W, 1, 16, seed=3)
    gray[::2] = 4321
    path = write(tmp_path / "t.png", png_bytes(gray, 0, png_chunk(b"tRNS", b"\x10\xe1")))
    loaded = read_image(path)
    assert loaded.alpha is not None and loaded.bit_depth == 16
    again = read_image(write_output(tmp_path / "o.png", loaded.pixels, loaded))
    assert again.alpha is not None and again.bit_depth == 16
    np.testing.assert_array_equal(again.alpha, np.where(gray[..., 0] == 4321, 0.0, 1.0))
    np.testing.assert_array_equal(again.pixels[..., :1], loaded.pixels)


# ---------------------------------------------------------------- the write API


def test_prepare_validates_everything_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.png"
    bad = photo()
    bad[0, 0, 0] = np.nan
    cases = [
        ({"pixels": bad}, "pixels contain NaN or infinite values"),
        ({"alpha": np.full((H, W), np.inf, np.float32)}, "alpha contains NaN or infinite"),
        ({"pixels": np.zeros((H, W, 3), np.uint8)}, "pixels must be floats"),
        ({"quality": 101}, "quality"),
        ({"bit_depth": 12}, "bit depth"),
        ({"pixels": np.zeros((H, W, 2), np.float32)}, "shape"),
    ]
    for change, message in cases:
        arguments: dict = {"pixels": photo()} | change
        with pytest.raises(ImageWriteError, match=message) as caught:
            prepare_image(target, **arguments)
        assert str(target) in str(caught.value)
        with pytest.raises(ImageWriteError, match=message):
            write_image(target, **arguments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_encoded_writes_the_same_file_as_write_image(tmp_path: Path, suffix: str) -> None:
    source = source_image(dpi=(300.0, 300.0), icc_profile=SRGB, exif=camera_exif().tobytes())
    encoded = prepare_output(tmp_path / f"a{suffix}", source.pixels, source)
    assert isinstance(encoded, Encoded)
    assert encoded.path == tmp_path / f"a{suffix}"
    assert list(tmp_path.iterdir()) == []  # nothing written yet
    buffer = io.BytesIO()
    encoded.encode(buffer)
    written = write_output(tmp_path / f"a{suffix}", source.pixels, source)
    assert written.read_bytes() == buffer.getvalue()


def test_mask_output_is_plain_gray(tmp_path: Path) -> None:
    source = source_image(dpi=(300.0, 300.0), icc_profile=SRGB, exif=camera_exif().tobytes())
    source.bit_depth, source.alpha = 16, np.ones((H, W), np.float32)
    mask = (photo(1) > 0.5).astype(np.float32)
    encoded = prepare_output(tmp_path / "m.png", mask, source, mask=True)
    assert encoded.warnings == []
    loaded = read_image(write_output(tmp_path / "m.png", mask, source, mask=True))
    assert (loaded.bit_depth, loaded.alpha, loaded.icc_profile) == (8, None, None)
    assert (loaded.exif, loaded.dpi) == (None, None)
    np.testing.assert_array_equal(loaded.pixels, mask)


def test_webp_gets_its_resolution_in_exif_and_pixel_sizes_follow_the_rotation(
    tmp_path: Path,
) -> None:
    from restore.io.images import write_output

    picture = Image.fromarray(np.zeros((40, 24, 3), np.uint8))
    tags = Image.Exif()
    tags[0x0112] = 6  # rotate 90 degrees clockwise to view
    tags.get_ifd(0x8769)[0xA002], tags.get_ifd(0x8769)[0xA003] = 24, 40
    picture.save(tmp_path / "in.jpg", exif=tags.tobytes(), dpi=(300, 300))
    source = read_image(tmp_path / "in.jpg")
    for suffix in ("webp", "png", "jpg"):
        with Image.open(write_output(tmp_path / f"out.{suffix}", source.pixels, source)) as out:
            exif = out.getexif()
            assert out.size == (40, 24) and exif.get(0x0112, 1) == 1
            assert (exif.get_ifd(0x8769)[0xA002], exif.get_ifd(0x8769)[0xA003]) == (40, 24)
            if suffix == "webp":
                assert (float(exif[0x011A]), float(exif[0x011B])) == (300.0, 300.0)


def test_metadata_outputs_cannot_carry_is_named(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Title", "Grandma, 1931")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png", pnginfo=text)
    assert read_image(tmp_path / "a.png").warnings == [
        "not carried to outputs: text chunks (Title)"
    ]
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "b.jpg", xmp=b"<x/>")
    assert read_image(tmp_path / "b.jpg").warnings == ["not carried to outputs: XMP metadata"]
