"""The MNI ICBM152 2009a template (shipped inside nilearn's wheel) and the maps derived from it.

nilearn ships three 1 mm maps of the symmetric ICBM152 2009a template: T1, grey matter and
white matter probabilities (x 255), skull-stripped. We read the files from the installed
package (nilearn itself is never imported, no network) and derive once per process: the
brain envelope and its signed distance, CSF (envelope minus GM and WM), the lateral
ventricles (deep CSF), the distance to them and a few landmarks (horn tips, atria).

Template data: Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre,
Montreal Neurological Institute, McGill University (full notice in docs/synthetic.md).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from wmheval.errors import WmhevalError

TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
HEAD_MARGIN_MM = 18
"""Room kept around the brain for the synthetic CSF rim, skull and scalp."""
VENTRICLE_REACH_MM = 30.0
FAR_MM = 99.0


class TemplateError(WmhevalError, RuntimeError):
    """The template files cannot be found or read (a run that failed: exit 1)."""

    exit_code = 1


def template_dir() -> Path:
    """Folder of nilearn's bundled template maps (found without importing nilearn)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise TemplateError("the anatomical synthetic challenge needs the MNI ICBM152 template "
                            "shipped with nilearn: pip install nilearn (or use the geometric "
                            "phantom: --phantom geometric)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise TemplateError(f"{folder}: nilearn's template files {missing} are missing; "
                            "reinstall nilearn (>=0.10)")
    return folder


@dataclass(frozen=True)
class Template:
    """Template maps on a crop of the 1 mm grid, arrays indexed (z, y, x).

    Physical coordinates are ITK's (LPS, mm): x = ``x_origin - i``, y = ``y_origin - j``,
    z = ``z_origin + k`` for array index (k, j, i) (the template's direction is
    diag(-1, -1, 1)); MNI (RAS) coordinates are (-x, -y, z).
    """

    gm: np.ndarray              # float32 probabilities
    wm: np.ndarray
    csf: np.ndarray
    t1: np.ndarray              # float32, white matter = 1
    depth: np.ndarray           # float32 signed distance to the brain envelope, > 0 inside
    ventricles: np.ndarray      # bool, lateral ventricles
    ventricle_mm: np.ndarray    # float32 distance to the ventricles (FAR_MM beyond reach)
    origin: tuple[float, float, float]  # physical (x, y, z) of array index (0, 0, 0)
    horn_tips: np.ndarray       # (4, 3) MNI x, y, z of the frontal and occipital horn tips
    atria: np.ndarray           # (2, 3) MNI x, y, z of the ventricular atria
    brain_centre: np.ndarray    # MNI x, y, z of the brain's bounding-box centre
    head_band: np.ndarray       # flat indices of the voxels where skull and scalp may lie

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.gm.shape

    def mni_axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Open grids (z, y, x) of MNI coordinates in mm, broadcastable to ``shape``."""
        nz, ny, nx = self.shape
        ox, oy, oz = self.origin
        z = (oz + np.arange(nz, dtype=np.float32))[:, None, None]
        y = -(oy - np.arange(ny, dtype=np.float32))[None, :, None]
        x = -(ox - np.arange(nx, dtype=np.float32))[None, None, :]
        return z, y, x

    def physical_to_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(matrix, offset): array index (z, y, x) = matrix @ physical (x, y, z) + offset."""
        ox, oy, oz = self.origin
        matrix = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])
        offset = np.array([-oz, oy, ox])
        return matrix, offset


def _read(folder: Path, key: str) -> tuple[np.ndarray, sitk.Image]:
    path = folder / TEMPLATE_FILES[key]
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise TemplateError(f"{path}: cannot read the template map: {error}") from None
    return sitk.GetArrayFromImage(image), image


def _crop_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    where = np.argwhere(mask)
    lo, hi = where.min(axis=0) - margin, where.max(axis=0) + 1 + margin
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _pad_to(array: np.ndarray, box: tuple[slice, ...], fill=0) -> np.ndarray:
    """``array[box]`` where the box may reach outside the array (padded with ``fill``)."""
    out = np.full(tuple(s.stop - s.start for s in box), fill, dtype=array.dtype)
    src = tuple(slice(max(s.start, 0), min(s.stop, n)) for s, n in zip(box, array.shape,
                                                                       strict=True))
    dst = tuple(slice(a.start - s.start, a.stop - s.start) for a, s in zip(src, box,
                                                                           strict=True))
    out[dst] = array[src]
    return out


def _signed_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance (mm, > 0 inside) to the surface of ``mask``, computed on a 2 mm grid
    and interpolated linearly (8 times cheaper than at 1 mm; about 1 mm accurate)."""
    coarse = ndimage.zoom(mask.astype(np.float32), 0.5, order=1) > 0.5
    far = (ndimage.distance_transform_edt(coarse, sampling=2.0)
           - ndimage.distance_transform_edt(~coarse, sampling=2.0)).astype(np.float32)
    factors = [n / c for n, c in zip(mask.shape, coarse.shape, strict=True)]
    far = ndimage.zoom(far, factors, order=1, grid_mode=True, mode="nearest")[
        tuple(slice(0, n) for n in mask.shape)]
    return far


@functools.cache
def load_template() -> Template:
    """Read and derive the template maps (cached: about 3 s once per process)."""
    folder = template_dir()
    t1_raw, image = _read(folder, "t1")
    gm_raw, _ = _read(folder, "gm")
    wm_raw, _ = _read(folder, "wm")
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    if not np.allclose(direction, np.diag([-1.0, -1.0, 1.0])) or image.GetSpacing() != (
            1.0, 1.0, 1.0):
        raise TemplateError(f"{folder}: unexpected template geometry {image.GetDirection()}, "
                            f"{image.GetSpacing()}")
    brain = t1_raw > 0
    box = _crop_box(brain, HEAD_MARGIN_MM)
    t1 = _pad_to(t1_raw, box).astype(np.float32)
    gm = _pad_to(gm_raw, box).astype(np.float32) / 255.0
    wm = _pad_to(wm_raw, box).astype(np.float32) / 255.0
    origin_index = np.array([box[2].start, box[1].start, box[0].start], dtype=float)  # x, y, z
    full_origin = np.asarray(image.GetOrigin())
    origin = (float(full_origin[0] - origin_index[0]), float(full_origin[1] - origin_index[1]),
              float(full_origin[2] + origin_index[2]))

    smooth = ndimage.gaussian_filter((t1 > 0).astype(np.float32), 1.0)
    envelope = ndimage.binary_fill_holes(smooth > 0.5)
    depth = _signed_distance(envelope)
    total = gm + wm
    scale = np.maximum(total, 1.0)
    gm, wm = gm / scale, wm / scale
    soft = np.where(envelope, np.maximum(smooth, 0.5), np.minimum(smooth, 0.5))
    gm *= soft
    wm *= soft
    csf = np.clip(soft - gm - wm, 0.0, 1.0).astype(np.float32)
    white_level = float(np.median(t1[wm > 0.9]))
    t1 = t1 / white_level

    partial = Template(gm=gm, wm=wm, csf=csf, t1=t1, depth=depth,
                       ventricles=np.zeros(gm.shape, bool),
                       ventricle_mm=np.zeros(gm.shape, np.float32), origin=origin,
                       horn_tips=np.zeros((4, 3)), atria=np.zeros((2, 3)),
                       brain_centre=np.zeros(3), head_band=np.zeros(0, dtype=np.int64))
    z, y, x = partial.mni_axes()
    region = (np.abs(x) < 36) & (y > -50) & (y < 40) & (z > -8) & (z < 36)
    deep = (csf > 0.5) & (depth > 8.0) & region
    labelled, count = ndimage.label(deep)
    sizes = np.bincount(labelled.ravel())[1:]
    keep = np.argsort(sizes)[::-1][:2] + 1
    ventricles = np.isin(labelled, keep) & (sizes.max() > 0)
    ventricle_mm = np.full(gm.shape, FAR_MM, dtype=np.float32)
    near = _crop_box(ventricles, int(VENTRICLE_REACH_MM))
    near = tuple(slice(max(s.start, 0), min(s.stop, n)) for s, n in zip(near, gm.shape,
                                                                        strict=True))
    ventricle_mm[near] = np.minimum(ndimage.distance_transform_edt(~ventricles[near]), FAR_MM)

    coords = np.argwhere(ventricles)
    mni = np.column_stack([-(origin[0] - coords[:, 2]), -(origin[1] - coords[:, 1]),
                           origin[2] + coords[:, 0]]).astype(float)
    tips, atria = [], []
    for side in (-1.0, 1.0):
        half = mni[mni[:, 0] * side > 0]
        tips.append(half[half[:, 1] >= np.quantile(half[:, 1], 0.99)].mean(axis=0))
        tips.append(half[half[:, 1] <= np.quantile(half[:, 1], 0.01)].mean(axis=0))
        trigone = half[(half[:, 1] > -42) & (half[:, 1] < -26)]
        atria.append(trigone.mean(axis=0) if len(trigone) else half.mean(axis=0))
    where = np.argwhere(envelope)
    lo, hi = where.min(axis=0), where.max(axis=0)
    centre_index = (lo + hi) / 2.0
    centre = np.array([-(origin[0] - centre_index[2]), -(origin[1] - centre_index[1]),
                       origin[2] + centre_index[0]])
    return Template(gm=gm, wm=wm, csf=csf, t1=t1.astype(np.float32), depth=depth,
                    ventricles=ventricles, ventricle_mm=ventricle_mm, origin=origin,
                    horn_tips=np.array(tips), atria=np.array(atria), brain_centre=centre,
                    head_band=np.flatnonzero(((depth < 1.0) & (depth > -HEAD_MARGIN_MM)
                                              & (z > -95)).ravel()))
