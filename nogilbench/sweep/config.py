"""What a sweep measures (`SweepConfig`), its bounds and its validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nogilbench.concurrency.base import MAX_WORKERS
from nogilbench.concurrency.runners import ALL_METHODS, METHODS
from nogilbench.concurrency.workloads import WORKLOADS, resolve_workload
from nogilbench.errors import InvalidParameter
from nogilbench.imaging.samples import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE

MAX_IMAGES = 10_000


MAX_REPEATS = 100


DEFAULT_MAX_ROUNDS = 6


PAST_CORES = ("same-binary", "all")


SCALINGS = ("strong", "weak")


# Parameters added after sweeps were first stored, with the value an older sweep implicitly
# had: a stored sweep without them still matches a config that leaves them at these values.
ADDED_PARAMETERS: dict[str, Any] = {
    "pin": False, "past_cores": "same-binary", "scaling": "strong", "images_per_worker": 10,
}  # fmt: skip


@dataclass
class SweepConfig:
    """What to measure. The defaults are the full matrix for both workloads."""

    name: str = "default"
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    images: list[int] = field(default_factory=lambda: [10, 50, 100])
    workers: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    repeats: int = 3  # the minimum number of rounds of every cell
    image_size: tuple[int, int] = DEFAULT_SIZE
    baseline: bool = True  # also measure on a default (GIL) build of the same version
    start_method: str | None = None
    seed: int = 0  # sample images and the rounds' shuffled orders
    max_rounds: int | None = None  # cap on rounds per group while intervals stay wide
    # (None: max(repeats, 6))
    target: float = 0.05  # more rounds while a cell's interval is wider than +-5% of its median
    budget_s: float | None = 720.0  # extra rounds start only while the sweep is within this
    pin: bool = False  # each cell on distinct physical cores of one NUMA node (scaling.py)
    # Which rows are also measured with more workers than usable cores (oversubscribed):
    # "same-binary" = only the free-threaded build's sync/threading/multiprocessing/free-threaded
    # rows (the 48-cell matrix); "all" = every row. The time budget of the default sweep.
    past_cores: str = "same-binary"
    # strong: the image counts are fixed (`images`), speedup vs sync at the same count;
    # weak: every worker count w gets w x `images_per_worker` images (`images` is ignored),
    # so the ideal wall time is flat.
    scaling: str = "strong"
    images_per_worker: int = 10

    def __post_init__(self) -> None:
        if self.max_rounds is None:
            self.max_rounds = max(self.repeats, DEFAULT_MAX_ROUNDS)

    def validate(self) -> SweepConfig:
        """Raise InvalidParameter on anything out of range; return self."""
        if not self.name or len(self.name) > 200:
            raise InvalidParameter("sweep name must have 1 to 200 characters")
        _check_workloads(self.workloads)
        _check_choices("method", self.methods, ALL_METHODS)
        _check_range("images", self.images, 1, MAX_IMAGES)
        _check_range("workers", self.workers, 1, MAX_WORKERS)
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise InvalidParameter(
                f"repeats must be between 1 and {MAX_REPEATS} (minimum rounds), got {self.repeats}"
            )
        if self.max_rounds is None or not self.repeats <= self.max_rounds <= MAX_REPEATS:
            raise InvalidParameter(
                f"max rounds must be between repeats ({self.repeats}) and {MAX_REPEATS}, "
                f"got {self.max_rounds}"
            )
        if not 0 < self.target < 1:
            raise InvalidParameter(f"target must be a fraction between 0 and 1, got {self.target}")
        if self.budget_s is not None and self.budget_s < 0:
            raise InvalidParameter(f"budget must be >= 0 seconds, got {self.budget_s}")
        width, height = self.image_size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise InvalidParameter(
                f"image size sides must be between {MIN_SIDE} and {MAX_SIDE}, got {width}x{height}"
            )
        if self.scaling not in SCALINGS:
            raise InvalidParameter(
                f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}"
            )
        if self.scaling == "weak":
            _check_range("images per worker", [self.images_per_worker], 1, MAX_IMAGES)
            most = max(self.workers, default=1) * self.images_per_worker
            if most > MAX_IMAGES:
                raise InvalidParameter(
                    f"weak scaling needs {most} images at {max(self.workers)} workers; "
                    f"at most {MAX_IMAGES}: lower --images-per-worker"
                )
        if self.past_cores not in PAST_CORES:
            raise InvalidParameter(
                f"past-cores must be one of {', '.join(PAST_CORES)}, got {self.past_cores!r}"
            )
        if self.start_method not in (None, "fork", "forkserver", "spawn"):
            raise InvalidParameter(f"unknown start method {self.start_method!r}")
        return self

    def image_counts(self) -> list[int]:
        """The groups' image counts: `images`, or w x images_per_worker in weak scaling."""
        if self.scaling == "weak":
            return [workers * self.images_per_worker for workers in sorted(set(self.workers))]
        return sorted(set(self.images))

    def parameters(self) -> dict[str, Any]:
        """JSON-ready form stored with the sweep (a resumed sweep must match it)."""
        values = asdict(self)
        values.pop("name")
        values["image_size"] = list(self.image_size)
        return values


def _check_choices(what: str, values: list[str], allowed: Any) -> None:
    if not values:
        raise InvalidParameter(f"at least one {what} is needed")
    for value in values:
        if value not in allowed:
            raise InvalidParameter(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")


def _check_workloads(names: list[str]) -> None:
    """Built-in, module:function or entry point: resolvable here (InvalidParameter if not)."""
    if not names:
        raise InvalidParameter("at least one workload is needed")
    for name in names:
        resolve_workload(name)


def _check_range(what: str, values: list[int], low: int, high: int) -> None:
    if not values:
        raise InvalidParameter(f"at least one value for {what} is needed")
    for value in values:
        if not low <= value <= high:
            raise InvalidParameter(f"{what} must be between {low} and {high}, got {value}")
