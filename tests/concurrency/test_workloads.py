"""Sample images are deterministic; both workloads compute what they claim."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from nogilbench.concurrency.workloads import WORKLOADS, run_workload
from nogilbench.errors import InvalidParameter
from nogilbench.imaging.kernels import convolve3x3
from nogilbench.imaging.samples import generate_images, parse_size
from tests.support.images import tiny_images


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first = generate_images(tmp_path / "a", 3, (120, 80), seed=7)
    second = generate_images(tmp_path / "b", 3, (120, 80), seed=7)
    digest = [hashlib.sha1(p.read_bytes()).hexdigest() for p in first]
    assert digest == [hashlib.sha1(p.read_bytes()).hexdigest() for p in second]
    assert len(set(digest)) == 3  # different seeds, different images
    with Image.open(first[0]) as image:
        assert (image.format, image.size) == ("JPEG", (120, 80))


def test_generator_reuses_existing_files(tmp_path: Path) -> None:
    [path] = generate_images(tmp_path, 1, (64, 48))
    stamp = path.stat().st_mtime_ns
    generate_images(tmp_path, 1, (64, 48))
    assert path.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("text", ["12", "axb", "10x10", "9000x100", "100x-3"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_size(text)


def test_convolution_identity_and_sharpen() -> None:
    pixels = bytes(range(9 * 7 * 3))[: 9 * 7]
    identity = (0, 0, 0, 0, 1, 0, 0, 0, 0)
    assert convolve3x3(pixels, 9, 7, identity) == bytearray(pixels)
    flat = bytes([100]) * 25
    assert convolve3x3(flat, 5, 5) == bytearray(flat)  # sharpening a flat image changes nothing
    spike = bytearray(flat)
    spike[12] = 200
    out = convolve3x3(spike, 5, 5)
    assert out[12] == 255 and out[7] == 0  # centre clamped high, neighbours clamped low


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_workloads_are_deterministic(workload: str, tmp_path: Path) -> None:
    paths = tiny_images(tmp_path, 2)
    digests = [run_workload(workload, path) for path in paths]
    assert digests == [run_workload(workload, path) for path in paths]
    assert digests[0] != digests[1]
