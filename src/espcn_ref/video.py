"""Super-resolving a video frame by frame (Sec. 3.5 of the paper).

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
from .upscale import upscale_image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm")
# WebM holds only VP8/VP9/AV1 video; every other container here takes H.264.
VIDEO_CODECS = {".webm": "libvpx-vp9"}


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

    method: "bicubic", or an ESPCN, Ensemble or SelfEnsemble of scale r.
    The output is H.264 (VP9 for .webm), yuv420p, or yuv444p when a side is
    odd, which 4:2:0 cannot encode. It is video only: an audio track is not copied (a UserWarning
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
