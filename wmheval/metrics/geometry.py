"""Image geometry (origin, spacing, direction) and the voxel-index to millimetre mapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wmheval.errors import InputError


@dataclass(frozen=True)
class Geometry:
    """Where a voxel grid sits in physical space, in ITK's conventions.

    The metrics use the reference image's geometry to turn voxel indices into
    millimetres (H95) and voxel counts into millilitres.

    Parameters
    ----------
    spacing : tuple of 3 float, optional
        Voxel size in mm, (x, y, z) order; positive and finite. Default 1 mm isotropic.
    origin : tuple of 3 float, optional
        Physical position of voxel (0, 0, 0) in mm, (x, y, z) order.
    direction : tuple of 9 float, optional
        The 3x3 direction cosine matrix flattened row by row, as SimpleITK's
        ``GetDirection()`` returns it. Default identity.

    Raises
    ------
    wmheval.errors.InputError
        For the wrong number of values or a spacing that is not positive and finite.

    Examples
    --------
    >>> import numpy as np

from wmheval.errors import InputError
    >>> geometry = Geometry(spacing=(0.5, 0.5, 3.0), origin=(10.0, 0.0, 0.0))
    >>> geometry.index_to_physical(np.array([[2, 0, 1]])).tolist()
    [[11.0, 0.0, 3.0]]
    >>> geometry.differences(Geometry(spacing=(0.5, 0.5, 3.0)))
    ['origin (0, 0, 0) != (10, 0, 0)']
    """

    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise InputError("Geometry needs 3 spacings, 3 origin values and 9 direction "
                             "values")
        if any(not np.isfinite(s) or s <= 0 for s in self.spacing):
            raise InputError(f"spacing must be positive and finite, got {self.spacing}")

    @classmethod
    def from_image(cls, image) -> Geometry:
        """Geometry of a SimpleITK image (only its first three dimensions)."""
        return cls(
            spacing=tuple(float(s) for s in image.GetSpacing()[:3]),
            origin=tuple(float(o) for o in image.GetOrigin()[:3]),
            direction=tuple(float(d) for d in image.GetDirection()[:9]),
        )

    @property
    def direction_matrix(self) -> np.ndarray:
        """The direction cosines as a 3x3 matrix."""
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    def index_to_physical(self, index_xyz: np.ndarray) -> np.ndarray:
        """Map (N, 3) voxel indices in x, y, z order to physical points in mm.

        Same formula as ITK's ``TransformIndexToPhysicalPoint``:
        ``origin + (direction @ diag(spacing)) @ index``.
        """
        index_to_point = self.direction_matrix * np.asarray(self.spacing, dtype=np.float64)
        return np.asarray(self.origin, dtype=np.float64) + np.asarray(
            index_xyz, dtype=np.float64
        ) @ index_to_point.T

    def differences(self, other: Geometry, *, tolerance: float = 1e-4) -> list[str]:
        """Human-readable differences from ``other`` beyond ``tolerance`` (mm or cosine)."""
        found = []
        for name in ("spacing", "origin", "direction"):
            mine = np.asarray(getattr(self, name))
            theirs = np.asarray(getattr(other, name))
            if not np.allclose(mine, theirs, rtol=0.0, atol=tolerance):
                shown = [", ".join(f"{v:.4g}" for v in values) for values in (theirs, mine)]
                found.append(f"{name} ({shown[0]}) != ({shown[1]})")
        return found
