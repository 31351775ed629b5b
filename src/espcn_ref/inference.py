"""Inference on large frames and videos (Sec. 3.4-3.5 of the paper).

Tiled inference. ESPCN sees a finite neighbourhood: with 'same' padding, an
LR pixel's output depends on LR pixels at most ``halo = sum_l (f_l - 1) / 2``
away (2 + 1 + 1 = 4 for the paper's network). So a frame can be cut into
tiles, each grown by the halo, run through the network, and the halo's
output discarded::

    tile [y0, y1) x [x0, x1)  ->  input [y0 - halo, y1 + halo) (clipped to the frame)
    output rows r*y0 .. r*y1 are right: every value they depend on is in the input,
    and at the frame's border the clipping reproduces the zero padding.

The result equals untiled inference bit for bit whenever the BLAS computes a
row of a matrix product the same wherever the row sits in the call
(:func:`.ops.blas.rows_independent_of_position`): every output pixel then goes
through the same sums in the same order. OpenBLAS's native kernels here
(SkylakeX) do; its Haswell kernel, forced by OPENBLAS_CORETYPE=Haswell, does
not, and tiles then differ from the whole frame by float32 rounding only
(at most 5e-7 on outputs in [0, 1]). Both cases are tested.

Peak memory then scales with the tile, not the frame (a 4K frame needs
64 hidden channels only per tile).

Video. Frames are read and written with imageio's ffmpeg plugin (the
imageio-ffmpeg wheel ships its own ffmpeg). Each frame is super-resolved like
an image: Y through the network, Cb and Cr bicubic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._checks import check_int
from .evaluate import upscale_image
from .model import ESPCN

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm")
# WebM holds only VP8/VP9/AV1 video; every other container here takes H.264.
VIDEO_CODECS = {".webm": "libvpx-vp9"}


def receptive_halo(model: ESPCN) -> int:
    """LR pixels of context each output needs: sum of (f - 1) / 2 over the layers."""
    return sum((shape[2] - 1) // 2 for shape in model.config.layer_shapes())


def forward_tiled(model: ESPCN, x, tile: int = 256) -> np.ndarray:
    """``model.forward(x)`` computed tile by tile: equal to it (bit for bit with a
    position-independent BLAS, see the module doc).

    x: (N, C, H, W) LR images. tile: LR tile side (>= 1). Returns (N, C, rH, rW).
    """
    x = model.check_input(x)  # what forward checks: channels, non-empty, the model's dtype
    tile = check_int(tile, "tile", 1)
    N, C, H, W = x.shape
    r, halo = model.scale, receptive_halo(model)
    out = np.empty((N, C, r * H, r * W), dtype=x.dtype)
    for y0 in range(0, H, tile):
        y1 = min(H, y0 + tile)
        for x0 in range(0, W, tile):
            x1 = min(W, x0 + tile)
            a0, a1 = max(0, y0 - halo), min(H, y1 + halo)  # tile plus halo, clipped
            b0, b1 = max(0, x0 - halo), min(W, x1 + halo)
            sr = model.forward(x[:, :, a0:a1, b0:b1])  # (N, C, r(a1-a0), r(b1-b0))
            out[:, :, r * y0 : r * y1, r * x0 : r * x1] = sr[
                :, :, r * (y0 - a0) : r * (y1 - a0), r * (x0 - b0) : r * (x1 - b0)
            ]
    return out


def _check_written_video(tmp: Path, dst: Path, frames: int, size: tuple) -> None:
    """Read back what ffmpeg wrote: a failed encode (it can exit quietly, e.g.
    "Could not write header") must not be renamed into place."""
    import imageio.v2 as iio

    try:
        reader = iio.get_reader(tmp, format="ffmpeg")
        try:
            got_size, got_frames = tuple(reader.get_meta_data()["size"]), reader.count_frames()
        finally:
            reader.close()
    except Exception as e:
        raise ValueError(f"ffmpeg could not write {dst} ({type(e).__name__}); {dst} is unchanged") from None
    if got_size != tuple(size) or got_frames != frames:
        raise ValueError(f"ffmpeg wrote {got_frames} frames of {got_size[0]}x{got_size[1]} instead of "
                         f"{frames} of {size[0]}x{size[1]}; {dst} is unchanged")


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def upscale_video(method, src, dst, r: int, progress: bool = True) -> dict:
    """Super-resolve every frame of ``src`` into ``dst`` (same frame rate).

    method: "bicubic" or an ESPCN of scale r. The output is H.264 (VP9 for
    .webm), yuv420p, or yuv444p when a side is odd, which 4:2:0 cannot
    encode. It is video only: an audio track is not copied (a UserWarning
    says so). It is written to a temporary file next to ``dst``, read back
    (size and frame count) and only then renamed, so a failed encode never
    replaces ``dst``.
    Returns {"frames": n, "fps": fps, "size": (width, height)}.
    """
    import imageio.v2 as iio

    r = check_int(r, "r", 1)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"video not found: {src}")
    if not is_video(dst):
        raise ValueError(f"unsupported video extension {dst.suffix!r} for {dst}; "
                         f"use one of {', '.join(VIDEO_EXTENSIONS)}")
    if dst.resolve() == src.resolve():
        raise ValueError(f"the output {dst} is the input video; choose another output file")
    try:
        reader = iio.get_reader(src, format="ffmpeg")
        meta = reader.get_meta_data()
    except Exception as e:
        raise ValueError(f"{src}: cannot read as a video ({type(e).__name__})") from None
    if meta.get("audio_codec"):
        warnings.warn(f"{src}: its audio track ({meta['audio_codec']}) is not copied to {dst}",
                      UserWarning, stacklevel=2)
    fps = float(meta.get("fps") or 25.0)
    w_in, h_in = meta["size"]
    size = (r * w_in, r * h_in)
    pix = "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = meta.get("nframes")
        bar = tqdm(total=total if isinstance(total, int) and total > 0 else None, unit="frame", disable=None)
    frames = 0
    try:
        with atomic_path(dst, suffix=dst.suffix) as tmp:
            writer = iio.get_writer(tmp, format="ffmpeg", fps=fps, codec=VIDEO_CODECS.get(dst.suffix.lower(), "libx264"),
                                    pixelformat=pix, macro_block_size=1, ffmpeg_log_level="error")
            try:
                for frame in reader:
                    writer.append_data(upscale_image(method, np.asarray(frame)[..., :3], r))
                    frames += 1
                    if bar is not None:
                        bar.update(1)
            finally:
                writer.close()
            if frames == 0:
                raise ValueError(f"{src}: the video has no frames")
            _check_written_video(tmp, dst, frames, size)
    finally:
        reader.close()
        if bar is not None:
            bar.close()
    return {"frames": frames, "fps": fps, "size": size}
